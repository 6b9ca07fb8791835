/** The dashboard's rows, as the server renders them and the page's script receives them. Types only. */
import type { BuildInsights } from "./build-insights.js";

export interface BuildRow {
  id: string;
  state: string;
  shape: string;
  tier: string | null;
  /** The idle builder it took was started on its CI's job-queued hook. */
  prewarmed: boolean;
  createdAt: number;
  /** From admission (or the queue's end) to ready, ms; null until ready. */
  timeToReadyMs: number | null;
  /** Time spent queued for a slot or the cache, ms; null while still queued. */
  queueWaitMs: number | null;
  /** From ready to the end (or now, while running), ms; null until ready. */
  durationMs: number | null;
  /** Bytes the broker carried both ways; null when none were recorded. */
  brokerBytes: number | null;
  result: string | null;
  endReason: string | null;
  repository: string | null;
  ref: string | null;
  /** Build insights (BuildKit history), once the service has read them. */
  insights: BuildInsights | null;
}

export interface VolumeRow {
  name: string;
  sizeGiB: number;
  location: string | null;
  lastUsedAt: number;
}

export interface DashboardUsage {
  from: number;
  to: number;
  days: Array<{ day: string; buildMinutes: number; storageGiBHours: number }>;
  buildMinutes: number;
  quotaMinutes: number;
  storageGiBHours: number;
}
