/**
 * Durations and sizes for people, as the job summary, the CLI and the dashboard write them. No
 * Node and no DOM: the dashboard's page script uses them too.
 */

/** "12.4 s" under a minute, then "3 min 5 s". */
export function seconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

/** "512 B", "1.5 MiB": binary units, one decimal. */
export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}
