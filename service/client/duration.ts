/**
 * A duration as people write it for a CI step: whole seconds ("90"), or with a unit ("90s", "10m",
 * "1h"). The CLI's flags and the Action's inputs read every duration through this one function, so
 * both accept and refuse the same things; `what` names the flag or input in the error.
 */
export function parseDuration(what: string, value: string): number {
  const match = /^(\d+)\s*(s|m|h)?$/.exec(value.trim());
  const seconds = match ? Number(match[1]) * UNIT_SECONDS[match[2] ?? "s"]! : NaN;
  if (!Number.isSafeInteger(seconds)) {
    throw new Error(`${what} is a duration like "90" or "90s" (seconds), "10m" or "1h"; got "${value}"`);
  }
  return seconds;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600 };
