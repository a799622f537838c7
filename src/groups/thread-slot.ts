import type * as net from 'node:net';
import { encodeFrame, ToWorker } from '../protocol/frames';
import type { ResponseRegion } from './response-region';
import { RegionReleases } from './region-releases';

const REGION_RELEASED_FRAME = encodeFrame(ToWorker.RegionReleased);
const REGION_ACCEPTED_FRAME = encodeFrame(ToWorker.RegionAccepted);

/**
 * Where a thread's average run time starts (ms): above send-ahead's default of 2 ms, so a thread
 * takes requests ahead only once a few short requests have brought it down.
 */
const RUN_MS_START = 4;
/**
 * A thread that has lately run a request this many times longer than the send-ahead limit takes
 * none ahead: its application has long requests (a report, a stream, a long poll), and a request
 * sent ahead could wait behind the next one.
 */
const LONG_RUN_FACTOR = 20;
/** How fast the longest recent run is forgotten: it halves every this many ms. */
const LONG_RUN_HALF_LIFE_MS = 10_000;
/**
 * The most requests waiting ahead in one thread. With several waiting, the thread reads them in
 * one go and never sleeps between them, and the front end writes them in batches. On the
 * development machine (2 processes of 1 thread, 32 connections, alternated rounds) eight against
 * one gave hello about 1.27x the req/s and Flask 1.40x; each step from one to eight helped, and
 * sixteen did worse than eight on hello.
 */
export const MAX_AHEAD = 8;

/**
 * How many requests may wait ahead in a thread whose requests take `runMs` on average: one, and
 * more only while all of them would, at that average, have started within the send-ahead limit
 * `maxRunMs`, at most MAX_AHEAD. A request sent ahead cannot move to another thread that frees
 * up first, so the wait it can take on is bounded by the same limit as the first one's.
 */
export function aheadRoom(runMs: number, maxRunMs: number): number {
  if (!(runMs > 0)) return MAX_AHEAD;
  return Math.max(1, Math.min(MAX_AHEAD, Math.ceil(maxRunMs / runMs) - 1));
}

/**
 * Of two busy threads that can both take a request ahead, whether `a` is the better one: the one
 * with fewer requests already waiting in it, then the one whose current request started first.
 */
export function goesAheadSooner(a: ThreadSlot, b: ThreadSlot): boolean {
  const waiting = a.aheadCount - b.aheadCount;
  return waiting !== 0 ? waiting < 0 : a.since < b.since;
}

/** What runs on a slot: the front-end half of one request. */
export interface SlotTenant {
  onFrame(type: number, payload: Buffer): void;
  /** The connection is gone (the process died, or it was cut); the tenant must finish at once. */
  onSlotLost(reason: string): void;
  /** The connection can take more bytes after a write returned false. */
  onSlotDrain(): void;
  /** What the request is doing, for the status page. */
  activity?(): ThreadActivity;
  /**
   * The whole request stream (head, body, BodyEnd) has been written to the slot: another head
   * written now cannot land inside it.
   */
  readonly requestSent: boolean;
}

/**
 * A request whose head went to a busy thread ahead of time (ThreadSlot.assignAhead): the worker
 * reads it the moment its current request is over, without waiting for the front end.
 */
export interface AheadTenant extends SlotTenant {
  /** The thread's previous request is over: this one is running now. */
  promote(slot: ThreadSlot): void;
  /** The connection was lost before the thread got to it: it never ran and may run elsewhere. */
  aheadLost(): void;
}

/** What a busy thread is doing, as the status page shows it. */
export interface ThreadActivity {
  method: string;
  url: string;
  client: string;
  requestId: string;
  /** performance.now() when the request got the thread. */
  since: number;
  /** The request body is still arriving from the client. */
  reading: boolean;
}

export interface SlotOwner {
  /** The request running on `slot` is done with it. */
  release(slot: ThreadSlot): void;
  /** The connection closed; `tenant` is the request that was running on it, if any. */
  slotClosed(slot: ThreadSlot, tenant: SlotTenant | null, reason: string | null): void;
  unexpectedFrame(slot: ThreadSlot, type: number): void;
  /** A request found the process's code out of date. */
  codeIsStale(): void;
  /** A request starts (for inactivity-timeout). */
  touch(): void;
  interrupt(thread: number): void;
  dumpStacks(why: string): void;
  readonly pid: number;
}

/**
 * One worker thread's connection. A slot runs at most one request at a time; the worker thread
 * behind it is free exactly when the slot has no tenant.
 */
export class ThreadSlot {
  private tenant: SlotTenant | null = null;
  /** Requests whose heads are in the thread's socket behind the tenant's, oldest first. */
  private ahead: AheadTenant[] = [];
  private lossReason: string | null = null;
  /** performance.now() when the tenant got the thread. */
  private tenantSince = 0;
  /**
   * A moving average of how long this thread's requests run (ms), from assignment to release.
   * It starts high, so a thread takes requests ahead only once it has shown its requests are short.
   */
  private runMs = RUN_MS_START;
  /**
   * The longest recent run (ms), decaying with LONG_RUN_HALF_LIFE_MS, and when it was set. A
   * thread's first request is left out: it is usually the one that loads the application.
   */
  private longestRunMs = 0;
  private longestRunAt = 0;
  private runs = 0;
  private readonly releases = new RegionReleases((count) => this.sendReleases(count));

  constructor(
    private readonly owner: SlotOwner,
    private readonly socket: net.Socket,
    /** The thread's index within its process (0-based). */
    readonly thread: number,
    /** The thread's native id, for log lines. */
    readonly tid: number,
    /** Where the thread leaves large response pieces, if the front end could open it. */
    readonly region: ResponseRegion | null = null,
  ) {
    if (region !== null) socket.write(REGION_ACCEPTED_FRAME);
    socket.on('drain', () => this.tenant?.onSlotDrain());
    socket.on('error', (err) => {
      this.lossReason ??= err.message;
    });
    socket.on('close', () => {
      region?.close();
      const tenant = this.tenant;
      const ahead = this.ahead;
      this.tenant = null;
      this.ahead = [];
      this.owner.slotClosed(this, tenant, this.lossReason);
      // Each goes back to the head of the queue: the newest first, so the oldest ends up first.
      for (let i = ahead.length - 1; i >= 0; i--) ahead[i]!.aheadLost();
    });
  }

  get busy(): boolean {
    return this.tenant !== null;
  }

  /** The request running on this thread, if any (for the status page). */
  get occupant(): SlotTenant | null {
    return this.tenant;
  }

  get closed(): boolean {
    return this.socket.destroyed;
  }

  /** Gives the slot to a request. */
  assign(tenant: SlotTenant): void {
    if (this.tenant !== null) throw new Error('internal error: slot assigned while busy');
    this.tenant = tenant;
    this.tenantSince = performance.now();
    this.owner.touch();
  }

  /** performance.now() when the current tenant got the thread. */
  get since(): number {
    return this.tenantSince;
  }

  /**
   * Whether a request may be sent to this busy thread ahead of time, to run as soon as its current
   * one ends. What that saves is the front end's turnaround between two requests (tens of
   * microseconds), so it is done only where it cannot cost much: the current request has been
   * sent whole, this thread's requests have been running under `maxRunMs` on average, none of
   * them lately ran LONG_RUN_FACTOR times longer, and the current one has not run longer than
   * `maxRunMs`; and fewer requests wait ahead in it than aheadRoom allows. A request sent ahead
   * waits for the ones before it even if another thread frees up first.
   */
  canTakeAhead(now: number, maxRunMs: number): boolean {
    const tenant = this.tenant;
    return (
      tenant !== null && this.ahead.length < aheadRoom(this.runMs, maxRunMs) && tenant.requestSent && this.runMs < maxRunMs &&
      now - this.tenantSince < maxRunMs && this.hadNoLongRun(now, LONG_RUN_FACTOR * maxRunMs) && !this.socket.destroyed
    );
  }

  /** Whether no recent run, as it fades, is still `limitMs` or longer (the fading, a power, is only computed when it could matter: this is asked on every dispatch). */
  private hadNoLongRun(now: number, limitMs: number): boolean {
    return this.longestRunMs < limitMs || this.longestRecentRun(now) < limitMs;
  }

  private longestRecentRun(now: number): number {
    return this.longestRunMs === 0 ? 0 : this.longestRunMs * 2 ** (-(now - this.longestRunAt) / LONG_RUN_HALF_LIFE_MS);
  }

  /** Queues `next` behind the tenant; its head must be written (by the caller) right after. */
  assignAhead(next: AheadTenant): void {
    if (this.tenant === null || this.ahead.length >= MAX_AHEAD) throw new Error('internal error: request sent ahead to a thread that cannot take it');
    this.ahead.push(next);
  }

  /** Whether a request is waiting behind the tenant (its releases of shared pieces must then be explicit). */
  get hasAhead(): boolean {
    return this.ahead.length > 0;
  }

  /** How many requests are waiting behind the tenant. */
  get aheadCount(): number {
    return this.ahead.length;
  }

  /** The request is finished with the slot: the thread takes the next request. */
  release(): void {
    this.owner.release(this);
  }

  /**
   * Clears the tenant (the owner calls this when the slot is released) and returns the request
   * that was waiting behind it, now the tenant, if there is one: the owner then calls promote().
   */
  vacate(): AheadTenant | null {
    if (this.tenant !== null) {
      const now = performance.now();
      const ran = now - this.tenantSince;
      this.runMs += (ran - this.runMs) / 8;
      const longest = this.longestRecentRun(now);
      if (this.runs++ > 0 && ran > longest) {
        this.longestRunMs = ran;
        this.longestRunAt = now;
      }
    }
    const next = this.socket.destroyed ? null : (this.ahead.shift() ?? null);
    if (next === null) {
      // A connection already cut keeps its requests ahead: its close hands them back (aheadLost).
      this.tenant = null;
      return null;
    }
    this.tenant = next;
    this.tenantSince = performance.now();
    return next;
  }

  /** The process this thread belongs to (for log context). */
  get pid(): number {
    return this.owner.pid;
  }

  /** The code of this thread's process is out of date: the process is to be replaced. */
  processCodeIsStale(): void {
    this.owner.codeIsStale();
  }

  /** Raises RequestTimeout in this thread (interrupt-timeout). */
  interrupt(): void {
    this.owner.interrupt(this.thread);
  }

  /** Has the process log the Python stack of each of its threads. */
  dumpProcessStacks(why: string): void {
    this.owner.dumpStacks(why);
  }

  /** Delivers a frame that arrived on this slot's connection. */
  deliver(type: number, payload: Buffer): void {
    const tenant = this.tenant;
    if (tenant !== null) tenant.onFrame(type, payload);
    else this.owner.unexpectedFrame(this, type);
  }

  /** Writes `data`; `written`, if given, runs once the socket is done with it (so it may be reused). */
  write(data: Buffer, written?: () => void): boolean {
    return written === undefined ? this.socket.write(data) : this.socket.write(data, written);
  }

  /**
   * Writes buffers in one system call without joining them. `written`, if given, runs once the
   * socket is done with all of them (written, or the connection is gone).
   */
  writeAll(buffers: Buffer[], written?: () => void): boolean {
    this.socket.cork();
    let ok = true;
    const last = buffers.length - 1;
    for (let i = 0; i <= last; i++) ok = i === last && written !== undefined ? this.socket.write(buffers[i]!, written) : this.socket.write(buffers[i]!);
    this.socket.uncork();
    return ok;
  }

  /** Writes a frame header and its payload in one system call without copying the payload. */
  writeFrame(header: Buffer, payload: Buffer): boolean {
    this.socket.cork();
    this.socket.write(header);
    const ok = this.socket.write(payload);
    this.socket.uncork();
    return ok;
  }

  /**
   * The front end is done with the oldest `count` pieces it copied out of the region; the worker
   * is told once every older piece is done with too (RegionReleases).
   */
  releaseRegion(count: number): void {
    this.releases.copiedDone(count);
  }

  /** A piece copied out of the region, to be released with releaseRegion. */
  regionPieceCopied(): void {
    this.releases.copied();
  }

  /** Region pieces lent to client sockets (not copied) that the sockets are not done with yet. */
  get lentRegionPieces(): number {
    return this.releases.lent;
  }

  /**
   * Records that a region piece is lent to a client socket, and returns what to call once the
   * socket is done with it (idempotent). While any piece is lent, no head may release the region
   * (HeadFlags.RegionHeld): the next request may run, and the piece is released explicitly.
   */
  lendRegionPiece(keep: () => void): () => void {
    return this.releases.lend(keep);
  }

  /** The worker wrote another piece: pieces lent before it are settled soon if still not written (RegionReleases.settleSoon). */
  settleLentRegionPiecesSoon(): void {
    this.releases.settleSoon();
  }

  /** A head that releases the whole region (neither ahead nor RegionHeld) goes to the worker now. */
  regionReleasedByHead(): void {
    this.releases.releasedByHead();
  }

  private sendReleases(count: number): void {
    if (this.socket.destroyed) return;
    for (let i = 0; i < count; i++) this.socket.write(REGION_RELEASED_FRAME);
  }

  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  /** Cuts the connection; the worker thread reconnects once its request is over. */
  cut(reason: string): void {
    this.lossReason ??= reason;
    this.socket.destroy();
  }
}
