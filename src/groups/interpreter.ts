import type * as net from 'node:net';
import { encodeFrame, FromWorker, LOG_LEVEL_NAMES, ToWorker } from '../protocol/frames';
import type { SlotPool } from './dispatcher';
import type { ResponseRegion } from './response-region';
import { goesAheadSooner, ThreadSlot, type SlotOwner, type SlotTenant } from './thread-slot';
import type { WorkerProcess } from './worker-process';

/** creating: asked for, not yet serving. ready: takes requests. gone: failed, or its loop ended. */
export type InterpreterState = 'creating' | 'ready' | 'gone';

/**
 * One interpreter of a daemon process and its serving threads' connections: the main interpreter
 * (application group %{GLOBAL}, named ""), or the interpreter of another application group, a
 * sub-interpreter of the process (or, where sub-interpreters cannot be used, a process of its own
 * that belongs to this one). Requests of application group X go only to threads of interpreter
 * X; the process's `threads` limit holds across all its interpreters.
 */
export class Interpreter implements SlotPool, SlotOwner {
  readonly free: ThreadSlot[] = [];
  readonly slots = new Set<ThreadSlot>();
  /** The control connection of an application group's interpreter (the main one uses the process's). */
  private control: net.Socket | null = null;
  /** The process the interpreter runs in: its daemon process, or its own process in the fallback. */
  pid: number;
  /** When its own process last proved it runs Python code (processes of their own only). */
  lastHeartbeat = Date.now();

  constructor(
    readonly process: WorkerProcess,
    readonly applicationGroup: string,
    public state: InterpreterState,
  ) {
    this.pid = process.pid;
  }

  get accepting(): boolean {
    const process = this.process;
    return this.state === 'ready' && process.state === 'ready' && process.active < process.threadLimit;
  }

  get active(): number {
    return this.process.active;
  }

  get creating(): boolean {
    return this.state === 'creating';
  }

  /** Runs in a process of its own (the fallback), not in its daemon process. */
  get ownProcess(): boolean {
    return this.pid !== this.process.pid;
  }

  /** "main interpreter", "sub-interpreter 'X'" (as mod_wsgi names them in its log), or "process of application group 'X'". */
  describe(): string {
    if (this.applicationGroup === '') return 'main interpreter';
    return this.process.applicationGroupsInProcesses ? `process of application group '${this.applicationGroup}'` : `sub-interpreter '${this.applicationGroup}'`;
  }

  attachThread(socket: net.Socket, thread: number, tid: number, region: ResponseRegion | null): ThreadSlot {
    const slot = new ThreadSlot(this, socket, thread, tid, region);
    this.slots.add(slot);
    const processState = this.process.state;
    if (processState === 'ready' || processState === 'starting') {
      this.free.push(slot);
      if (processState === 'ready' && this.state === 'ready') this.process.threadFreed();
    }
    return slot;
  }

  /** The interpreter's own control connection (application groups other than %{GLOBAL}). */
  attachControl(socket: net.Socket, pid: number): (type: number, payload: Buffer) => void {
    this.control = socket;
    this.pid = pid;
    socket.on('error', () => {});
    socket.on('close', () => this.process.interpreterGone(this, null));
    return (type, payload) => this.onControlFrame(type, payload);
  }

  private onControlFrame(type: number, payload: Buffer): void {
    switch (type) {
      case FromWorker.Ready:
        if (this.state !== 'creating') return;
        this.state = 'ready';
        this.lastHeartbeat = Date.now();
        this.process.interpreterReady(this);
        return;
      case FromWorker.Heartbeat:
        this.lastHeartbeat = Date.now();
        return;
      case FromWorker.Log: {
        const level = LOG_LEVEL_NAMES[payload[0] ?? 3] ?? 'error';
        this.process.interpreterLog(level, payload.toString('utf8', 1), this.pid);
        return;
      }
      case FromWorker.Restart:
        this.process.restartFrame(payload);
        return;
      default:
        this.process.unexpectedControlFrame(type, this.pid);
    }
  }

  /** Sends a control frame to the interpreter (false if it has no control connection open). */
  send(frame: Buffer): boolean {
    const control = this.control;
    if (control === null || control.destroyed) return false;
    control.write(frame);
    return true;
  }

  /** Tells the interpreter's loop to end (the process is stopping) with `frame`, the process's shutdown message. */
  shutdown(frame: Buffer): void {
    if (this.send(frame)) this.control!.end();
  }

  /** Drops every connection (its process has exited). */
  destroy(): void {
    this.state = 'gone';
    this.free.length = 0;
    for (const slot of this.slots) slot.cut('process exited');
    this.control?.destroy();
  }

  // -- SlotOwner ---------------------------------------------------------------------------

  aheadSlot(now: number, maxRunMs: number): ThreadSlot | null {
    if (this.state !== 'ready' || !this.process.takesAhead) return null;
    let best: ThreadSlot | null = null;
    for (const slot of this.slots) if (slot.canTakeAhead(now, maxRunMs) && (best === null || goesAheadSooner(slot, best))) best = slot;
    return best;
  }

  /** Requests sent ahead to its threads that have not started yet. */
  get waitingAhead(): number {
    let count = 0;
    for (const slot of this.slots) count += slot.aheadCount;
    return count;
  }

  /** A request is done with `slot`: it takes requests again, starting with the oldest sent ahead to it if there is one. */
  release(slot: ThreadSlot): void {
    const next = slot.vacate();
    const process = this.process;
    if (next !== null) {
      // Counted as started before the previous one ends, so a draining process never looks idle in between.
      process.requestStarted();
      process.requestEnded();
      next.promote(slot);
      // The thread may take another request ahead now.
      if (!slot.closed && process.state === 'ready' && this.state === 'ready') process.threadFreed();
      return;
    }
    process.requestEnded();
    if (slot.closed) return;
    if (process.state === 'ready' || process.state === 'starting') {
      this.free.push(slot);
      process.threadFreed();
    } else if (process.state === 'draining' && process.active === 0) {
      process.drained();
    }
  }

  touch(): void {
    this.process.requestStarted();
  }

  slotClosed(slot: ThreadSlot, tenant: SlotTenant | null, reason: string | null): void {
    this.slots.delete(slot);
    const at = this.free.indexOf(slot);
    if (at >= 0) this.free.splice(at, 1);
    this.process.threadLost(tenant, reason, this.ownProcess ? null : this.process);
  }

  unexpectedFrame(slot: ThreadSlot, type: number): void {
    this.process.unexpectedThreadFrame(slot, type);
  }

  codeIsStale(): void {
    this.process.codeIsStale();
  }

  interrupt(thread: number): void {
    if (this.applicationGroup === '') this.process.interruptMain(thread);
    else this.send(encodeFrame(ToWorker.Interrupt, String(thread)));
  }

  dumpStacks(why: string): void {
    this.process.dumpStacks(why);
  }
}
