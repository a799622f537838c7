import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const APPS = path.join(ROOT, 'test', 'apps');
export const CLI = path.join(ROOT, 'bin', 'wsgi-host.js');

export function app(name: string): string {
  return path.join(APPS, name);
}

/** A wsgi-host process started for a test, with its output captured. */
export class RunningServer {
  stdout = '';
  stderr = '';
  port = 0;
  private exitWaiters: ((code: number | null) => void)[] = [];
  exitCode: number | null | undefined = undefined;
  private outputWaiters: (() => void)[] = [];

  constructor(readonly child: ChildProcess, readonly serverRoot: string) {
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (text: string) => {
      this.stdout += text;
      this.notify();
    });
    child.stderr!.on('data', (text: string) => {
      this.stderr += text;
      this.notify();
    });
    child.on('exit', (code) => {
      this.exitCode = code;
      for (const waiter of this.exitWaiters) waiter(code);
      this.exitWaiters = [];
      this.notify();
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private notify(): void {
    const waiters = this.outputWaiters;
    this.outputWaiters = [];
    for (const waiter of waiters) waiter();
  }

  /** Waits until `predicate` holds for the captured output (checked whenever output arrives). */
  async waitFor(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 || this.exitCode !== undefined) {
        if (predicate()) return;
        throw new Error(`timed out waiting for ${what}\n--- stdout ---\n${this.stdout}\n--- stderr ---\n${this.stderr}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(remaining, 200));
        this.outputWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for an error log line matching `pattern`; returns the matching line. */
  async waitForLog(pattern: RegExp | string, timeoutMs = 10_000): Promise<string> {
    const test = (line: string): boolean => (typeof pattern === 'string' ? line.includes(pattern) : pattern.test(line));
    await this.waitFor(() => this.stderr.split('\n').some(test), `a log line matching ${pattern}`, timeoutMs);
    return this.stderr.split('\n').find(test)!;
  }

  logLines(): string[] {
    return this.stderr.split('\n').filter((l) => l.length > 0);
  }

  waitForExit(timeoutMs = 15_000): Promise<number | null> {
    if (this.exitCode !== undefined) return Promise.resolve(this.exitCode);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not exit within ${timeoutMs} ms\n${this.stderr}`)), timeoutMs);
      this.exitWaiters.push((code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  }

  /** Stops the server with SIGTERM and waits for it to exit; kills it if it hangs. */
  async stop(): Promise<void> {
    if (this.exitCode === undefined) {
      this.child.kill('SIGTERM');
      try {
        await this.waitForExit(15_000);
      } catch {
        this.child.kill('SIGKILL');
        await this.waitForExit(5_000);
      }
    }
    // Also for a server that exited by itself (a test that stopped it, or one that failed to start).
    if (this.serverRoot !== '') fs.rmSync(this.serverRoot, { recursive: true, force: true });
  }
}

export interface StartOptions {
  /** Extra environment variables for the server. */
  env?: Record<string, string>;
  cwd?: string;
  /** Do not wait for the banner (for tests of start-up failures). */
  expectFailure?: boolean;
  /** Do not wait for the worker processes to be ready (for processes that never will be). */
  dontWaitForWorkers?: boolean;
  /** A command that runs the server (it must exec it, keeping the pid), e.g. setpriv with its options. */
  launcher?: string[];
}

/**
 * Every server root made in this test process: removed when it exits, for the servers a test
 * let exit on their own (start-up failures) and never stopped.
 */
const serverRoots = new Set<string>();
process.on('exit', () => {
  for (const root of serverRoots) fs.rmSync(root, { recursive: true, force: true });
});

/**
 * Starts `wsgi-host start-server` on a port the system chooses, logging to the terminal at level
 * info unless `args` says otherwise, and waits until every worker process is ready (so tests do
 * not depend on how fast processes start).
 */
export async function startServer(args: string[], options: StartOptions = {}): Promise<RunningServer> {
  const serverRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-host-test-'));
  serverRoots.add(serverRoot);
  const level = args.includes('--log-level') ? [] : ['--log-level', 'info'];
  const command = [...(options.launcher ?? []), process.execPath, CLI, 'start-server', '--port', '0', '--host', '127.0.0.1', '--log-to-terminal', '--server-root', serverRoot, ...level, ...args];
  const child = spawn(command[0]!, command.slice(1), {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const server = new RunningServer(child, serverRoot);
  if (options.expectFailure) return server;
  try {
    await server.waitFor(() => /Server URL\s*: http:\/\/[^:]+:(\d+)/.test(server.stdout), 'the start-up banner', 30_000);
    server.port = Number(/Server URL\s*: http:\/\/[^:]+:(\d+)/.exec(server.stdout)![1]);
    const processes = Number(/Request Capacity\s*: \d+ \((\d+) process/.exec(server.stdout)?.[1] ?? '0');
    if (level.length > 0 && processes > 0 && !options.dontWaitForWorkers) {
      await server.waitFor(() => (server.stderr.match(/ is ready with \d+ threads/g)?.length ?? 0) >= processes, `${processes} ready worker processes`, 30_000);
    }
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

/**
 * Starts `wsgi-host serve -f FILE` and waits for its banner; `port` is the first listener's.
 * The file's own error logs are where its log lines go (the server's stderr has only start-up
 * problems), so tests read those files.
 */
export async function startServe(configFile: string, options: StartOptions & { args?: string[] } = {}): Promise<RunningServer> {
  const child = spawn(process.execPath, [CLI, 'serve', '-f', configFile, ...(options.args ?? [])], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const server = new RunningServer(child, '');
  if (options.expectFailure) return server;
  try {
    await server.waitFor(() => /Listening\s*: http:\/\/[^\s,]+:(\d+)\//.test(server.stdout), 'the start-up banner', 30_000);
  } catch (err) {
    await server.stop();
    throw err;
  }
  server.port = Number(/Listening\s*: http:\/\/[^\s,]+:(\d+)\//.exec(server.stdout)![1]);
  return server;
}

/** A port that was free a moment ago, for configuration files that must name their ports. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const port = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(port));
    });
  });
}

/** Waits until `file` exists and holds a line matching `pattern`; returns that line. */
export async function waitForFileLine(file: string, pattern: RegExp | string, timeoutMs = 10_000): Promise<string> {
  const test = (line: string): boolean => (typeof pattern === 'string' ? line.includes(pattern) : pattern.test(line));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    const line = text.split('\n').find(test);
    if (line !== undefined) return line;
    if (Date.now() > deadline) throw new Error(`no line matching ${pattern} in ${file} within ${timeoutMs} ms; it holds:\n${text}`);
    await sleep(50);
  }
}

/** Starts a server for the duration of a test suite (use with before/after). */
export function serverFixture(args: string[], options: StartOptions = {}): { get: () => RunningServer; start: () => Promise<void>; stop: () => Promise<void> } {
  let server: RunningServer | null = null;
  return {
    get: () => {
      if (server === null) throw new Error('server not started');
      return server;
    },
    start: async () => {
      server = await startServer(args, options);
    },
    stop: async () => {
      await server?.stop();
    },
  };
}

export interface Response {
  status: number;
  statusMessage: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  text: string;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string | number | string[]>;
  body?: Buffer | string;
  timeoutMs?: number;
}

/** One HTTP request on a fresh connection. */
export function request(url: string, options: RequestOptions = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode!, statusMessage: res.statusMessage ?? '', headers: res.headers, rawHeaders: res.rawHeaders, body, text: body.toString('latin1') });
      });
      res.on('error', reject);
    });
    req.setTimeout(options.timeoutMs ?? 15_000, () => req.destroy(new Error(`request to ${url} timed out`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

export async function getJson<T = Record<string, unknown>>(url: string, options: RequestOptions = {}): Promise<T> {
  const res = await request(url, options);
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}\n${res.text}`);
  return JSON.parse(res.body.toString('utf8')) as T;
}

/**
 * Sends raw bytes on a new connection and collects everything the server sends back until it
 * closes the connection or `idleMs` pass without data.
 */
export function rawExchange(port: number, data: Buffer | string, idleMs = 1500): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | null = null;
    const finish = (): void => {
      if (timer !== null) clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks));
    };
    const arm = (): void => {
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(finish, idleMs);
    };
    socket.on('connect', () => {
      socket.write(data);
      arm();
    });
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      arm();
    });
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('error', (err) => (chunks.length > 0 ? finish() : reject(err)));
  });
}

/** Debian's Python, which has Flask, Django and numpy from apt; null if absent. */
export function systemPython(): string | null {
  return fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : null;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A site served with `wsgi-host serve -f`, from a configuration written by the test. */
export interface Site {
  dir: string;
  server: RunningServer;
  url: string;
  errorLog: string;
  accessLog: string;
  get(urlPath: string, headers?: Record<string, string>, method?: string): Promise<Response>;
  /** Waits for an error log line matching `pattern` (after `from` bytes); returns it. */
  waitForLog(pattern: RegExp, from?: number): Promise<string>;
  /** The error log's current size, to look only at what comes after. */
  logMark(): number;
  stop(): Promise<void>;
}

/**
 * Writes `config` (with {{ROOT}}, {{PORT}}, {{APPS}} filled in) into a fresh directory and
 * serves it. The configuration should log to {{ROOT}}/error_log and {{ROOT}}/access_log.
 */
export async function serveSite(config: string, files: Record<string, string> = {}): Promise<Site> {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-site-')));
  const port = await freePort();
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  const file = path.join(dir, 'httpd.conf');
  fs.writeFileSync(file, config.replaceAll('{{ROOT}}', dir).replaceAll('{{PORT}}', String(port)).replaceAll('{{APPS}}', APPS));
  const server = await startServe(file);
  const url = `http://127.0.0.1:${server.port}`;
  const errorLog = path.join(dir, 'error_log');
  const read = (): string => (fs.existsSync(errorLog) ? fs.readFileSync(errorLog, 'utf8') : '');
  return {
    dir,
    server,
    url,
    errorLog,
    accessLog: path.join(dir, 'access_log'),
    get: (urlPath, headers = {}, method = 'GET') => request(url + urlPath, { headers, method }),
    logMark: () => Buffer.byteLength(read()),
    waitForLog: async (pattern, from = 0) => {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const text = Buffer.from(read()).subarray(from).toString('utf8');
        const line = text.split('\n').find((l) => pattern.test(l));
        if (line !== undefined) return line;
        if (Date.now() > deadline) throw new Error(`no line matching ${pattern} in ${errorLog}:\n${text}`);
        await sleep(50);
      }
    },
    stop: async () => {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
