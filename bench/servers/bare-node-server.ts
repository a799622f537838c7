/**
 * The bare node:http server run by servers/bare-node.ts: `node bare-node-server.js PORT WORKLOAD`.
 * It gives the same responses as bench/apps/*.py, with the same http.Server options as wsgi-host's
 * front end (src/front/front-end.ts), so the difference to wsgi-host is the Python side.
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as fs from 'node:fs';
import { DOWNLOAD_BODY, DOWNLOAD_FILE, ensureDownloadFile, HELLO_BODY } from '../workloads';
import { takeFrontEndScheduling } from './reference-scheduling';

const port = Number(process.argv[2]);
const workload = process.argv[3];

function send(res: http.ServerResponse, body: Buffer, type: string): void {
  res.writeHead(200, { 'Content-Type': type, 'Content-Length': body.length });
  res.end(body);
}

const handlers: Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => void> = {
  hello: (_req, res) => send(res, HELLO_BODY, 'text/plain'),
  download: (_req, res) => send(res, DOWNLOAD_BODY, 'application/octet-stream'),
  // As a node application sends a file from disk (express's res.sendFile streams it the same way).
  file: (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': DOWNLOAD_BODY.length });
    fs.createReadStream(DOWNLOAD_FILE).pipe(res);
  },
  upload: (req, res) => {
    const hash = createHash('sha256');
    req.on('data', (chunk: Buffer) => hash.update(chunk));
    req.on('end', () => send(res, Buffer.from(hash.digest('hex')), 'text/plain'));
  },
};

const handler = handlers[workload ?? ''];
if (handler === undefined || !Number.isInteger(port)) {
  process.stderr.write(`usage: bare-node-server.js PORT (${Object.keys(handlers).join('|')})\n`);
  process.exit(2);
}

if (workload === 'file') ensureDownloadFile();
takeFrontEndScheduling();

const server = http.createServer({ keepAliveTimeout: 2_000, requestTimeout: 0, headersTimeout: 60_000, noDelay: true }, handler);
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
