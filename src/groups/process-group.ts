import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { ProcessGroupConfig } from '../config/model';
import type { ErrorLog, LogContext } from '../log/error-log';
import { isLogLevel } from '../log/error-log';
import { FrameDecoder, FromWorker, ProtocolError } from '../protocol/frames';
import { PYTHON_RUNTIME_DIR } from '../paths';
import { Dispatcher, type Dispatchable } from './dispatcher';
import { WorkerProcess, type ProcessHost } from './worker-process';

/** The longest startup-failure back-off. */
const MAX_RESTART_DELAY_MS = 30_000;
const FIRST_RESTART_DELAY_MS = 500;
/** A process that has not connected and said it is ready by then is killed and restarted. */
const READY_TIMEOUT_MS = 60_000;

interface HelloMessage {
  token: string;
  pid: number;
  role: 'control' | 'request';
  thread: number;
  tid: number;
}

export interface GroupEnvironment {
  errorLog: ErrorLog;
  /** Private directory for the group's socket. */
  socketDir: string;
  /** Distinguishes the groups' socket files (names can be long; socket paths cannot). */
  index: number;
}

const BOOTSTRAP =
  'import sys; sys.path.insert(0, sys.argv.pop(1)); from wsgi_host.worker import main; main()';

/**
 * A process group (WSGIDaemonProcess): spawns its Python processes, keeps them running, and gives
 * requests to their threads through its dispatcher.
 */
export class ProcessGroup implements ProcessHost {
  readonly dispatcher: Dispatcher;
  readonly socketPath: string;
  private server: net.Server | null = null;
  private readonly processes: (WorkerProcess | null)[];
  private readonly byToken = new Map<string, WorkerProcess>();
  private readonly startupFailures: number[];
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private stopping = false;
  /** Restarts by reason, for the status page. */
  readonly restarts: { at: number; pid: number; reason: string }[] = [];

  constructor(
    readonly config: ProcessGroupConfig,
    private readonly env: GroupEnvironment,
  ) {
    this.dispatcher = new Dispatcher(config.queueTimeout * 1000);
    this.socketPath = path.join(env.socketDir, `g${env.index}.sock`);
    this.processes = new Array(config.processes).fill(null);
    this.startupFailures = new Array(config.processes).fill(0);
  }

  get groupName(): string {
    return this.config.name;
  }

  get capacity(): number {
    return this.config.processes * this.config.threads;
  }

  /** The running processes (for status and tests). */
  get workers(): WorkerProcess[] {
    return this.processes.filter((p): p is WorkerProcess => p !== null);
  }

  async start(): Promise<void> {
    await this.listen();
    for (let i = 0; i < this.config.processes; i++) this.spawn(i);
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

  processReady(proc: WorkerProcess): void {
    this.startupFailures[proc.number - 1] = 0;
    this.log('info', `Daemon process '${this.config.name}' (pid=${proc.pid}) is ready with ${this.config.threads} threads.`);
    this.dispatcher.pump();
  }

  slotFreed(): void {
    this.dispatcher.pump();
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
        } catch {
          // the private directory already protects it
        }
        this.server = server;
        resolve();
      });
    });
  }

  private spawn(index: number): void {
    const token = randomBytes(16).toString('hex');
    const cfg = this.config;
    const workerConfig = {
      socket: this.socketPath,
      token,
      group: cfg.name,
      processNumber: index + 1,
      processes: cfg.processes,
      threads: cfg.threads,
      multiprocess: cfg.multiprocess,
      runOnce: cfg.threads === 1 && cfg.maximumRequests === 1,
      pythonPath: cfg.pythonPath,
      home: cfg.home,
      preload: cfg.preload,
    };
    const environment: NodeJS.ProcessEnv = { ...process.env, ...cfg.environment, WSGI_HOST_WORKER: JSON.stringify(workerConfig) };
    if (cfg.lang !== null) environment['LANG'] = cfg.lang;
    if (cfg.locale !== null) environment['LC_ALL'] = cfg.locale;
    const child = spawn(cfg.python, [...cfg.interpreterFlags, '-c', BOOTSTRAP, PYTHON_RUNTIME_DIR], {
      cwd: cfg.home ?? process.cwd(),
      env: environment,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a terminal's Ctrl-C reaches only the front end, which then
      // stops the workers in order.
      detached: true,
    });
    const proc = new WorkerProcess(this, index + 1, token, child);
    this.processes[index] = proc;
    this.byToken.set(token, proc);
    this.dispatcher.addPool(proc);
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

    const readyTimer = setTimeout(() => {
      if (proc.state === 'starting') {
        this.log('error', `Daemon process '${cfg.name}' (pid=${proc.pid}) did not become ready within ${READY_TIMEOUT_MS / 1000} seconds; killing it.`);
        proc.kill('SIGKILL');
      }
    }, READY_TIMEOUT_MS);
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
    const wasStopping = proc.state === 'stopping';
    const description = failure ?? proc.exited(code, signal);
    if (failure !== undefined) proc.exited(null, null);
    this.byToken.delete(proc.token);
    this.dispatcher.removePool(proc);
    proc.settle();
    const index = proc.number - 1;
    if (this.processes[index] === proc) this.processes[index] = null;
    if (this.stopping || wasStopping) {
      this.log('info', `Daemon process '${this.config.name}' (pid=${proc.pid}) ${description}.`);
      if (wasStopping && !this.stopping) this.spawn(index);
      return;
    }
    this.restarts.push({ at: Date.now(), pid: proc.pid, reason: description });
    if (this.restarts.length > 100) this.restarts.shift();
    if (!wasStarting) {
      this.log('error', `Daemon process '${this.config.name}' (pid=${proc.pid}) ${description}; restarting it.`);
      this.spawn(index);
      return;
    }
    const failures = ++this.startupFailures[index]!;
    const delay = Math.min(FIRST_RESTART_DELAY_MS * 2 ** (failures - 1), MAX_RESTART_DELAY_MS);
    const lastOutput = proc.recentOutput.filter((l) => l.trim() !== '').at(-1);
    this.log(
      'error',
      `Daemon process '${this.config.name}' (pid=${proc.pid}) ${description} before it was ready ` +
        `(${failures} failed start${failures === 1 ? '' : 's'} in a row); restarting it in ${(delay / 1000).toFixed(1)} seconds.` +
        (lastOutput !== undefined ? ` Its last output was: ${lastOutput.trim()}` : ''),
    );
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (!this.stopping) this.spawn(index);
    }, delay);
    this.restartTimers.add(timer);
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
      } else {
        if (proc.state === 'stopping') {
          socket.destroy();
          return;
        }
        socket.setNoDelay(true);
        const slot = proc.attachThread(socket, hello.thread, hello.tid);
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
   * Stops every process: running requests get `graceMs` to finish, then processes are told to
   * exit and are killed if they have not `killAfterMs` later. Resolves when all have exited.
   */
  async stop(graceMs: number, killAfterMs: number): Promise<void> {
    this.stopping = true;
    for (const timer of this.restartTimers) clearTimeout(timer);
    this.restartTimers.clear();
    this.dispatcher.close();
    await Promise.all(this.workers.map((proc) => proc.stop(graceMs, killAfterMs)));
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

  /** Requests running in the group's processes now. */
  get activeRequests(): number {
    return this.workers.reduce((sum, proc) => sum + proc.active, 0);
  }

  /**
   * Resolves when every process of the group is ready for requests; rejects if one fails to
   * start or `timeoutMs` passes first (used to bring a new configuration in without a gap).
   */
  whenReady(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      const check = (): void => {
        const workers = this.workers;
        if (workers.length === this.config.processes && workers.every((p) => p.state === 'ready')) return resolve();
        if (this.startupFailures.some((n) => n > 0)) return reject(new Error(`a process of group '${this.config.name}' failed to start`));
        if (Date.now() > deadline) return reject(new Error(`the processes of group '${this.config.name}' were not ready within ${timeoutMs / 1000} seconds`));
        setTimeout(check, 25);
      };
      check();
    });
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
