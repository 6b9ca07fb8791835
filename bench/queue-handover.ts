/**
 * Queue hand-over, read from a run's timestamps: how long a freed concurrency slot stays unused
 * before the build queued for it has it. Pure, so that bench/admission.ts and its test share it.
 */

/** A build taking a slot: `at` when it got it, `queued` whether it had waited in the queue for it. */
export interface SlotTake {
  at: number;
  queued: boolean;
}

/**
 * Pairs each slot taken with the release that freed it, in time order: a slot freed first is
 * taken first (the queue is FIFO, and a slot is a slot). `capacity` slots are free from the start.
 * Returns, for every queued build whose slot a release freed, the time from that release to the
 * take. A direct admission uses up a freed slot too, but is not a hand-over. At equal times a
 * release comes before a take.
 */
export function handOverTimes(capacity: number, releases: number[], takes: SlotTake[]): number[] {
  const events = [
    ...releases.map((at) => ({ at, release: true, queued: false })),
    ...takes.map((t) => ({ at: t.at, release: false, queued: t.queued })),
  ].sort((a, b) => a.at - b.at || Number(b.release) - Number(a.release));
  const freed: number[] = Array.from({ length: capacity }, () => Number.NEGATIVE_INFINITY);
  let next = 0;
  const times: number[] = [];
  for (const event of events) {
    if (event.release) {
      freed.push(event.at);
      continue;
    }
    const releasedAt = freed[next];
    if (releasedAt === undefined) continue; // a take with no slot free: clocks apart; not counted
    next++;
    if (event.queued && Number.isFinite(releasedAt)) times.push(event.at - releasedAt);
  }
  return times;
}

/** A queued build: when the service recorded it, when its client had the answer, when it got its slot. */
export interface QueuedBuild {
  /** The service's createdAt: taken before it signs the certificate and joins the queue. */
  createdAt: number;
  /** When its POST was answered: it had joined the queue by then. */
  answeredAt: number;
  admittedAt: number;
}

/**
 * Queued builds admitted ahead of one that certainly joined the queue before them: B's POST was
 * answered before A's was even recorded, yet A got its slot first. Arrivals that overlap are not
 * counted, since either may have joined the queue first. All times on one clock (epoch ms).
 */
export function fifoInversions(queued: QueuedBuild[]): number {
  return queued.filter((a) => queued.some((b) => b.answeredAt < a.createdAt && b.admittedAt > a.admittedAt))
    .length;
}
