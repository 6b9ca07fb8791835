import type { Usage } from "./ports.js";

export interface Prices {
  currency: string;
  /** Price of one build minute, per shape. */
  buildMinute: Record<string, number>;
  storageGiBHour: number;
}

export interface CostLine {
  item: string;
  quantity: number;
  unit: "minutes" | "gib-hours";
  unitPrice: number;
  amount: number;
}

export interface UsageReport {
  buildMinutesByShape: Record<string, number>;
  buildMinutes: number;
  storageGiBHours: number;
  costs: { currency: string; lines: CostLine[]; total: number } | null;
}

const round = (n: number, places: number) => Math.round(n * 10 ** places) / 10 ** places;

/** Usage in the units customers read (minutes, GiB-hours) and, when prices are set, what it costs. */
export function usageReport(usage: Usage, prices: Prices | null): UsageReport {
  const buildMinutesByShape = Object.fromEntries(
    Object.entries(usage.buildSecondsByShape).map(([shape, s]) => [shape, round(s / 60, 3)]),
  );
  const buildMinutes = round(Object.values(usage.buildSecondsByShape).reduce((a, s) => a + s, 0) / 60, 3);
  const storageGiBHours = round(usage.storageGiBHours, 3);
  if (!prices) return { buildMinutesByShape, buildMinutes, storageGiBHours, costs: null };
  const lines: CostLine[] = Object.entries(buildMinutesByShape).map(([shape, minutes]) => {
    const unitPrice = prices.buildMinute[shape] ?? 0;
    return {
      item: `build minutes (${shape})`,
      quantity: minutes,
      unit: "minutes",
      unitPrice,
      amount: round(minutes * unitPrice, 6),
    };
  });
  lines.push({
    item: "cache storage",
    quantity: storageGiBHours,
    unit: "gib-hours",
    unitPrice: prices.storageGiBHour,
    amount: round(storageGiBHours * prices.storageGiBHour, 6),
  });
  const total = round(
    lines.reduce((a, l) => a + l.amount, 0),
    6,
  );
  return {
    buildMinutesByShape,
    buildMinutes,
    storageGiBHours,
    costs: { currency: prices.currency, lines, total },
  };
}
