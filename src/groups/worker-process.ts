import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import type * as net from 'node:net';
import { encodeFrame, FromWorker, LOG_LEVEL_NAMES, ToWorker } from '../protocol/frames';
import type { LogContext } from '../log/error-log';
import type { SlotPool } from './dispatcher';
import type { ResponseRegion } from './response-region';
import { ThreadSlot, type SlotOwner, type SlotTenant } from './thread-slot';

/**
 * starting: spawned, not yet ready. ready: takes requests. draining: takes no new requests and
 * finishes its running ones (it is being replaced or stopped). exited: gone.
 */
export type ProcessState = 'starting' | 'ready' | 'draining' | 'exited';

/** What a process needs from its group. */
export interface ProcessHost {
  readonly groupName: string;
  log(level: 'error' | 'warn' | 'info' | 'debug', message: string, context?: LogContext): void;
  /** A log record the process sent (an exception, print() output outside a request). */
  processLog(level: string, text: string, context: LogContext): void;
  /** The process can take requests now. */
  processReady(proc: WorkerProcess): void;
  /** A thread became free. */
  slotFreed(proc: WorkerProcess): void;
  /** A request finished in the process (for maximum-requests). */
  requestDone(proc: WorkerProcess): void;
  /** The process asks to be replaced (script changed, a signal, a limit it hit). */
  restartRequested(proc: WorkerProcess, reason: string, immediate: boolean): void;
}

/** How long to wait for the exit status of a process whose connection dropped mid-request. */
const EXIT_STATUS_WAIT_MS = 250;

/**
 * One daemon process of a group as the front end sees it: the child process, its control
 * connection and its threads' connections.
 */
export class WorkerProcess implements SlotPool, SlotOwner {
  state: ProcessState = 'starting';
  readonly free: ThreadSlot[] = [];
  private readonly slots = new Set<ThreadSlot>();
  private control: net.Socket | null = null;
  /** How the process ended, once it has ("terminated by signal 9 (SIGKILL)"). */
  exitDescription: string | null = null;
  private exitWaiters: ((description: string | null) => void)[] = [];
  readonly startedAt = Date.now();
  readyAt = 0;
  requestsServed = 0;
  /** When the interpreter last proved it runs Python code (its heartbeat). */
  lastHeartbeat = Date.now();
  /** When a request last started or ended here (for inactivity-timeout). */
  lastActivity = Date.now();
  /** Set once the process is being replaced: why. */
  retiring: string | null = null;
  /** The last lines the process wrote to stdout/stderr, to explain a failed start. */
  readonly recentOutput: string[] = [];
  private stopWaiters: (() => void)[] = [];
  private graceTimer: NodeJS.Timeout | null = null;
  private hardKillTimer: NodeJS.Timeout | null = null;
  private killAfterMs = 5000;
  private finishing = false;

  constructor(
    private readonly host: ProcessHost,
    /** Which of the group's processes this is (1-based, kept across restarts). */
    readonly number: number,
    readonly token: string,
    readonly child: ChildProcess,
    /** maximum-requests for this process (with its share of the jitter); 0 = no limit. */
    readonly requestLimit: number,
  ) {}

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get accepting(): boolean {
    return this.state === 'ready';
  }

  /** Requests running in this process now (kept as a count: the dispatcher asks on every request). */
  active = 0;

  get threadsConnected(): number {
    return this.slots.size;
  }

  /** The connected threads in thread order (for the status page). */
  get threadSlots(): ThreadSlot[] {
    return [...this.slots].sort((a, b) => a.thread - b.thread);
  }

  /** Resident memory in bytes, from /proc (0 if it cannot be read). */
  residentBytes(): number {
    try {
      const statm = fs.readFileSync(`/proc/${this.pid}/statm`, 'latin1').split(' ');
      return Number(statm[1]) * PAGE_SIZE;
    } catch {
      return 0;
    }
  }

  attachControl(socket: net.Socket): (type: number, payload: Buffer) => void {
    this.control = socket;
    socket.on('error', () => {});
    return (type, payload) => this.onControlFrame(type, payload);
  }

  attachThread(socket: net.Socket, thread: number, tid: number, region: ResponseRegion | null): ThreadSlot {
    const slot = new ThreadSlot(this, socket, thread, tid, region);
    this.slots.add(slot);
    if (this.state === 'ready' || this.state === 'starting') {
      this.free.push(slot);
      if (this.state === 'ready') this.host.slotFreed(this);
    }
    return slot;
  }

  /** A request is done with `slot`: it takes requests again. */
  release(slot: ThreadSlot): void {
    slot.vacate();
    this.active--;
    this.requestsServed++;
    this.lastActivity = Date.now();
    this.host.requestDone(this);
    if (slot.closed) return;
    if (this.state === 'ready' || this.state === 'starting') {
      this.free.push(slot);
      this.host.slotFreed(this);
    } else if (this.state === 'draining' && this.active === 0) {
      this.finishDraining();
    }
  }

  /** A request starts on one of this process's threads. */
  touch(): void {
    this.active++;
    this.lastActivity = Date.now();
  }

  /** Asks the process to write the Python stack of each of its threads to the log. */
  dumpStacks(why: string): void {
    if (this.control !== null && !this.control.destroyed) this.control.write(encodeFrame(ToWorker.DumpStacks, why));
  }

  /** Asks the process to raise RequestTimeout in the thread with index `thread` (interrupt-timeout). */
  interrupt(thread: number): void {
    if (this.control !== null && !this.control.destroyed) this.control.write(encodeFrame(ToWorker.Interrupt, String(thread)));
  }

  private onControlFrame(type: number, payload: Buffer): void {
    switch (type) {
      case FromWorker.Ready:
        if (this.state !== 'starting') return;
        this.state = 'ready';
        this.readyAt = Date.now();
        this.lastHeartbeat = Date.now();
        this.host.processReady(this);
        return;
      case FromWorker.Heartbeat:
        this.lastHeartbeat = Date.now();
        return;
      case FromWorker.Log: {
        const level = LOG_LEVEL_NAMES[payload[0] ?? 3] ?? 'error';
        this.host.processLog(level, payload.toString('utf8', 1), { pid: this.pid });
        return;
      }
      case FromWorker.Restart: {
        let request: { reason?: string; immediate?: boolean } = {};
        try {
          request = JSON.parse(payload.toString('utf8')) as typeof request;
        } catch {
          // malformed: treat as an immediate restart for an unknown reason
        }
        this.host.restartRequested(this, request.reason ?? 'restart_request', request.immediate !== false);
        return;
      }
      default:
        this.host.log('warn', `Unexpected control frame 0x${type.toString(16)} from process ${this.pid}; ignored.`);
    }
  }

  // -- SlotOwner ---------------------------------------------------------------------------

  slotClosed(slot: ThreadSlot, tenant: SlotTenant | null, reason: string | null): void {
    this.slots.delete(slot);
    const at = this.free.indexOf(slot);
    if (at >= 0) this.free.splice(at, 1);
    if (tenant !== null) {
      this.active--;
      // The connection usually drops a moment before the exit status arrives; wait briefly so
      // the request's error report can say how the process died.
      this.whenExited(EXIT_STATUS_WAIT_MS, (description) => {
        tenant.onSlotLost(description !== null ? `process ${this.pid} ${description}` : (reason ?? 'connection closed'));
      });
    }
    if (this.state === 'draining' && this.active === 0) this.finishDraining();
  }

  unexpectedFrame(slot: ThreadSlot, type: number): void {
    this.host.log('warn', `Unexpected frame 0x${type.toString(16)} from idle thread ${slot.thread + 1} of process ${this.pid}; ignored.`);
  }

  /** The code this process runs is out of date (a request found its script changed). */
  codeIsStale(): void {
    this.host.restartRequested(this, 'script_reload', true);
  }

  // -- life cycle --------------------------------------------------------------------------

  /** Records the process's exit; the group calls this from the child's 'exit' event. */
  exited(code: number | null, signal: NodeJS.Signals | null): string {
    this.state = 'exited';
    this.free.length = 0;
    this.exitDescription = describeExit(code, signal);
    const waiters = this.exitWaiters;
    this.exitWaiters = [];
    for (const waiter of waiters) waiter(this.exitDescription);
    return this.exitDescription;
  }

  private whenExited(timeoutMs: number, callback: (description: string | null) => void): void {
    if (this.exitDescription !== null) {
      callback(this.exitDescription);
      return;
    }
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      callback(null);
    }, timeoutMs);
    this.exitWaiters.push((description) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      callback(description);
    });
  }

  /**
   * Drains the process: it takes no new requests; its running requests get up to `graceMs` to
   * finish (graceful-timeout), then it is told to exit and, if it has not `killAfterMs` later
   * (shutdown-timeout), killed. Resolves when it has exited.
   */
  stop(graceMs: number, killAfterMs: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.state === 'exited') {
        resolve();
        return;
      }
      this.stopWaiters.push(resolve);
      if (this.state === 'draining') return;
      this.state = 'draining';
      this.free.length = 0;
      this.killAfterMs = killAfterMs;
      if (this.active === 0) {
        this.finishDraining();
      } else {
        this.graceTimer = setTimeout(() => this.finishDraining(), graceMs);
      }
    });
  }

  private finishDraining(): void {
    if (this.finishing) return;
    this.finishing = true;
    if (this.graceTimer !== null) clearTimeout(this.graceTimer);
    // The shutdown message (and closing the control connection) tells the process to exit; it
    // finishes through its atexit handlers.
    if (this.control !== null && !this.control.destroyed) {
      this.control.write(encodeFrame(ToWorker.Shutdown, 'stop'));
      this.control.end();
    }
    for (const slot of this.slots) if (!slot.busy) slot.cut('process stopping');
    this.hardKillTimer = setTimeout(() => {
      if (this.state !== 'exited') {
        this.host.log('warn', `Daemon process '${this.host.groupName}' (pid=${this.pid}) did not exit within ${this.killAfterMs / 1000} seconds of being told to (shutdown-timeout); killing it.`);
        this.kill('SIGKILL');
      }
    }, this.killAfterMs);
  }

  /** Called by the group once the child has exited. */
  settle(): void {
    if (this.graceTimer !== null) clearTimeout(this.graceTimer);
    if (this.hardKillTimer !== null) clearTimeout(this.hardKillTimer);
    for (const slot of this.slots) slot.cut('process exited');
    this.control?.destroy();
    const waiters = this.stopWaiters;
    this.stopWaiters = [];
    for (const waiter of waiters) waiter();
  }

  kill(signal: NodeJS.Signals): void {
    try {
      this.child.kill(signal);
    } catch {
      // already gone
    }
  }

  noteOutput(line: string): void {
    this.recentOutput.push(line);
    if (this.recentOutput.length > 20) this.recentOutput.shift();
  }
}

const PAGE_SIZE = 4096;

export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal !== null) {
    const number = (os.constants.signals as Record<string, number | undefined>)[signal];
    return `terminated by signal ${number ?? '?'} (${signal})`;
  }
  return `exited with status ${code ?? '?'}`;
}
