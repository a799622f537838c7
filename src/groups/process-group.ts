import { spawn } from 'node:child_process';
import { CREDENTIALS_ENV, credentialsForWorker, runningAsRoot, type Credentials } from '../privileges';
import { randomBytes, randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { ProcessGroupConfig } from '../config/model';
import type { ErrorLog, LogContext } from '../log/error-log';
import { isLogLevel } from '../log/error-log';
import { FrameDecoder, FromWorker, ProtocolError } from '../protocol/frames';
import { PYTHON_RUNTIME_DIR } from '../paths';
import { DeadlineWatch } from '../util/deadline-watch';
import type { GroupStats } from '../ops/request-stats';
import { Dispatcher, type Dispatchable } from './dispatcher';
import type { Interpreter } from './interpreter';
import { ResponseRegion, type ResponseCounts } from './response-region';
import type { ThreadSlot } from './thread-slot';
import { WorkerProcess, type ProcessHost, type ReadyInfo } from './worker-process';

/** Restart reasons for which mod_wsgi shuts the process down at once, with no graceful wait. */
const SHUT_DOWN_AT_ONCE = new Set(['shutdown_signal', 'script_reload', 'reload_on_changes', 'startup_timeout']);

/** The longest startup-failure back-off. */
const MAX_RESTART_DELAY_MS = 30_000;
const FIRST_RESTART_DELAY_MS = 500;
/** Without startup-timeout, a process that has not said it is ready by then is killed and restarted. */
const DEFAULT_READY_TIMEOUT_MS = 60_000;
/** How often limits that need watching (RSS, heartbeats, idleness) are checked. */
const WATCH_INTERVAL_MS = 1000;

interface HelloMessage {
  token: string;
  pid: number;
  role: 'control' | 'interpreter' | 'request';
  thread: number;
  tid: number;
  /** The application group of the interpreter the connection belongs to ('' or absent: the main one). */
  applicationGroup?: string;
  /** The thread's shared response region: a file descriptor in the worker and its size. */
  region?: { fd: number; size: number };
}

export interface GroupEnvironment {
  errorLog: ErrorLog;
  /** Private directory for the group's socket. */
  socketDir: string;
  /** Distinguishes the groups' socket files (names can be long; socket paths cannot). */
  index: number;
  /** Interpreter-wide settings the workers need (WSGIRestrictSignal and the like). */
  workerSettings?: Record<string, unknown>;
  /** user=/group= (or User/Group): who the processes run as, when the server can switch users (root). */
  credentials?: Credentials | null;
}

/** A restart or recycle, for the log and the status page. */
export interface RestartRecord {
  at: number;
  pid: number;
  reason: string;
}

// Started by root for another user, the process first becomes that user (supplementary groups,
// group, user: as mod_wsgi's daemon processes do), before any application code can run.
const BOOTSTRAP =
  `import os, sys\nc = os.environ.pop('${CREDENTIALS_ENV}', None)\nif c:\n    u, g, n = c.split(':', 2)\n    os.setgroups(os.getgrouplist(n, int(g))); os.setgid(int(g)); os.setuid(int(u))\n` +
  'sys.path.insert(0, sys.argv.pop(1)); from wsgi_host.worker import main; main()';

/**
 * A process group (WSGIDaemonProcess): spawns its Python processes, keeps them running, replaces
 * them when they die or must be recycled, and gives requests to their threads through its
 * dispatcher.
 *
 * Every planned restart is rolling: a replacement is started first and the old process stops
 * taking requests only once the replacement is ready (or at once when its code is stale), then
 * finishes what it is running. So even a group of one process restarts without a gap.
 */
export class ProcessGroup implements ProcessHost {
  readonly dispatcher: Dispatcher;
  /** How responses reached their clients (status page, metrics). */
  readonly responseCounts: ResponseCounts = { lent: 0, copied: 0, spooled: 0, fileBytesSendfile: 0, fileBytesCopied: 0 };
  /** Deadlines of the group's running requests (socket-timeout, request-timeout). */
  readonly deadlines = new DeadlineWatch();
  readonly socketPath: string;
  private server: net.Server | null = null;
  /** Live processes, replacements and draining ones included. */
  private readonly procs = new Set<WorkerProcess>();
  private readonly byToken = new Map<string, WorkerProcess>();
  /** Consecutive failed starts per process number. */
  private readonly startupFailures = new Map<number, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private watchTimer: NodeJS.Timeout | null = null;
  private stopping = false;
  /** Restarts and recycles with their reasons (newest last). */
  readonly restarts: RestartRecord[] = [];
  /** How many restarts there have been for each reason, since the group started. */
  readonly restartTotals = new Map<string, number>();
  /** Request statistics, kept when the status page, metrics or slow-request log need them. */
  stats: GroupStats | null = null;
  /** How the group's processes run application groups, once one has said (logged once). */
  private applicationGroupMode: string | null = null;

  constructor(
    readonly config: ProcessGroupConfig,
    private readonly env: GroupEnvironment,
  ) {
    this.dispatcher = new Dispatcher(config.queueTimeout * 1000, config.sendAheadMs);
    this.socketPath = path.join(env.socketDir, `g${env.index}.sock`);
  }

  get groupName(): string {
    return this.config.name;
  }

  get capacity(): number {
    return this.config.processes * this.config.threads;
  }

  /** The live processes, oldest first. */
  get workers(): WorkerProcess[] {
    return [...this.procs].filter((p) => p.state !== 'exited');
  }

  /**
   * Requests waiting for a thread: those in the front end's queue, and those sent ahead to a busy
   * thread that has not got to them yet.
   */
  get queuedRequests(): number {
    let waiting = this.dispatcher.queued;
    for (const proc of this.procs) for (const interp of proc.allInterpreters()) waiting += interp.waitingAhead;
    return waiting;
  }

  /** Requests running in the group's processes now. */
  get activeRequests(): number {
    let active = 0;
    for (const proc of this.procs) active += proc.active;
    return active;
  }

  async start(): Promise<void> {
    await this.listen();
    for (let n = 1; n <= this.config.processes; n++) this.spawn(n);
    const cfg = this.config;
    if (cfg.maximumRss > 0 || cfg.deadlockTimeout > 0 || cfg.inactivityTimeout > 0 || cfg.restartInterval > 0) {
      this.watchTimer = setInterval(() => this.watch(), WATCH_INTERVAL_MS);
      this.watchTimer.unref();
    }
  }

  submit(item: Dispatchable): void {
    this.dispatcher.submit(item);
  }

  // -- ProcessHost -------------------------------------------------------------------------

  log(level: 'error' | 'warn' | 'info' | 'debug', message: string, context?: LogContext): void {
    this.env.errorLog.log('wsgi', level, message, context);
  }

  processLog(level: string, text: string, context: LogContext): void {
    this.env.errorLog.log('wsgi', isLogLevel(level) ? level : 'error', text, context);
  }

  processReady(proc: WorkerProcess, info: ReadyInfo): void {
    this.startupFailures.delete(proc.number);
    this.log('info', `Daemon process '${this.config.name}' (pid=${proc.pid}) is ready with ${this.config.threads} threads.`);
    this.noteApplicationGroupMode(info);
    // A replacement is ready: the process it replaces stops taking requests now.
    for (const other of this.procs) {
      if (other !== proc && other.number === proc.number && other.retiring !== null && other.state === 'ready') this.drain(other);
    }
    this.dispatcher.pump();
  }

  slotFreed(): void {
    this.dispatcher.pump();
  }

  interpreterAdded(interp: Interpreter): void {
    this.dispatcher.addPool(interp);
  }

  interpreterReady(interp: Interpreter): void {
    this.log('info', `The ${interp.describe()} of daemon process '${this.config.name}' (pid=${interp.pid}) is ready with ${this.config.threads} threads.`);
    this.dispatcher.pump();
  }

  interpreterGone(interp: Interpreter, why: string | null): void {
    if (why === null) {
      this.dispatcher.removePool(interp);
      this.dispatcher.pump();
      return;
    }
    this.dispatcher.interpreterFailed(
      interp,
      `WSGI0087: Unable to acquire ${interp.describe()} for WSGI request handler in daemon process '${this.config.name}'; it could not be started: ${why}`,
    );
  }

  /** Says once, at start, how the group's processes run application groups other than %{GLOBAL}. */
  private noteApplicationGroupMode(info: ReadyInfo): void {
    const mode = info.applicationGroups;
    if (mode === undefined || mode === this.applicationGroupMode) return;
    this.applicationGroupMode = mode;
    if (mode === 'sub-interpreters') {
      this.log('info', `Daemon process group '${this.config.name}' runs each application group other than %{GLOBAL} in a sub-interpreter of its own (${info.module ?? 'sub-interpreters'}).`);
    } else {
      const chosen = this.config.applicationGroups === 'processes';
      this.log(chosen ? 'info' : 'warn', `Daemon process group '${this.config.name}' runs each application group other than %{GLOBAL} in a process of its own, not a sub-interpreter: ${info.why ?? 'sub-interpreters are not available'}.`);
    }
  }

  requestDone(proc: WorkerProcess): void {
    if (proc.requestLimit > 0 && proc.requestsServed >= proc.requestLimit && proc.retiring === null) {
      this.replace(proc, 'maximum_requests', false);
    }
  }

  restartRequested(proc: WorkerProcess, reason: string, immediate: boolean): void {
    this.replace(proc, reason, immediate);
  }

  /** A request in `slot`'s process ran past request-timeout and could not be interrupted. */
  requestTimedOut(slot: ThreadSlot): void {
    for (const proc of this.procs) if (proc.owns(slot)) this.replace(proc, 'request_timeout', true);
  }

  // -- restarts ----------------------------------------------------------------------------

  /**
   * Replaces `proc` with a fresh process of the same number. Graceful: the old one keeps taking
   * requests until the replacement is ready. Immediate: it stops taking them now (its code is
   * stale, or it was told to restart at once). Either way it finishes its running requests
   * (graceful-timeout, or eviction-timeout for a graceful signal) before it is told to exit.
   */
  replace(proc: WorkerProcess, reason: string, immediate: boolean): void {
    if (proc.retiring !== null || proc.state === 'exited' || this.stopping) return;
    proc.retiring = reason;
    this.record(proc, reason);
    this.log('info', `Daemon process '${this.config.name}' (pid=${proc.pid}) is being restarted (reason: ${reason}); ${immediate ? 'it takes no new requests from now on' : 'it keeps serving until its replacement is ready'}.`);
    this.spawn(proc.number);
    if (immediate || proc.state === 'starting') this.drain(proc);
  }

  /**
   * Restarts every process, one after another: each replacement must be ready before the next
   * process is replaced, so the group never runs short and memory never doubles.
   */
  async restartAll(reason: string): Promise<void> {
    for (const proc of this.workers.filter((p) => p.retiring === null)) {
      if (this.stopping) return;
      this.replace(proc, reason, false);
      await this.whenNumberReady(proc.number, Math.max(this.config.startupTimeout, 60) * 1000);
    }
  }

  private whenNumberReady(number: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const deadline = Date.now() + timeoutMs;
      const check = (): void => {
        const ready = [...this.procs].some((p) => p.number === number && p.retiring === null && p.state === 'ready');
        if (ready || this.stopping || Date.now() > deadline) resolve();
        else this.later(check, 25);
      };
      check();
    });
  }

  private drain(proc: WorkerProcess): void {
    const reason = proc.retiring ?? '';
    // What mod_wsgi shuts down at once (SIGINT, a changed script, a load past startup-timeout)
    // skips the graceful wait: its running requests get shutdown-timeout, as there.
    const graceSeconds = SHUT_DOWN_AT_ONCE.has(reason) ? 0 : reason === 'graceful_signal' && this.config.evictionTimeout > 0 ? this.config.evictionTimeout : this.config.gracefulTimeout;
    void proc.stop(graceSeconds * 1000, Math.max(1, this.config.shutdownTimeout) * 1000);
  }

  private record(proc: WorkerProcess, reason: string): void {
    this.restarts.push({ at: Date.now(), pid: proc.pid, reason });
    this.restartTotals.set(reason, (this.restartTotals.get(reason) ?? 0) + 1);
    if (this.restarts.length > 100) this.restarts.shift();
  }

  /** Checks the limits that need watching: maximum-rss, deadlock-timeout, inactivity-timeout, restart-interval. */
  private watch(): void {
    const cfg = this.config;
    const now = Date.now();
    for (const proc of this.procs) {
      if (proc.state !== 'ready' || proc.retiring !== null) continue;
      const heartbeat = proc.oldestHeartbeat;
      if (cfg.deadlockTimeout > 0 && now - heartbeat > cfg.deadlockTimeout * 1000) {
        this.log('error', `Daemon process '${cfg.name}' (pid=${proc.pid}) has not run Python code for ${Math.round((now - heartbeat) / 1000)} seconds (deadlock-timeout ${cfg.deadlockTimeout}); killing it.`);
        this.record(proc, 'deadlock_timeout');
        proc.retiring = 'deadlock_timeout';
        this.spawn(proc.number);
        proc.kill('SIGKILL');
        continue;
      }
      if (cfg.restartInterval > 0 && now - proc.startedAt > cfg.restartInterval * 1000) {
        this.replace(proc, 'restart_interval', false);
        continue;
      }
      if (cfg.inactivityTimeout > 0 && proc.requestsServed > 0 && proc.active === 0 && now - proc.lastActivity > cfg.inactivityTimeout * 1000) {
        this.replace(proc, 'inactivity_timeout', false);
        continue;
      }
      if (cfg.maximumRss > 0) {
        const rss = proc.residentBytes();
        if (rss > cfg.maximumRss) {
          this.log('info', `Daemon process '${cfg.name}' (pid=${proc.pid}) uses ${Math.round(rss / 1024 / 1024)} MiB of resident memory, more than maximum-rss (${Math.round(cfg.maximumRss / 1024 / 1024)} MiB).`);
          this.replace(proc, 'maximum_rss', false);
        }
      }
    }
  }

  // -- processes ---------------------------------------------------------------------------

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (Buffer.byteLength(this.socketPath) > 107) {
        reject(new Error(`The socket path ${this.socketPath} is longer than the 107 bytes a UNIX socket path may have; use a shorter --socket-prefix (WSGISocketPrefix).`));
        return;
      }
      try {
        fs.unlinkSync(this.socketPath);
      } catch {
        // no stale socket
      }
      const server = net.createServer((socket) => this.onConnection(socket));
      server.once('error', (err) => reject(new Error(`Unable to listen on UNIX socket ${this.socketPath} for daemon process group '${this.config.name}': ${err.message}. Check that WSGISocketPrefix (--socket-prefix) names a writable directory.`)));
      server.listen(this.socketPath, () => {
        try {
          fs.chmodSync(this.socketPath, 0o600);
          // The group's user connects to it; nobody else can (the directory is theirs alone too).
          const who = this.env.credentials;
          if (who != null && runningAsRoot()) fs.chownSync(this.socketPath, who.uid, who.gid);
        } catch {
          // the private directory already protects it
        }
        this.server = server;
        resolve();
      });
    });
  }

  private spawn(number: number): void {
    if (this.stopping) return;
    const token = randomBytes(16).toString('hex');
    const cfg = this.config;
    const workerConfig = {
      ...this.env.workerSettings,
      socket: this.socketPath,
      token,
      group: cfg.name,
      processNumber: number,
      processes: cfg.processes,
      threads: cfg.threads,
      applicationGroups: cfg.applicationGroups,
      pythonFlags: cfg.interpreterFlags,
      multiprocess: cfg.multiprocess,
      runOnce: cfg.threads === 1 && cfg.maximumRequests === 1,
      pythonPath: cfg.pythonPath,
      home: cfg.home,
      preload: cfg.preload,
      // Without display-name, mod_wsgi's %{GROUP} form, so every daemon process can be told apart in ps.
      displayName: cfg.displayName ?? `(wsgi:${cfg.name})`,
      umask: cfg.umask,
      cpuPriority: cfg.cpuPriority,
      schedulingPolicy: cfg.schedulingPolicy,
      memoryLimit: cfg.memoryLimit,
      virtualMemoryLimit: cfg.virtualMemoryLimit,
      cpuTimeLimit: cfg.cpuTimeLimit,
      stackSize: cfg.stackSize,
      switchInterval: cfg.switchInterval,
      startupTimeout: cfg.startupTimeout,
      queueTimeout: cfg.queueTimeout,
      reloadOnChanges: cfg.reloadOnChanges,
    };
    const environment: NodeJS.ProcessEnv = { ...process.env, ...cfg.environment, WSGI_HOST_WORKER: JSON.stringify(workerConfig) };
    if (cfg.lang !== null) environment['LANG'] = cfg.lang;
    if (cfg.locale !== null) environment['LC_ALL'] = cfg.locale;
    const who = this.env.credentials;
    if (who != null) {
      // As mod_wsgi sets them for a daemon process's user.
      Object.assign(environment, { HOME: who.home, USER: who.name, LOGNAME: who.name, USERNAME: who.name });
      if (runningAsRoot()) environment[CREDENTIALS_ENV] = credentialsForWorker(who);
    }
    const child = spawn(cfg.python, [...cfg.interpreterFlags, '-c', BOOTSTRAP, PYTHON_RUNTIME_DIR], {
      cwd: cfg.home ?? process.cwd(),
      env: environment,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a terminal's Ctrl-C reaches only the front end, which then
      // stops the workers in order.
      detached: true,
    });
    const limit = cfg.maximumRequests > 0 ? cfg.maximumRequests + (cfg.maximumRequestsJitter > 0 ? randomInt(cfg.maximumRequestsJitter + 1) : 0) : 0;
    const proc = new WorkerProcess(this, number, token, child, limit, cfg.threads);
    this.procs.add(proc);
    this.byToken.set(token, proc);
    this.dispatcher.addProcess(proc);
    this.dispatcher.addPool(proc.main);
    this.log('info', `Starting process '${cfg.name}' (pid=${child.pid ?? '?'}) with threads=${cfg.threads}.`);

    for (const stream of [child.stdout, child.stderr]) {
      if (stream === null) continue;
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (text: string) => {
        const lines = (partial + text).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) this.onOutput(proc, line);
      });
      stream.on('end', () => {
        if (partial) this.onOutput(proc, partial);
        partial = '';
      });
    }

    // startup-timeout also bounds how long preloading may take.
    const readyTimeoutMs = cfg.startupTimeout > 0 ? cfg.startupTimeout * 1000 : DEFAULT_READY_TIMEOUT_MS;
    const readyTimer = setTimeout(() => {
      if (proc.state === 'starting') {
        this.log('error', `Daemon process '${cfg.name}' (pid=${proc.pid}) did not become ready within ${readyTimeoutMs / 1000} seconds${cfg.startupTimeout > 0 ? ' (startup-timeout)' : ''}; killing it.`);
        proc.kill('SIGKILL');
      }
    }, readyTimeoutMs);
    readyTimer.unref();

    child.on('error', (err) => {
      clearTimeout(readyTimer);
      // spawn failed (the interpreter vanished since start-up, say); there will be no 'exit'.
      if (proc.state !== 'exited') this.onExit(proc, null, null, `could not be started: ${err.message}`);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(readyTimer);
      this.onExit(proc, code, signal);
    });
  }

  private onOutput(proc: WorkerProcess, line: string): void {
    proc.noteOutput(line);
    this.env.errorLog.log('wsgi', 'error', line, { pid: proc.pid });
  }

  private onExit(proc: WorkerProcess, code: number | null, signal: NodeJS.Signals | null, failure?: string): void {
    if (proc.state === 'exited') return;
    const wasStarting = proc.state === 'starting';
    const planned = proc.retiring !== null;
    const description = failure ?? proc.exited(code, signal);
    if (failure !== undefined) proc.exited(null, null);
    this.byToken.delete(proc.token);
    this.dispatcher.removeProcess(proc);
    this.procs.delete(proc);
    proc.settle();
    if (this.stopping || planned) {
      this.log('info', `Daemon process '${this.config.name}' (pid=${proc.pid}) ${description}.`);
      // A planned replacement that failed to start leaves its number without a process.
      if (!this.stopping && !this.hasProcessNumbered(proc.number)) this.spawn(proc.number);
      return;
    }
    if (!wasStarting) {
      this.record(proc, description);
      this.log('error', `Daemon process '${this.config.name}' (pid=${proc.pid}) ${description}; restarting it.`);
      // Its retiring predecessor, if any, serves on in the meantime.
      this.spawn(proc.number);
      return;
    }
    const failures = (this.startupFailures.get(proc.number) ?? 0) + 1;
    this.startupFailures.set(proc.number, failures);
    const delay = Math.min(FIRST_RESTART_DELAY_MS * 2 ** (failures - 1), MAX_RESTART_DELAY_MS);
    const lastOutput = proc.recentOutput.filter((l) => l.trim() !== '').at(-1);
    this.record(proc, `failed start: ${description}`);
    this.log(
      'error',
      `Daemon process '${this.config.name}' (pid=${proc.pid}) ${description} before it was ready ` +
        `(${failures} failed start${failures === 1 ? '' : 's'} in a row); restarting it in ${(delay / 1000).toFixed(1)} seconds.` +
        (lastOutput !== undefined ? ` Its last output was: ${lastOutput.trim()}` : ''),
    );
    this.later(() => this.spawn(proc.number), delay);
  }

  private hasProcessNumbered(number: number): boolean {
    for (const proc of this.procs) if (proc.number === number) return true;
    return false;
  }

  private later(fn: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  /** Routes a new connection from a worker: first frame must be its HELLO. */
  private onConnection(socket: net.Socket): void {
    const decoder = new FrameDecoder();
    let deliver = (type: number, payload: Buffer): void => {
      if (type !== FromWorker.Hello) throw new ProtocolError(`expected a hello frame, got 0x${type.toString(16)}`);
      let hello: HelloMessage;
      try {
        hello = JSON.parse(payload.toString('utf8')) as HelloMessage;
      } catch {
        throw new ProtocolError('malformed hello frame');
      }
      const proc = this.byToken.get(hello.token);
      if (proc === undefined || proc.state === 'exited') {
        socket.destroy();
        return;
      }
      if (hello.role === 'control') {
        deliver = proc.attachControl(socket);
        return;
      }
      if (proc.state === 'draining') {
        socket.destroy();
        return;
      }
      const applicationGroup = hello.applicationGroup ?? '';
      if (hello.role === 'interpreter') {
        deliver = proc.attachInterpreter(socket, applicationGroup, hello.pid);
      } else {
        socket.setNoDelay(true);
        // The region is in the thread's own process: the daemon process, or a process of its own
        // for an application group, which must be the daemon process's child (a worker may only
        // point at files of processes it started).
        const regionPid = proc.isSelfOrChild(hello.pid) ? hello.pid : null;
        const region = hello.region === undefined || regionPid === null ? null : ResponseRegion.open(regionPid, hello.region.fd, hello.region.size);
        const slot = proc.attachThread(socket, hello.thread, hello.tid, applicationGroup, region);
        deliver = (t, p) => slot.deliver(t, p);
      }
    };
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk, (type, payload) => deliver(type, payload));
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        this.log('error', `Protocol error on a connection from daemon process group '${this.config.name}': ${err.message}; dropping the connection.`);
        socket.destroy();
      }
    });
    socket.on('error', () => {});
  }

  /**
   * Resolves when every process of the group is ready for requests; rejects if one fails to
   * start or `timeoutMs` passes first (used to bring a new configuration in without a gap).
   */
  whenReady(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      const check = (): void => {
        const ready = [...this.procs].filter((p) => p.state === 'ready' && p.retiring === null).length;
        if (ready >= this.config.processes) return resolve();
        if ([...this.startupFailures.values()].some((n) => n > 0)) return reject(new Error(`a process of group '${this.config.name}' failed to start`));
        if (Date.now() > deadline) return reject(new Error(`the processes of group '${this.config.name}' were not ready within ${timeoutMs / 1000} seconds`));
        this.later(check, 25);
      };
      check();
    });
  }

  /**
   * Stops every process: running requests get `graceMs` to finish, then processes are told to
   * exit (requests still running get `runningGraceMs` more) and are killed if they have not
   * `killAfterMs` later. Resolves when all have exited.
   */
  async stop(graceMs: number, killAfterMs: number, runningGraceMs = killAfterMs): Promise<void> {
    this.stopping = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (this.watchTimer !== null) clearInterval(this.watchTimer);
    this.dispatcher.close();
    this.deadlines.close();
    await Promise.all(this.workers.map((proc) => proc.stop(graceMs, killAfterMs, runningGraceMs)));
    await new Promise<void>((resolve) => {
      if (this.server === null) {
        resolve();
        return;
      }
      this.server.close(() => resolve());
      this.server = null;
    });
    try {
      fs.unlinkSync(this.socketPath);
    } catch {
      // already gone
    }
  }

  /**
   * Retires the group after a configuration change: it takes no new requests (the front end no
   * longer routes to it), serves what is queued and running, then stops. Running requests get
   * up to `graceMs` before the processes are told to exit.
   */
  async retire(graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && (this.dispatcher.queued > 0 || this.activeRequests > 0)) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await this.stop(0, Math.max(1, this.config.shutdownTimeout) * 1000);
  }
}
