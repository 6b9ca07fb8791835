import type { Clock } from "../../service/core/ports.js";

/** Time that moves only when a test says so. */
export class ManualClock implements Clock {
  constructor(private t: number) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}
