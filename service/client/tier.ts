/** Which placement served a build, in the words the job summary and the CLI print. */
export function tierLine(build: {
  tier: "idle" | "warm" | "cold" | null;
  prewarmed: boolean;
}): string | null {
  if (build.tier === null) return null;
  // Still the idle tier (the account's own builder, its volume attached), only started earlier.
  return build.prewarmed ? "idle, prewarmed (started when the CI queued the job)" : build.tier;
}
