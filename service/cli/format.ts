/** Small pieces of the human output: aligned columns, durations, times. */

/** Rows under a header, each column as wide as its widest cell, two spaces apart. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (row: string[]) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [header, ...rows].map(line).join("\n");
}

/** Labelled lines, the values lined up: `state     ready`. Pairs without a value are left out. */
export function fields(pairs: Array<[string, string | null | undefined]>): string {
  const shown = pairs.filter((pair): pair is [string, string] => pair[1] != null && pair[1] !== "");
  const width = Math.max(...shown.map(([label]) => label.length));
  return shown.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join("\n");
}

/** Seconds as people read them: "4.2 s", "12m 05s", "1h 02m". */
export function duration(seconds: number): string {
  if (seconds < 59.95) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${String(Math.floor(seconds % 60)).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
}

/** Seconds from one ISO time to another (or to now). */
export const secondsBetween = (from: string, to: string | null, now = Date.now()): number =>
  ((to === null ? now : Date.parse(to)) - Date.parse(from)) / 1000;

/** An ISO time to the minute, in UTC: "2030-01-01 00:00 UTC". */
export const minute = (iso: string | null): string =>
  iso === null ? "-" : `${new Date(iso).toISOString().slice(0, 16).replace("T", " ")} UTC`;

/** A list, or what its absence means. */
export const listOr = (values: string[] | null, none: string): string =>
  values === null || values.length === 0 ? none : values.join(", ");
