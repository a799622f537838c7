import { Deque } from '../util/deque';
import { goesAheadSooner, type ThreadSlot } from './thread-slot';

/** A request waiting for, or given, a worker thread. */
export interface Dispatchable {
  /** Runs the request on `slot`. */
  begin(slot: ThreadSlot): void;
  /** It waited longer than queue-timeout; it is no longer queued. */
  queueTimedOut(): void;
  /** No interpreter for its application group could be started; it is no longer queued. */
  interpreterUnavailable(why: string): void;
  /** True once the request no longer wants a thread (its client left while it was queued). */
  readonly withdrawn: boolean;
  /** performance.now() when it was queued. */
  queuedAt: number;
  /** The application group it runs in: '' is the main interpreter (%{GLOBAL}). */
  readonly applicationGroup: string;
  /** Whether it may be sent to a busy thread ahead of time (no body, or a small one held in memory). */
  readonly canRunAhead: boolean;
  /** Sends it to `slot`, busy with another request, to run as soon as that one is over. */
  beginAhead?(slot: ThreadSlot): void;
}

/** A daemon process, as the dispatcher sees it. */
export interface ProcessSlots {
  /** False while the process is starting or stopping: none of its threads get requests. */
  readonly accepting: boolean;
  /** Requests running in the process now, across its interpreters. */
  readonly active: number;
  /** Whether it runs fewer requests than it has threads (its limit across interpreters). */
  readonly spareThreads: boolean;
  /** Asks the process to start the interpreter of `applicationGroup`; it joins through addPool. */
  createInterpreter(applicationGroup: string): void;
}

/** The free threads of one interpreter of one process, as the dispatcher sees them. */
export interface SlotPool {
  readonly free: ThreadSlot[];
  /** Whether a request can start here now: the interpreter is ready and its process has a thread to spare. */
  readonly accepting: boolean;
  /** Requests running in its process now. */
  readonly active: number;
  /** The interpreter is still being started. */
  readonly creating: boolean;
  readonly applicationGroup: string;
  readonly process: ProcessSlots;
  /**
   * A busy thread that can take a request ahead of time (ThreadSlot.canTakeAhead), the one with
   * the fewest waiting ahead, then the one whose current request started first; null if none can.
   */
  aheadSlot(now: number, maxRunMs: number): ThreadSlot | null;
}

/** The requests of one application group and the interpreters that can run them. */
class Lane {
  readonly queue = new Deque<Dispatchable>();
  readonly pools: SlotPool[] = [];
  /** Where the next search for a free thread starts, so idle processes take turns. */
  cursor = 0;
  constructor(readonly name: string) {}
}

/**
 * Gives each request a free worker thread of its application group's interpreter, or queues it
 * in arrival order until one is free. Among processes with a free thread it picks the one running
 * the fewest requests, so work spreads across processes (and their GILs) before it doubles up
 * within one. A process runs at most `threads` requests at once across all its interpreters, as
 * a mod_wsgi daemon process does.
 *
 * An application group with no interpreter able to take its request gets one started in a process
 * with a thread to spare (one at a time per group), so interpreters are created where requests
 * need them, lazily, as mod_wsgi creates them.
 */
export class Dispatcher {
  private readonly main = new Lane('');
  private readonly lanes = new Map<string, Lane>([['', this.main]]);
  private readonly processes: ProcessSlots[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** Queued items, withdrawn ones included, and how many of those are withdrawn. */
  private waiting = 0;
  private withdrawnInQueue = 0;
  /** Requests sent to a busy thread ahead of time, since the group started (status page). */
  sentAhead = 0;

  constructor(
    private readonly queueTimeoutMs: number,
    /**
     * send-ahead: a request that finds every thread busy may be sent to a thread whose requests
     * run shorter than this (ms), to run the moment the ones before it end instead of after a round
     * trip through the front end; 0 never.
     */
    private readonly sendAheadMs = 0,
  ) {}

  /** Requests waiting for a thread. */
  get queued(): number {
    return this.waiting - this.withdrawnInQueue;
  }

  addProcess(process: ProcessSlots): void {
    this.processes.push(process);
  }

  removeProcess(process: ProcessSlots): void {
    const at = this.processes.indexOf(process);
    if (at >= 0) this.processes.splice(at, 1);
    for (const lane of this.lanes.values()) {
      for (let i = lane.pools.length - 1; i >= 0; i--) if (lane.pools[i]!.process === process) lane.pools.splice(i, 1);
    }
  }

  addPool(pool: SlotPool): void {
    this.laneFor(pool.applicationGroup).pools.push(pool);
  }

  removePool(pool: SlotPool): void {
    const lane = this.lanes.get(pool.applicationGroup);
    if (lane === undefined) return;
    const at = lane.pools.indexOf(pool);
    if (at >= 0) lane.pools.splice(at, 1);
  }

  submit(item: Dispatchable): void {
    item.queuedAt = performance.now();
    const lane = item.applicationGroup === '' ? this.main : this.laneFor(item.applicationGroup);
    if (lane.queue.length === 0) {
      const slot = this.takeFreeSlot(lane);
      if (slot !== null) {
        item.begin(slot);
        return;
      }
      // Every thread of its interpreters is busy: another process may start one for its group
      // (provide) even if a busy thread takes this request ahead.
      if (lane !== this.main) this.provide(lane);
      const ahead = this.aheadSlot(lane, item);
      if (ahead !== null) {
        this.beginAhead(item, ahead);
        return;
      }
    }
    lane.queue.push(item);
    this.waiting++;
    this.armTimer();
    if (lane !== this.main) this.provide(lane);
  }

  /**
   * Puts a request back at the head of its queue: it was given a thread whose process turned out
   * to be out of date, and it keeps its place in line.
   */
  resubmit(item: Dispatchable): void {
    const lane = this.laneFor(item.applicationGroup);
    lane.queue.unshift(item);
    this.waiting++;
    this.armTimer();
    this.pump();
  }

  /** A queued item's client left: it will be skipped when its turn comes. */
  noteWithdrawn(): void {
    this.withdrawnInQueue++;
  }

  /**
   * Offers free threads to queued requests, oldest first across application groups (and, where
   * no thread of a group is free, a busy thread that can take its oldest request ahead). Called
   * whenever a thread becomes free or can take a request ahead again, or a process or
   * interpreter starts accepting.
   */
  pump(): void {
    if (this.waiting === 0) return;
    if (this.lanes.size === 1) {
      this.pumpLane(this.main);
      return;
    }
    for (;;) {
      let best: Lane | null = null;
      let bestAt = 0;
      let bestAhead: ThreadSlot | null = null;
      for (const lane of this.lanes.values()) {
        const head = this.headOf(lane);
        if (head === undefined || (best !== null && head.queuedAt >= bestAt)) continue;
        let ahead: ThreadSlot | null = null;
        if (this.findFreePool(lane) < 0) {
          if (lane !== this.main) this.provide(lane);
          ahead = this.aheadSlot(lane, head);
          if (ahead === null) continue;
        }
        best = lane;
        bestAt = head.queuedAt;
        bestAhead = ahead;
      }
      if (best === null) return;
      const item = best.queue.shift()!;
      this.waiting--;
      if (bestAhead !== null) this.beginAhead(item, bestAhead);
      else item.begin(this.takeFreeSlot(best)!);
    }
  }

  /**
   * The interpreter behind `pool` could not be started (or has gone). Its requests wait for
   * another interpreter of their group if there is one; otherwise they get `why` as their answer.
   */
  interpreterFailed(pool: SlotPool, why: string): void {
    this.removePool(pool);
    const lane = this.lanes.get(pool.applicationGroup);
    if (lane === undefined || lane === this.main) return;
    if (lane.pools.length > 0) {
      this.pump();
      return;
    }
    for (let item = lane.queue.shift(); item !== undefined; item = lane.queue.shift()) {
      this.waiting--;
      if (item.withdrawn) this.withdrawnInQueue--;
      else item.interpreterUnavailable(why);
    }
    this.lanes.delete(lane.name);
  }

  /** Answers every queued request (used when the server stops without a thread for them). */
  drain(answer: (item: Dispatchable) => void): void {
    for (const lane of this.lanes.values()) {
      for (let item = lane.queue.shift(); item !== undefined; item = lane.queue.shift()) {
        if (!item.withdrawn) answer(item);
      }
    }
    this.waiting = 0;
    this.withdrawnInQueue = 0;
  }

  private laneFor(name: string): Lane {
    let lane = this.lanes.get(name);
    if (lane === undefined) {
      lane = new Lane(name);
      this.lanes.set(name, lane);
    }
    return lane;
  }

  /** The lane's first queued request that still wants a thread (withdrawn ones are dropped). */
  private headOf(lane: Lane): Dispatchable | undefined {
    for (;;) {
      const head = lane.queue.peek();
      if (head === undefined || !head.withdrawn) return head;
      lane.queue.shift();
      this.waiting--;
      this.withdrawnInQueue--;
    }
  }

  private pumpLane(lane: Lane): void {
    for (;;) {
      const head = this.headOf(lane);
      if (head === undefined) return;
      const slot = this.takeFreeSlot(lane);
      // In arrival order: if the oldest can neither start nor go ahead, none behind it does.
      const ahead = slot === null ? this.aheadSlot(lane, head) : null;
      if (slot === null && ahead === null) return;
      lane.queue.shift();
      this.waiting--;
      if (slot !== null) head.begin(slot);
      else this.beginAhead(head, ahead!);
    }
  }

  /**
   * A busy thread of the lane's interpreters that can take `item` ahead of time (when no thread
   * is free): the one whose current request started first. Null if none can, or `item` cannot
   * go ahead.
   */
  private aheadSlot(lane: Lane, item: Dispatchable): ThreadSlot | null {
    if (this.sendAheadMs <= 0 || !item.canRunAhead || item.beginAhead === undefined) return null;
    const now = performance.now();
    let best: ThreadSlot | null = null;
    for (const pool of lane.pools) {
      // The pool answers null unless its interpreter and process are ready.
      const slot = pool.aheadSlot(now, this.sendAheadMs);
      if (slot !== null && (best === null || goesAheadSooner(slot, best))) best = slot;
    }
    return best;
  }

  private beginAhead(item: Dispatchable, slot: ThreadSlot): void {
    this.sentAhead++;
    item.beginAhead!(slot);
  }

  /** Index in lane.pools of the pool to take a thread from, or -1. */
  private findFreePool(lane: Lane): number {
    const pools = lane.pools;
    const count = pools.length;
    let best: SlotPool | null = null;
    let bestAt = -1;
    for (let n = 0; n < count; n++) {
      const at = (lane.cursor + n) % count;
      const pool = pools[at]!;
      if (pool.free.length === 0 || !pool.accepting) continue;
      if (best === null || pool.active < best.active) {
        best = pool;
        bestAt = at;
      }
    }
    return bestAt;
  }

  private takeFreeSlot(lane: Lane): ThreadSlot | null {
    const at = this.findFreePool(lane);
    if (at < 0) return null;
    lane.cursor = (at + 1) % lane.pools.length;
    return lane.pools[at]!.free.pop()!;
  }

  /**
   * Starts an interpreter for the lane's application group in a process that has none and has a
   * thread to spare (the least busy), unless one is being started already.
   */
  private provide(lane: Lane): void {
    const pools = lane.pools;
    // One start at a time per group (a process that stopped accepting will not serve it anyway).
    for (const pool of pools) if (pool.creating && pool.process.accepting) return;
    let best: ProcessSlots | null = null;
    for (const process of this.processes) {
      if (!process.accepting || !process.spareThreads || (best !== null && process.active >= best.active)) continue;
      if (pools.some((pool) => pool.process === process)) continue;
      best = process;
    }
    best?.createInterpreter(lane.name);
  }

  private armTimer(): void {
    if (this.timer !== null || this.queueTimeoutMs <= 0) return;
    let oldest = Infinity;
    for (const lane of this.lanes.values()) {
      const head = lane.queue.peek();
      if (head !== undefined && head.queuedAt < oldest) oldest = head.queuedAt;
    }
    if (oldest === Infinity) return;
    const delay = Math.max(0, oldest + this.queueTimeoutMs - performance.now());
    this.timer = setTimeout(() => this.expire(), delay);
  }

  private expire(): void {
    this.timer = null;
    const now = performance.now();
    for (const lane of this.lanes.values()) {
      for (;;) {
        const head = this.headOf(lane);
        if (head === undefined || head.queuedAt + this.queueTimeoutMs > now) break;
        lane.queue.shift();
        this.waiting--;
        head.queueTimedOut();
      }
    }
    this.armTimer();
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
