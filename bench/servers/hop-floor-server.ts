/**
 * The hop-floor REFERENCE server run by servers/hop-floor.ts (a yardstick, not a product and not
 * part of wsgi-host): `node hop-floor-server.js PORT WORKLOAD PYTHON WORKER PROCESSES`.
 *
 * node:http in front with the same options as wsgi-host's front end, and PROCESSES Python
 * processes of one thread behind one persistent UNIX socket each, doing nothing but answer
 * (apps/hop_floor_worker.py): no environ, no WSGI, no routing, no logging, no supervision. As
 * wsgi-host does (send-ahead), a request without a body that finds every worker busy is written
 * to a busy one, up to wsgi-host's MAX_AHEAD per worker, so the worker reads it as soon as it has
 * answered (the floor's requests are all far shorter than wsgi-host's send-ahead limit). It is
 * the floor of the front-end-plus-Python-processes design: what wsgi-host spends beyond it is the
 * price of being a WSGI server; the distance from the bare node server to it is the price of the
 * process hop itself. Any failure (a worker dies, a socket errors) ends the whole server with a
 * message, so the bench reports it instead of measuring a half-dead server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { MAX_AHEAD } from '../../src/groups/thread-slot';
import { takeFrontEndScheduling } from './reference-scheduling';

const [portText, workload, python, workerScript, processesText] = process.argv.slice(2);
const KINDS: Record<string, { letter: string; type: string; readsBody: boolean }> = {
  hello: { letter: 'h', type: 'text/plain', readsBody: false },
  download: { letter: 'd', type: 'application/octet-stream', readsBody: false },
  upload: { letter: 'u', type: 'text/plain', readsBody: true },
};
const kind = KINDS[workload ?? ''];
const port = Number(portText);
const processes = Number(processesText ?? '1');
if (kind === undefined || !Number.isInteger(port) || python === undefined || workerScript === undefined || !Number.isInteger(processes) || processes < 1) {
  process.stderr.write(`usage: hop-floor-server.js PORT (${Object.keys(KINDS).join('|')}) PYTHON WORKER_SCRIPT PROCESSES\n`);
  process.exit(2);
}

/** One Python process's connection: the request it is answering, and those sent ahead behind it. */
interface Worker {
  socket: net.Socket;
  /** Responses owed, in the order the requests were written. */
  owed: http.ServerResponse[];
  /** Response bytes still to come, or -1 before the length prefix. */
  remaining: number;
  /** A length prefix split across reads. */
  partialHead: Buffer | null;
}

// As wsgi-host's front end is by default; the workers go back to the starting nice value, as
// wsgi-host's do.
const startingNice = takeFrontEndScheduling();

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hop-floor-'));
const socketPath = path.join(dir, 'hop.sock');
const workers: Worker[] = [];
const waiting: { res: http.ServerResponse; body: Buffer | null }[] = [];
const children: ChildProcess[] = [];
let stopping = false;

function shutDown(code: number, why: string | null): void {
  if (stopping) return;
  stopping = true;
  if (why !== null) process.stderr.write(`hop-floor-server: ${why}\n`);
  server.close();
  server.closeAllConnections();
  workerServer.close();
  for (const child of children) child.kill('SIGTERM');
  fs.rmSync(dir, { recursive: true, force: true });
  setTimeout(() => process.exit(code), 200).unref();
}

/** An idle worker, or (for a request without a body) the busy one with the fewest sent ahead, while it has room. */
function pickWorker(hasBody: boolean): Worker | null {
  let best: Worker | null = null;
  for (const worker of workers) {
    if (worker.owed.length === 0) return worker;
    if (!hasBody && worker.owed.length <= MAX_AHEAD && (best === null || worker.owed.length < best.owed.length)) best = worker;
  }
  return best;
}

function dispatch(): void {
  while (waiting.length > 0) {
    const { res, body } = waiting[0]!;
    if (res.destroyed) {
      waiting.shift(); // the client went away while waiting
      continue;
    }
    const worker = pickWorker(body !== null && body.length > 0);
    if (worker === null) return;
    waiting.shift();
    worker.owed.push(res);
    const head = Buffer.allocUnsafe(5);
    head.writeUInt32BE((body?.length ?? 0) + 1, 0);
    head.write(kind!.letter, 4, 'latin1');
    if (body === null || body.length === 0) {
      worker.socket.write(head);
    } else {
      worker.socket.cork();
      worker.socket.write(head);
      worker.socket.write(body);
      worker.socket.uncork();
    }
  }
}

function onWorkerData(worker: Worker, chunk: Buffer): void {
  let data = chunk;
  // One read may hold the end of one answer and the start of the next (of the request sent ahead).
  while (data.length > 0) {
    const res = worker.owed[0];
    if (res === undefined) return shutDown(1, 'a Python worker sent data with no request outstanding');
    if (worker.remaining < 0) {
      if (worker.partialHead !== null) data = Buffer.concat([worker.partialHead, data]);
      if (data.length < 4) {
        worker.partialHead = data;
        return;
      }
      worker.partialHead = null;
      worker.remaining = data.readUInt32BE(0);
      data = data.subarray(4);
      if (!res.destroyed) res.writeHead(200, { 'Content-Type': kind!.type, 'Content-Length': worker.remaining });
    }
    const piece = data.length > worker.remaining ? data.subarray(0, worker.remaining) : data;
    data = data.subarray(piece.length);
    worker.remaining -= piece.length;
    if (worker.remaining > 0) {
      if (!res.destroyed) res.write(piece);
      return;
    }
    if (!res.destroyed) res.end(piece);
    worker.owed.shift();
    worker.remaining = -1;
  }
  dispatch();
}

const workerServer = net.createServer((socket) => {
  const worker: Worker = { socket, owed: [], remaining: -1, partialHead: null };
  socket.on('data', (chunk: Buffer) => onWorkerData(worker, chunk));
  socket.on('error', (err) => shutDown(1, `a Python worker's socket failed: ${err.message}`));
  socket.on('close', () => shutDown(1, "a Python worker's socket closed"));
  workers.push(worker);
  dispatch();
});
workerServer.on('error', (err) => shutDown(1, `cannot listen on ${socketPath}: ${err.message}`));

const server = http.createServer({ keepAliveTimeout: 2_000, requestTimeout: 0, headersTimeout: 60_000, noDelay: true }, (req, res) => {
  if (!kind!.readsBody) {
    waiting.push({ res, body: null });
    dispatch();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    waiting.push({ res, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) });
    dispatch();
  });
});
server.on('error', (err) => shutDown(1, `cannot listen on 127.0.0.1:${port}: ${err.message}`));

// Workers connect to the UNIX socket, so it must be listening before they start; the HTTP port
// opens last, when every worker has connected, so the first request finds them all.
workerServer.listen(socketPath, () => {
  for (let i = 0; i < processes; i++) {
    const child = spawn(python!, [workerScript!, socketPath, String(startingNice)], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', (err) => shutDown(1, `cannot start ${python}: ${err.message}`));
    child.on('exit', (code, signal) => shutDown(1, `a Python worker exited (${signal ?? `status ${code}`})`));
    children.push(child);
  }
  const waitForWorkers = (): void => {
    if (stopping) return;
    if (workers.length < processes) {
      setTimeout(waitForWorkers, 20);
      return;
    }
    server.listen(port, '127.0.0.1');
  };
  waitForWorkers();
});

process.on('SIGTERM', () => shutDown(0, null));
process.on('SIGINT', () => shutDown(0, null));
