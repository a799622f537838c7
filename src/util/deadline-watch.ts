/** Something with deadlines to check. */
export interface Watched {
  checkDeadlines(now: number): void;
  /** Where the watch holds it; -1 when it is not watched. Owned by DeadlineWatch. */
  watchIndex: number;
}

/** How often deadlines are checked: timeouts are whole seconds, so a quarter second is close enough. */
const TICK_MS = 250;

/**
 * Checks the deadlines of running requests (socket-timeout, request-timeout) on one shared
 * timer, instead of two timers per request: under load that is one tick for thousands of
 * requests rather than thousands of timers made and cancelled.
 *
 * The watched items are kept in an array, each knowing its index, rather than in a Set. Under
 * load a Set's table is rebuilt as requests come and go, and V8 links each replaced table to
 * its successor with the requests it held: once one of those tables had lived long enough to
 * be promoted, it kept the requests of the tables after it alive through every scavenge, so
 * about 70 KiB of finished requests per scavenge moved to the old generation and the heap grew
 * by 12 MiB between major collections. An array changes in place.
 */
export class DeadlineWatch {
  private readonly items: Watched[] = [];
  private timer: NodeJS.Timeout | null = null;

  get size(): number {
    return this.items.length;
  }

  add(item: Watched): void {
    if (item.watchIndex >= 0) return;
    item.watchIndex = this.items.length;
    this.items.push(item);
    if (this.timer === null) {
      this.timer = setInterval(() => this.tick(), TICK_MS);
      this.timer.unref();
    }
  }

  delete(item: Watched): void {
    const index = item.watchIndex;
    if (index < 0 || this.items[index] !== item) return;
    const last = this.items.pop()!;
    if (last !== item) {
      this.items[index] = last;
      last.watchIndex = index;
    }
    item.watchIndex = -1;
  }

  private tick(): void {
    if (this.items.length === 0) {
      clearInterval(this.timer!);
      this.timer = null;
      return;
    }
    const now = performance.now();
    // A copy: checking a deadline can end a request, which takes it out of the watch.
    for (const item of this.items.slice()) item.checkDeadlines(now);
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const item of this.items) item.watchIndex = -1;
    this.items.length = 0;
  }
}
