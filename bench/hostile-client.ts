/**
 * The hostile-client run (a script, not a unit test): a wsgi-host server with start-server's
 * defaults is attacked for HOSTILE_SECONDS (default 30) by
 *
 *   - 500 slowloris connections (HOSTILE_SLOWLORIS): each sends a request head a few bytes at a
 *     time, every few seconds, and reconnects as soon as the server drops it;
 *   - 50 slow-body connections (HOSTILE_SLOW_BODIES): a POST of 10,000 bytes
 *     (HOSTILE_SLOW_BODY_BYTES; 2000000 makes them bodies the front end spools to disk) whose
 *     body trickles in a byte a second;
 *   - oversized requests: a 20 MB announced body, a 20 KB header field, a 10 KB request line,
 *     200 header fields;
 *   - malformed requests: random bytes, bad chunk framing, Content-Length with chunked, an
 *     unknown transfer coding, a bad method;
 *
 * while a normal client keeps sending ordinary requests on keep-alive connections. It prints the
 * normal client's success rate and latency percentiles, and what the attackers got back.
 *
 *   npm run hostile             (HOSTILE_SECONDS, HOSTILE_SLOWLORIS, HOSTILE_CLIENTS change it;
 *                                HOSTILE_SPOOLING=off runs the server with --request-body-spooling=off)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const SECONDS = Number(process.env['HOSTILE_SECONDS'] ?? 30);
const SLOWLORIS = Number(process.env['HOSTILE_SLOWLORIS'] ?? 500);
const SLOW_BODIES = Number(process.env['HOSTILE_SLOW_BODIES'] ?? 50);
/**
 * The slow bodies' announced length. The front end reads a body whole before a Python thread gets
 * the request: up to 1 MiB in memory, beyond that into a spool file (request body spooling).
 */
const SLOW_BODY_BYTES = Number(process.env['HOSTILE_SLOW_BODY_BYTES'] ?? 10_000);
/** HOSTILE_SPOOLING=off: bodies over 1 MiB stream to the application as it reads them (mod_wsgi's way). */
const SPOOLING = process.env['HOSTILE_SPOOLING'] === 'off' ? 'off' : 'on';
const CLIENTS = Number(process.env['HOSTILE_CLIENTS'] ?? 2);

const APP = `def application(environ, start_response):
    body = environ['wsgi.input'].read()
    out = b'hello, %d bytes' % len(body)
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(out)))])
    return [out]
`;

let stopping = false;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function startServer(dir: string): Promise<{ child: ChildProcess; port: number }> {
  let stdout = '';
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'wsgi-host.js'), 'start-server', path.join(dir, 'app.wsgi'), '--port', '0', '--host', '127.0.0.1', '--server-root', path.join(dir, 'root'), '--processes', '2', '--threads', '5', '--log-level', 'error', `--request-body-spooling=${SPOOLING}`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (text: string) => (stdout += text));
  const deadline = Date.now() + 30_000;
  while (!/Server URL\s*: http:\/\/[^:]+:(\d+)/.test(stdout)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the server did not start:\n${stdout}`);
    await sleep(50);
  }
  const port = Number(/Server URL\s*: http:\/\/[^:]+:(\d+)/.exec(stdout)![1]);
  // Wait until the workers answer.
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
      }).on('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error('the workers never answered');
    await sleep(100);
  }
  return { child, port };
}

// -- attackers -------------------------------------------------------------------------------

const attack = {
  slowlorisOpened: 0,
  slowlorisDropped: 0,
  slowBodiesOpened: 0,
  slowBodyAnswers: new Map<string, number>(),
  oversized: new Map<string, number>(),
  malformed: new Map<string, number>(),
};

function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** One slowloris connection, reopened whenever the server drops it. */
async function slowloris(port: number): Promise<void> {
  while (!stopping) {
    await new Promise<void>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      let timer: NodeJS.Timeout | null = null;
      const done = (): void => {
        if (timer !== null) clearTimeout(timer);
        socket.destroy();
        resolve();
      };
      socket.on('connect', () => {
        attack.slowlorisOpened++;
        socket.write('GET /slowloris HTTP/1.1\r\nHost: victim\r\n');
        const drip = (): void => {
          if (stopping) return done();
          socket.write(`X-${Math.random().toString(36).slice(2, 6)}: x\r\n`);
          timer = setTimeout(drip, 3000 + Math.random() * 4000);
        };
        timer = setTimeout(drip, 3000 + Math.random() * 4000);
      });
      socket.on('data', () => {});
      socket.on('close', () => {
        if (!stopping) attack.slowlorisDropped++;
        done();
      });
      socket.on('error', () => {});
    });
    if (!stopping) await sleep(50);
  }
}

/** A POST whose body arrives a byte a second. */
async function slowBody(port: number): Promise<void> {
  while (!stopping) {
    await new Promise<void>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      let timer: NodeJS.Timeout | null = null;
      let reply = '';
      socket.on('connect', () => {
        attack.slowBodiesOpened++;
        socket.write(`POST /slow-body HTTP/1.1\r\nHost: victim\r\nContent-Length: ${SLOW_BODY_BYTES}\r\n\r\n`);
        const drip = (): void => {
          if (stopping) {
            socket.destroy();
            return;
          }
          socket.write('x');
          timer = setTimeout(drip, 1000);
        };
        drip();
      });
      socket.setEncoding('latin1');
      socket.on('data', (text: string) => (reply += text));
      socket.on('close', () => {
        if (timer !== null) clearTimeout(timer);
        if (!stopping) count(attack.slowBodyAnswers, /^HTTP\/1\.1 (\d+)/.exec(reply)?.[1] ?? 'closed');
        resolve();
      });
      socket.on('error', () => {});
    });
  }
}

/** Sends raw bytes and returns the status of the answer ("closed" if none). */
function rawStatus(port: number, bytes: Buffer | string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    const timer = setTimeout(() => socket.destroy(), 10_000);
    socket.setEncoding('latin1');
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (text: string) => {
      reply += text;
      if (reply.includes('\r\n\r\n')) socket.destroy();
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(/^HTTP\/1\.1 (\d+)/.exec(reply)?.[1] ?? 'closed');
    });
    socket.on('error', () => {});
  });
}

const OVERSIZED: Record<string, string> = {
  'body 20 MB': 'POST / HTTP/1.1\r\nHost: victim\r\nContent-Length: 20000000\r\n\r\n' + 'x'.repeat(1000),
  'field 20 KB': `GET / HTTP/1.1\r\nHost: victim\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
  'line 10 KB': `GET /${'a'.repeat(10_000)} HTTP/1.1\r\nHost: victim\r\n\r\n`,
  '200 fields': `GET / HTTP/1.1\r\nHost: victim\r\n${Array.from({ length: 200 }, (_, i) => `X-F${i}: v\r\n`).join('')}\r\n`,
};

const MALFORMED: Record<string, () => Buffer | string> = {
  'random bytes': () => Buffer.from(Array.from({ length: 200 }, () => Math.floor(Math.random() * 256))),
  'bad chunk': () => 'POST / HTTP/1.1\r\nHost: victim\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
  'CL + TE': () => 'POST / HTTP/1.1\r\nHost: victim\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'TE gzip, chunked': () => 'POST / HTTP/1.1\r\nHost: victim\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
  'bad method': () => 'G@T / HTTP/1.1\r\nHost: victim\r\n\r\n',
  'no Host': () => 'GET / HTTP/1.1\r\n\r\n',
};

async function abuse(port: number): Promise<void> {
  while (!stopping) {
    for (const [name, bytes] of Object.entries(OVERSIZED)) count(attack.oversized, `${name} -> ${await rawStatus(port, bytes)}`);
    for (const [name, make] of Object.entries(MALFORMED)) count(attack.malformed, `${name} -> ${await rawStatus(port, make())}`);
  }
}

// -- the normal client -----------------------------------------------------------------------

interface ClientResult {
  ok: number;
  failed: number;
  latenciesMs: number[];
  errors: Map<string, number>;
}

async function normalClient(port: number, result: ClientResult): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  while (!stopping) {
    const started = performance.now();
    const outcome = await new Promise<string>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/normal', method: 'POST', agent, headers: { 'Content-Type': 'text/plain' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200 ? 'ok' : `status ${res.statusCode}`));
        res.on('error', (err) => resolve(err.message));
      });
      req.setTimeout(10_000, () => req.destroy(new Error('timed out after 10 s')));
      req.on('error', (err) => resolve(err.message));
      req.end('a normal request body');
    });
    if (outcome === 'ok') {
      result.ok++;
      result.latenciesMs.push(performance.now() - started);
    } else {
      result.failed++;
      count(result.errors, outcome);
    }
  }
  agent.destroy();
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-host-hostile-'));
  fs.writeFileSync(path.join(dir, 'app.wsgi'), APP);
  const { child, port } = await startServer(dir);
  console.log(`wsgi-host on port ${port}: ${SLOWLORIS} slowloris + ${SLOW_BODIES} slow-body connections (${SLOW_BODY_BYTES}-byte bodies, request body spooling ${SPOOLING}), oversized and malformed requests, for ${SECONDS} s; ${CLIENTS} normal client(s) meanwhile`);
  const result: ClientResult = { ok: 0, failed: 0, latenciesMs: [], errors: new Map() };
  const tasks: Promise<void>[] = [];
  for (let i = 0; i < SLOWLORIS; i++) tasks.push(slowloris(port));
  for (let i = 0; i < SLOW_BODIES; i++) tasks.push(slowBody(port));
  for (let i = 0; i < 4; i++) tasks.push(abuse(port));
  // Let the slowloris connections pile up before measuring.
  await sleep(2000);
  for (let i = 0; i < CLIENTS; i++) tasks.push(normalClient(port, result));
  await sleep(SECONDS * 1000);
  stopping = true;
  await Promise.all(tasks);
  const alive = child.exitCode === null;
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  fs.rmSync(dir, { recursive: true, force: true });

  const sorted = result.latenciesMs.sort((a, b) => a - b);
  const total = result.ok + result.failed;
  const lines = [
    '',
    `normal client: ${total} requests, ${result.ok} succeeded (${((100 * result.ok) / Math.max(total, 1)).toFixed(2)}%), ${result.failed} failed${result.failed > 0 ? ` (${[...result.errors].map(([k, v]) => `${k}: ${v}`).join(', ')})` : ''}`,
    `latency ms: p50 ${percentile(sorted, 50).toFixed(1)}, p90 ${percentile(sorted, 90).toFixed(1)}, p99 ${percentile(sorted, 99).toFixed(1)}, max ${(sorted[sorted.length - 1] ?? NaN).toFixed(1)}`,
    `slowloris: ${attack.slowlorisOpened} connections opened, ${attack.slowlorisDropped} dropped by the server (header timeout)`,
    `slow bodies: ${attack.slowBodiesOpened} opened; answers: ${[...attack.slowBodyAnswers].map(([k, v]) => `${k} x${v}`).join(', ') || 'none yet'}`,
    `oversized: ${[...attack.oversized].map(([k, v]) => `${k} x${v}`).join(', ')}`,
    `malformed: ${[...attack.malformed].map(([k, v]) => `${k} x${v}`).join(', ')}`,
    `server still running at the end: ${alive ? 'yes' : 'NO'}`,
  ];
  console.log(lines.join('\n'));
  process.exitCode = alive && result.ok > 0 ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
