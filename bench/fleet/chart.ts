/**
 * A hand-rolled SVG of the sweep: p95 time to ready and idle pod-hours against the warm-pool size,
 * one line per idle TTL. No charting dependency for two panels of lines; coordinates are rounded
 * so that the same figures always give the same bytes.
 */
export interface ChartSeries {
  label: string;
  points: Array<{ pool: number; p95: number; podHours: number }>;
}

export interface ChartInput {
  title: string;
  pools: number[];
  series: ChartSeries[];
  /** The all-cold baseline's p95, drawn as a reference line. */
  baselineP95: number;
  /** A line under the panels (the default configuration's figures). */
  note: string;
}

const COLORS = ["#1b6ca8", "#d1495b", "#2e933c", "#edae49", "#6c4f9e", "#444444"];
const WIDTH = 960;
const HEIGHT = 460;
const PANEL = { top: 92, height: 290, width: 370, lefts: [70, 540] };

const n = (x: number) => (Math.round(x * 10) / 10).toString();
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function renderChart(input: ChartInput): string {
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(input.title)}</text>`,
  ];
  out.push(...legend(input.series));
  out.push(
    ...panel(PANEL.lefts[0]!, "p95 time to ready (s)", input, (p) => p.p95, {
      value: input.baselineP95,
      label: "baseline: pool 0, TTL 0 (all cold)",
    }),
  );
  out.push(...panel(PANEL.lefts[1]!, "idle + warm pod-hours per day", input, (p) => p.podHours));
  out.push(
    `<text x="${WIDTH / 2}" y="${HEIGHT - 12}" text-anchor="middle" fill="#444444">${esc(input.note)}</text>`,
  );
  out.push("</svg>", "");
  return out.join("\n");
}

function legend(series: ChartSeries[]): string[] {
  return series.flatMap((s, i) => {
    const x = 200 + i * 150;
    const color = COLORS[i % COLORS.length]!;
    return [
      `<line x1="${x}" y1="44" x2="${x + 24}" y2="44" stroke="${color}" stroke-width="2.5"/>`,
      `<circle cx="${x + 12}" cy="44" r="3.5" fill="${color}"/>`,
      `<text x="${x + 30}" y="48">${esc(s.label)}</text>`,
    ];
  });
}

function panel(
  left: number,
  title: string,
  input: ChartInput,
  value: (p: ChartSeries["points"][number]) => number,
  reference?: { value: number; label: string },
): string[] {
  const { top, height, width } = PANEL;
  const values = input.series.flatMap((s) => s.points.map(value));
  const ticks = niceTicks(Math.max(...values, reference?.value ?? 0));
  const yMax = ticks[ticks.length - 1]!;
  const y = (v: number) => top + height - (v / yMax) * height;
  const step = width / Math.max(1, input.pools.length - 1);
  const x = (pool: number) => left + input.pools.indexOf(pool) * step;
  const out = [
    `<text x="${left + width / 2}" y="${top - 10}" text-anchor="middle" font-weight="bold">${esc(title)}</text>`,
  ];
  for (const t of ticks) {
    out.push(
      `<line x1="${left}" y1="${n(y(t))}" x2="${left + width}" y2="${n(y(t))}" stroke="#e3e3e3"/>`,
      `<text x="${left - 6}" y="${n(y(t) + 4)}" text-anchor="end">${n(t)}</text>`,
    );
  }
  for (const pool of input.pools) {
    out.push(`<text x="${n(x(pool))}" y="${top + height + 18}" text-anchor="middle">${pool}</text>`);
  }
  out.push(
    `<text x="${left + width / 2}" y="${top + height + 38}" text-anchor="middle">warm pool per shape</text>`,
    `<line x1="${left}" y1="${top + height}" x2="${left + width}" y2="${top + height}" stroke="#888888"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + height}" stroke="#888888"/>`,
  );
  if (reference) {
    const ry = n(y(reference.value));
    out.push(
      `<line x1="${left}" y1="${ry}" x2="${left + width}" y2="${ry}" stroke="#888888" stroke-dasharray="5,4"/>`,
      `<text x="${left + width - 4}" y="${n(y(reference.value) - 5)}" text-anchor="end" fill="#666666">${esc(reference.label)}</text>`,
    );
  }
  input.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = s.points.map((p) => `${n(x(p.pool))},${n(y(value(p)))}`);
    out.push(`<polyline points="${pts.join(" ")}" fill="none" stroke="${color}" stroke-width="2.5"/>`);
    for (const p of s.points) {
      out.push(`<circle cx="${n(x(p.pool))}" cy="${n(y(value(p)))}" r="3.5" fill="${color}"/>`);
    }
  });
  return out;
}

/** 0 and four or five round steps (1, 2 or 5 × 10^k) up to at least `max`. */
export function niceTicks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let t = 0; t < max + step - 1e-9; t += step) ticks.push(Math.round(t / step) * step);
  return ticks;
}
