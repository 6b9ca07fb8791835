import type { Build } from "./build.js";
import type { BuildEvent } from "./lifecycle.js";
import { isActive } from "./lifecycle.js";
import type { Builder, BuilderDriver } from "./ports.js";

/** Ends a build unless it already ended (BuildEnds). */
interface Ends {
  endQuietly(build: Build, event: BuildEvent, reason: string): Promise<void>;
}

/**
 * Builders with no unfinished build behind them (their build ended while this process was down, or
 * a create failed before it recorded the build) are terminated once older than `graceMs`: a
 * builder made a moment ago may belong to a build not recorded yet.
 */
export async function terminateOrphans(
  driver: BuilderDriver,
  builders: Builder[],
  unfinished: Set<string>,
  now: number,
  graceMs: number,
): Promise<void> {
  for (const builder of builders) {
    if (!unfinished.has(builder.buildId) && now - builder.createdAt >= graceMs) {
      await driver.terminate(builder.builderId, builder.buildId);
    }
  }
}

/**
 * A builder the driver says crashed fails its build at once; one the driver no longer lists
 * does after `graceMs` (a driver's list may lag a builder it just made). A pending build's boot
 * owns its outcome (and has the driver's reason for a failure), so only booted builds are looked at.
 */
export async function failLostBuilders(
  ends: Ends,
  unfinished: Build[],
  builders: Builder[],
  now: number,
  graceMs: number,
): Promise<void> {
  const byId = new Map(builders.map((b) => [b.builderId, b]));
  for (const build of unfinished) {
    if (!isActive(build.state) || build.state === "pending" || build.builderId === null) continue;
    const builder = byId.get(build.builderId);
    if (builder?.state === "failed") {
      await ends.endQuietly(build, "fail", "builder-crashed: the builder stopped running");
    } else if (!builder && now - (build.startedAt ?? now) >= graceMs) {
      await ends.endQuietly(build, "fail", "builder-lost: the builder stopped running");
    }
  }
}
