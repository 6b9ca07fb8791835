import type { Build, BuildPatch } from "./build.js";
import type { BuildEvents } from "./build-events.js";
import type { LedgerEntry } from "./ledger.js";
import { type BuildEvent, changeOf, isTerminal } from "./lifecycle.js";
import type { BuildStore } from "./ports.js";

export interface TransitionDeps {
  builds: BuildStore;
  events: BuildEvents;
}

/**
 * The one way a build's state changes (DESIGN.md: "every transition is one function"): `event`
 * goes through the lifecycle table from the state the build was read in, as a compare-and-set on
 * that state. An ending also appends `entry`, the build's ledger row, in the same statement.
 *
 * Throws IllegalTransitionError when the table refuses the event; null when another writer moved
 * the build first. Long polls in this process wake on every change it makes.
 */
export async function applyEvent(
  { builds, events }: TransitionDeps,
  build: Pick<Build, "id" | "state">,
  event: BuildEvent,
  patch: BuildPatch,
  entry: LedgerEntry | null = null,
): Promise<Build | null> {
  const change = changeOf(build.state, event);
  const moved = isTerminal(change.to)
    ? await builds.finish(build.id, change, patch, entry)
    : await builds.transition(build.id, change, patch);
  if (moved) events.changed(build.id, moved.accountId);
  return moved;
}
