import { Deque } from '../util/deque';
import type { ThreadSlot } from './thread-slot';

/** A request waiting for, or given, a worker thread. */
export interface Dispatchable {
  /** Runs the request on `slot`. */
  begin(slot: ThreadSlot): void;
  /** It waited longer than queue-timeout; it is no longer queued. */
  queueTimedOut(): void;
  /** True once the request no longer wants a thread (its client left while it was queued). */
  readonly withdrawn: boolean;
  /** performance.now() when it was queued. */
  queuedAt: number;
}

/** The free threads of one process, as the dispatcher sees them. */
export interface SlotPool {
  readonly free: ThreadSlot[];
  /** False while the process is starting or stopping: its threads get no requests. */
  readonly accepting: boolean;
  /** Requests running in the process now. */
  readonly active: number;
}

/**
 * Gives each request a free worker thread, or queues it in arrival order until one is free.
 * Among processes with a free thread it picks the one running the fewest requests, so work
 * spreads across processes (and their GILs) before it doubles up within one.
 */
export class Dispatcher {
  private readonly queue = new Deque<Dispatchable>();
  private readonly pools: SlotPool[] = [];
  private timer: NodeJS.Timeout | null = null;
  private withdrawnInQueue = 0;
  /** Where the next search for a free thread starts, so idle processes take turns. */
  private cursor = 0;

  constructor(private readonly queueTimeoutMs: number) {}

  /** Requests waiting for a thread. */
  get queued(): number {
    return this.queue.length - this.withdrawnInQueue;
  }

  addPool(pool: SlotPool): void {
    this.pools.push(pool);
  }

  removePool(pool: SlotPool): void {
    const at = this.pools.indexOf(pool);
    if (at >= 0) this.pools.splice(at, 1);
  }

  submit(item: Dispatchable): void {
    item.queuedAt = performance.now();
    if (this.queue.length === 0) {
      const slot = this.takeFreeSlot();
      if (slot !== null) {
        item.begin(slot);
        return;
      }
    }
    this.queue.push(item);
    this.armTimer();
  }

  /**
   * Puts a request back at the head of the queue: it was given a thread whose process turned out
   * to be out of date, and it keeps its place in line.
   */
  resubmit(item: Dispatchable): void {
    this.queue.unshift(item);
    this.armTimer();
    this.pump();
  }

  /** A queued item's client left: it will be skipped when its turn comes. */
  noteWithdrawn(): void {
    this.withdrawnInQueue++;
  }

  /**
   * Offers free threads to queued requests. Called whenever a thread becomes free or a process
   * starts accepting.
   */
  pump(): void {
    while (this.queue.length > 0) {
      const head = this.queue.peek()!;
      if (head.withdrawn) {
        this.queue.shift();
        this.withdrawnInQueue--;
        continue;
      }
      const slot = this.takeFreeSlot();
      if (slot === null) return;
      this.queue.shift();
      head.begin(slot);
    }
  }

  /** Answers every queued request (used when the server stops without a thread for them). */
  drain(answer: (item: Dispatchable) => void): void {
    for (let item = this.queue.shift(); item !== undefined; item = this.queue.shift()) {
      if (!item.withdrawn) answer(item);
    }
    this.withdrawnInQueue = 0;
  }

  private takeFreeSlot(): ThreadSlot | null {
    const pools = this.pools;
    const count = pools.length;
    let best: SlotPool | null = null;
    let bestAt = 0;
    for (let n = 0; n < count; n++) {
      const at = (this.cursor + n) % count;
      const pool = pools[at]!;
      if (!pool.accepting || pool.free.length === 0) continue;
      if (best === null || pool.active < best.active) {
        best = pool;
        bestAt = at;
      }
    }
    if (best === null) return null;
    this.cursor = (bestAt + 1) % count;
    return best.free.pop()!;
  }

  private armTimer(): void {
    if (this.timer !== null || this.queueTimeoutMs <= 0) return;
    const head = this.queue.peek();
    if (head === undefined) return;
    const delay = Math.max(0, head.queuedAt + this.queueTimeoutMs - performance.now());
    this.timer = setTimeout(() => this.expire(), delay);
  }

  private expire(): void {
    this.timer = null;
    const now = performance.now();
    while (this.queue.length > 0) {
      const head = this.queue.peek()!;
      if (head.withdrawn) {
        this.queue.shift();
        this.withdrawnInQueue--;
        continue;
      }
      if (head.queuedAt + this.queueTimeoutMs > now) break;
      this.queue.shift();
      head.queueTimedOut();
    }
    this.armTimer();
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
