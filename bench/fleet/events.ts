/**
 * The simulation's clock: a binary min-heap of events by time. Events at the same time come out in
 * the order they were scheduled, so a run never depends on how the heap breaks ties.
 */
export class EventQueue<E> {
  private readonly items: Array<{ at: number; seq: number; event: E }> = [];
  private seq = 0;

  get size(): number {
    return this.items.length;
  }

  push(at: number, event: E): void {
    const items = this.items;
    items.push({ at, seq: this.seq++, event });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): { at: number; event: E } | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    items[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < items.length && this.before(left, least)) least = left;
      if (right < items.length && this.before(right, least)) least = right;
      if (least === i) break;
      [items[i], items[least]] = [items[least]!, items[i]!];
      i = least;
    }
    return top;
  }

  private before(i: number, j: number): boolean {
    const a = this.items[i]!;
    const b = this.items[j]!;
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
}
