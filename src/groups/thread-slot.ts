import type * as net from 'node:net';
import { encodeFrame, ToWorker } from '../protocol/frames';
import type { ResponseRegion } from './response-region';

const REGION_RELEASED_FRAME = encodeFrame(ToWorker.RegionReleased);
const REGION_ACCEPTED_FRAME = encodeFrame(ToWorker.RegionAccepted);

/** What runs on a slot: the front-end half of one request. */
export interface SlotTenant {
  onFrame(type: number, payload: Buffer): void;
  /** The connection is gone (the process died, or it was cut); the tenant must finish at once. */
  onSlotLost(reason: string): void;
  /** The connection can take more bytes after a write returned false. */
  onSlotDrain(): void;
  /** What the request is doing, for the status page. */
  activity?(): ThreadActivity;
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
  private lossReason: string | null = null;

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
      this.tenant = null;
      this.owner.slotClosed(this, tenant, this.lossReason);
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
    this.owner.touch();
  }

  /** The request is finished with the slot: the thread takes the next request. */
  release(): void {
    this.owner.release(this);
  }

  /** Clears the tenant (the owner calls this when the slot is released). */
  vacate(): void {
    this.tenant = null;
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

  /** Tells the thread that `count` of its shared response pieces have been passed on. */
  releaseRegion(count: number): void {
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
