/**
 * The service's build store, as pre-warming reads it: each account's builds per repository, in the
 * order they were requested. Builds older than the window asked for are dropped as time passes
 * (decidePrewarm would ignore them anyway), so that a decision reads only what it counts.
 */
import type { PastBuild } from "../../service/core/prewarm-policy.js";

export class BuildHistory {
  private readonly lists = new Map<string, PastBuild[]>();

  /** `prior`: builds before the simulation, oldest first. */
  constructor(prior: Array<{ account: number; repository: number; build: PastBuild }>) {
    for (const p of prior) this.add(p.account, p.repository, p.build);
  }

  /** Builds must come in the order they were requested. */
  add(account: number, repository: number, build: PastBuild): void {
    const key = `${account}/${repository}`;
    const list = this.lists.get(key);
    if (list) list.push(build);
    else this.lists.set(key, [build]);
  }

  /** The repository's builds requested in the last `days` before `nowMs`. */
  of(account: number, repository: number, nowMs: number, days: number): PastBuild[] {
    const list = this.lists.get(`${account}/${repository}`);
    if (!list) return [];
    const since = nowMs - days * 86_400_000;
    let stale = 0;
    while (stale < list.length && list[stale]!.createdAt < since) stale++;
    if (stale > 0) list.splice(0, stale);
    return list;
  }
}
