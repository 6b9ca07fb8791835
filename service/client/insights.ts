/** Waiting for a build's insights, which the service reads once the build has ended. */
import { setTimeout as sleep } from "node:timers/promises";
import type { ApiClient, Build } from "./api-client.js";

export type Insights = NonNullable<Build["insights"]>;

/** The service reads them once the build ended, if its builder came up: not yet, here. */
export function insightsPending(build: Build): boolean {
  return build.insights === null && build.endedAt !== null && build.readyAt !== null;
}

/**
 * The build again once its insights are read, or as it is when they do not come within
 * `timeoutMs` (the service gives up on a builder's history sooner, and says so in them).
 */
export async function withInsights(
  client: Pick<ApiClient, "getBuild">,
  build: Build,
  timeoutMs = 12_000,
  pollMs = 500,
): Promise<Build> {
  const deadline = Date.now() + timeoutMs;
  let current = build;
  while (insightsPending(current) && Date.now() < deadline) {
    await sleep(pollMs);
    current = await client.getBuild(build.id).catch(() => current);
  }
  return current;
}
