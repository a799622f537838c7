import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import type * as net from 'node:net';
import { encodeFrame, FromWorker, LOG_LEVEL_NAMES, ToWorker } from '../protocol/frames';
import type { LogContext } from '../log/error-log';
import type { ProcessSlots } from './dispatcher';
import { Interpreter } from './interpreter';
import type { ResponseRegion } from './response-region';
import { MAX_AHEAD, type SlotTenant, type ThreadSlot } from './thread-slot';

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
  /** The process can take requests now; `info` is what it said about itself (READY's payload). */
  processReady(proc: WorkerProcess, info: ReadyInfo): void;
  /** A thread became free. */
  slotFreed(proc: WorkerProcess): void;
  /** An interpreter of an application group was asked for, or announced itself: it joins the dispatcher. */
  interpreterAdded(interp: Interpreter): void;
  /** An application group's interpreter takes requests now. */
  interpreterReady(interp: Interpreter): void;
  /** An application group's interpreter failed to start (`why`) or went away (why === null). */
  interpreterGone(interp: Interpreter, why: string | null): void;
  /** A request finished in the process (for maximum-requests). */
  requestDone(proc: WorkerProcess): void;
  /** The process asks to be replaced (script changed, a signal, a limit it hit). */
  restartRequested(proc: WorkerProcess, reason: string, immediate: boolean): void;
}

/** What a process says about itself when it is ready. */
export interface ReadyInfo {
  /** How it runs application groups other than %{GLOBAL}. */
  applicationGroups?: 'sub-interpreters' | 'processes';
  /** Why application groups run in processes of their own. */
  why?: string;
  /** The private module it creates sub-interpreters with. */
  module?: string;
}

/** How long to wait for the exit status of a process whose connection dropped mid-request. */
const EXIT_STATUS_WAIT_MS = 250;

/**
 * One daemon process of a group as the front end sees it: the child process, its control
 * connection, and its interpreters with their threads' connections: the main interpreter
 * (%{GLOBAL}) and one per other application group it serves.
 */
export class WorkerProcess implements ProcessSlots {
  state: ProcessState = 'starting';
  /** The main interpreter: application group %{GLOBAL}. */
  readonly main: Interpreter;
  /** The interpreters of the other application groups, by name. */
  readonly interpreters = new Map<string, Interpreter>();
  /** It runs application groups in processes of their own (it said so when ready), not in sub-interpreters. */
  applicationGroupsInProcesses = false;
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
  /** What the shutdown message gives requests still running (shutdown-timeout, or what a server stop has left of it). */
  private runningGraceMs = 5000;
  private finishing = false;

  constructor(
    private readonly host: ProcessHost,
    /** Which of the group's processes this is (1-based, kept across restarts). */
    readonly number: number,
    readonly token: string,
    readonly child: ChildProcess,
    /** maximum-requests for this process (with its share of the jitter); 0 = no limit. */
    readonly requestLimit: number,
    /** The most requests it runs at once, across its interpreters (its threads). */
    readonly threadLimit: number,
  ) {
    this.main = new Interpreter(this, '', 'ready');
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get accepting(): boolean {
    return this.state === 'ready';
  }

  /** Requests running in this process now, across its interpreters (a count: the dispatcher asks on every request). */
  active = 0;

  /**
   * Whether its threads may be sent requests ahead of time: not a process close to its
   * maximum-requests (about to be replaced, or one that exits after each request).
   */
  get takesAhead(): boolean {
    return this.state === 'ready' && (this.requestLimit === 0 || this.requestsServed + (MAX_AHEAD + 4) * this.threadLimit < this.requestLimit);
  }

  get spareThreads(): boolean {
    return this.active < this.threadLimit;
  }

  /** The connected threads of every interpreter, in interpreter then thread order (for the status page). */
  get threadSlots(): ThreadSlot[] {
    const slots: ThreadSlot[] = [];
    for (const interp of this.allInterpreters()) slots.push(...[...interp.slots].sort((x, y) => x.thread - y.thread));
    return slots;
  }

  /** Every interpreter, the main one first. */
  *allInterpreters(): Iterable<Interpreter> {
    yield this.main;
    yield* this.interpreters.values();
  }

  get threadsConnected(): number {
    let count = 0;
    for (const interp of this.allInterpreters()) count += interp.slots.size;
    return count;
  }

  /** Whether `slot` is one of this process's threads (or its application groups' processes'). */
  owns(slot: ThreadSlot): boolean {
    for (const interp of this.allInterpreters()) if (interp.slots.has(slot)) return true;
    return false;
  }

  /** The process's id and those of its application groups' processes of their own (the fallback). */
  pids(): number[] {
    const pids = [this.pid];
    for (const interp of this.interpreters.values()) if (interp.ownProcess && interp.state !== 'gone' && !pids.includes(interp.pid)) pids.push(interp.pid);
    return pids;
  }

  /** Whether `pid` is this process or a child of it (from /proc). */
  isSelfOrChild(pid: number): boolean {
    if (pid === this.pid) return true;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === this.pid;
    } catch {
      return false;
    }
  }

  /** Resident memory in bytes, from /proc, with that of its application groups' own processes (0 if it cannot be read). */
  residentBytes(): number {
    let total = 0;
    for (const pid of this.pids()) {
      try {
        const statm = fs.readFileSync(`/proc/${pid}/statm`, 'latin1').split(' ');
        total += Number(statm[1]) * PAGE_SIZE;
      } catch {
        // gone
      }
    }
    return total;
  }

  /** The oldest heartbeat among the process and its application groups' own processes. */
  get oldestHeartbeat(): number {
    let oldest = this.lastHeartbeat;
    for (const interp of this.interpreters.values()) if (interp.ownProcess && interp.state === 'ready' && interp.lastHeartbeat < oldest) oldest = interp.lastHeartbeat;
    return oldest;
  }

  attachControl(socket: net.Socket): (type: number, payload: Buffer) => void {
    this.control = socket;
    socket.on('error', () => {});
    return (type, payload) => this.onControlFrame(type, payload);
  }

  attachThread(socket: net.Socket, thread: number, tid: number, applicationGroup: string, region: ResponseRegion | null): ThreadSlot {
    const interp = applicationGroup === '' ? this.main : this.interpreterFor(applicationGroup);
    return interp.attachThread(socket, thread, tid, region);
  }

  /** The control connection of an application group's interpreter. */
  attachInterpreter(socket: net.Socket, applicationGroup: string, pid: number): (type: number, payload: Buffer) => void {
    let interp = this.interpreterFor(applicationGroup);
    if (interp.state === 'ready') {
      // A new interpreter replaces one whose loop has ended but whose connection close has not been seen yet.
      this.interpreterGone(interp, null);
      interp = this.interpreterFor(applicationGroup);
    }
    return interp.attachControl(socket, pid);
  }

  /** The interpreter of `applicationGroup`, made known (as being created) if it is not yet. */
  private interpreterFor(applicationGroup: string): Interpreter {
    let interp = this.interpreters.get(applicationGroup);
    if (interp === undefined) {
      interp = new Interpreter(this, applicationGroup, 'creating');
      this.interpreters.set(applicationGroup, interp);
      this.host.interpreterAdded(interp);
    }
    return interp;
  }

  /** Asks the process to start the interpreter of `applicationGroup` (the dispatcher needs one). */
  createInterpreter(applicationGroup: string): void {
    if (this.interpreters.has(applicationGroup) || this.control === null || this.control.destroyed) return;
    this.interpreterFor(applicationGroup);
    this.control.write(encodeFrame(ToWorker.CreateInterpreter, applicationGroup));
  }

  // -- what the interpreters report ----------------------------------------------------------

  interpreterReady(interp: Interpreter): void {
    this.host.interpreterReady(interp);
  }

  /** `interp` failed to start (`why`), or went away (why === null). */
  interpreterGone(interp: Interpreter, why: string | null): void {
    if (this.interpreters.get(interp.applicationGroup) === interp) this.interpreters.delete(interp.applicationGroup);
    if (interp.state === 'gone') return;
    interp.state = 'gone';
    interp.free.length = 0;
    this.host.interpreterGone(interp, why);
  }

  interpreterLog(level: string, text: string, pid: number): void {
    this.host.processLog(level, text, { pid });
  }

  restartFrame(payload: Buffer): void {
    let request: { reason?: string; immediate?: boolean } = {};
    try {
      request = JSON.parse(payload.toString('utf8')) as typeof request;
    } catch {
      // malformed: treat as an immediate restart for an unknown reason
    }
    this.host.restartRequested(this, request.reason ?? 'restart_request', request.immediate !== false);
  }

  unexpectedControlFrame(type: number, pid: number): void {
    this.host.log('warn', `Unexpected control frame 0x${type.toString(16)} from process ${pid}; ignored.`);
  }

  unexpectedThreadFrame(slot: ThreadSlot, type: number): void {
    this.host.log('warn', `Unexpected frame 0x${type.toString(16)} from idle thread ${slot.thread + 1} of process ${slot.pid}; ignored.`);
  }

  // -- requests ----------------------------------------------------------------------------

  /** A request starts on one of this process's threads. */
  requestStarted(): void {
    this.active++;
    this.lastActivity = Date.now();
  }

  /** A request ended (its thread is released). */
  requestEnded(): void {
    this.active--;
    this.requestsServed++;
    this.lastActivity = Date.now();
    this.host.requestDone(this);
  }

  /** One of its interpreters has a free thread again. */
  threadFreed(): void {
    this.host.slotFreed(this);
  }

  /**
   * A thread's connection closed; `tenant` is the request that was running on it, if any.
   * `waitForExit` is the process whose exit status, if it comes soon, explains the loss.
   */
  threadLost(tenant: SlotTenant | null, reason: string | null, waitForExit: WorkerProcess | null): void {
    if (tenant !== null) {
      this.active--;
      if (waitForExit !== null) {
        // The connection usually drops a moment before the exit status arrives; wait briefly so
        // the request's error report can say how the process died.
        this.whenExited(EXIT_STATUS_WAIT_MS, (description) => {
          tenant.onSlotLost(description !== null ? `process ${this.pid} ${description}` : (reason ?? 'connection closed'));
        });
      } else {
        tenant.onSlotLost(reason ?? 'connection closed');
      }
    }
    if (this.state === 'draining' && this.active === 0) this.finishDraining();
  }

  /** The last running request of a draining process has ended. */
  drained(): void {
    this.finishDraining();
  }

  /** Asks every interpreter of the process to write the Python stack of each of its threads to the log. */
  dumpStacks(why: string): void {
    const frame = encodeFrame(ToWorker.DumpStacks, why);
    if (this.control !== null && !this.control.destroyed) this.control.write(frame);
    for (const interp of this.interpreters.values()) interp.send(frame);
  }

  /** Asks the main interpreter to raise RequestTimeout in its thread with index `thread` (interrupt-timeout). */
  interruptMain(thread: number): void {
    if (this.control !== null && !this.control.destroyed) this.control.write(encodeFrame(ToWorker.Interrupt, String(thread)));
  }

  private onControlFrame(type: number, payload: Buffer): void {
    switch (type) {
      case FromWorker.Ready: {
        if (this.state !== 'starting') return;
        this.state = 'ready';
        this.readyAt = Date.now();
        this.lastHeartbeat = Date.now();
        let info: ReadyInfo = {};
        try {
          if (payload.length > 0) info = JSON.parse(payload.toString('utf8')) as ReadyInfo;
        } catch {
          // an older runtime: nothing said
        }
        this.applicationGroupsInProcesses = info.applicationGroups === 'processes';
        this.host.processReady(this, info);
        return;
      }
      case FromWorker.Heartbeat:
        this.lastHeartbeat = Date.now();
        return;
      case FromWorker.Log: {
        const level = LOG_LEVEL_NAMES[payload[0] ?? 3] ?? 'error';
        this.host.processLog(level, payload.toString('utf8', 1), { pid: this.pid });
        return;
      }
      case FromWorker.Restart:
        this.restartFrame(payload);
        return;
      case FromWorker.InterpreterFailed: {
        let failure: { applicationGroup?: string; message?: string } = {};
        try {
          failure = JSON.parse(payload.toString('utf8')) as typeof failure;
        } catch {
          return;
        }
        const interp = this.interpreters.get(failure.applicationGroup ?? '');
        if (interp !== undefined) this.interpreterGone(interp, failure.message ?? 'unknown error');
        return;
      }
      default:
        this.unexpectedControlFrame(type, this.pid);
    }
  }

  /** The code this process runs is out of date (a request found its script changed). */
  codeIsStale(): void {
    this.host.restartRequested(this, 'script_reload', true);
  }

  // -- life cycle --------------------------------------------------------------------------

  /** Records the process's exit; the group calls this from the child's 'exit' event. */
  exited(code: number | null, signal: NodeJS.Signals | null): string {
    this.state = 'exited';
    for (const interp of this.allInterpreters()) interp.free.length = 0;
    this.exitDescription = describeExit(code, signal);
    const waiters = this.exitWaiters;
    this.exitWaiters = [];
    for (const waiter of waiters) waiter(this.exitDescription);
    return this.exitDescription;
  }

  whenExited(timeoutMs: number, callback: (description: string | null) => void): void {
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
   * finish (graceful-timeout), then it is told to exit, giving those still running up to
   * `runningGraceMs` more, and if it has not exited `killAfterMs` later (shutdown-timeout), it is
   * killed. Resolves when it has exited.
   */
  stop(graceMs: number, killAfterMs: number, runningGraceMs = killAfterMs): Promise<void> {
    return new Promise((resolve) => {
      if (this.state === 'exited') {
        resolve();
        return;
      }
      this.stopWaiters.push(resolve);
      if (this.state === 'draining') return;
      this.state = 'draining';
      for (const interp of this.allInterpreters()) interp.free.length = 0;
      this.killAfterMs = killAfterMs;
      this.runningGraceMs = Math.min(runningGraceMs, killAfterMs);
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
    // lets the requests still running finish, for up to shutdown-timeout (the seconds the message
    // carries), as mod_wsgi's shutdown does, and ends through its atexit handlers.
    const shutdown = encodeFrame(ToWorker.Shutdown, String(this.runningGraceMs / 1000));
    if (this.control !== null && !this.control.destroyed) {
      this.control.write(shutdown);
      this.control.end();
    }
    for (const interp of this.interpreters.values()) interp.shutdown(shutdown);
    for (const interp of this.allInterpreters()) for (const slot of interp.slots) if (!slot.busy) slot.cut('process stopping');
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
    for (const interp of this.allInterpreters()) interp.destroy();
    this.control?.destroy();
    const waiters = this.stopWaiters;
    this.stopWaiters = [];
    for (const waiter of waiters) waiter();
  }

  /** Signals the process, and its application groups' processes of their own. */
  kill(signal: NodeJS.Signals): void {
    for (const pid of this.pids().slice(1)) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
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
