/**
 * Response spooling (WSGIResponseSpoolLimit, --response-spool-limit; 1 GiB by default): once a
 * client is response-buffer-size behind, the rest of the response goes to a private spool file
 * and the worker thread finishes and moves on; the client is fed from the file as it reads.
 * With the limit at 0 the thread waits for the client, as with mod_wsgi.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { app, serveSite, serverFixture, sleep, type RunningServer } from '../helpers/server';

/** The bytes /download sends (see test/apps/response.wsgi): sha256('wsgi-host') repeated. */
function patternHash(size: number): string {
  const block = Buffer.concat(Array.from({ length: 2048 }, () => createHash('sha256').update('wsgi-host').digest()));
  const hash = createHash('sha256');
  for (let left = size; left > 0; left -= block.length) hash.update(block.subarray(0, Math.min(left, block.length)));
  return hash.digest('hex');
}

interface Received {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** The body's framing said it was all there (Content-Length reached, or the final chunk came). */
  complete: boolean;
}

/** Parses one HTTP/1.1 response that ends with the connection (Connection: close). */
function parseResponse(raw: Buffer): Received {
  const end = raw.indexOf('\r\n\r\n');
  assert.ok(end > 0, `a response head, got ${JSON.stringify(raw.subarray(0, 200).toString('latin1'))}`);
  const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(lines[0]!.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = raw.subarray(end + 4);
  if (headers['transfer-encoding'] !== 'chunked') {
    const length = Number(headers['content-length']);
    return { status, headers, body: rest, complete: rest.length === length };
  }
  const pieces: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = rest.indexOf('\r\n', at);
    if (lineEnd < 0) return { status, headers, body: Buffer.concat(pieces), complete: false };
    const size = parseInt(rest.subarray(at, lineEnd).toString('latin1'), 16);
    if (size === 0) return { status, headers, body: Buffer.concat(pieces), complete: true };
    if (lineEnd + 2 + size > rest.length) {
      pieces.push(rest.subarray(lineEnd + 2));
      return { status, headers, body: Buffer.concat(pieces), complete: false };
    }
    pieces.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

/** A GET whose client reads nothing until `readAll`, which then takes everything until the server closes. */
function stalledRequest(port: number, target: string): { socket: net.Socket; readAll: () => Promise<Received> } {
  const socket = net.connect(port, '127.0.0.1');
  socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  socket.pause();
  socket.on('error', () => {});
  const readAll = (): Promise<Received> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      const timer = setTimeout(() => reject(new Error(`the response did not end within 60 s (${chunks.reduce((n, c) => n + c.length, 0)} bytes so far)`)), 60_000);
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(parseResponse(Buffer.concat(chunks)));
      });
      socket.resume();
    });
  return { socket, readAll };
}

/** Resolves with true if `promise` settles within `ms`, false otherwise (it keeps running). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const result = await Promise.race([promise.then(() => true as const), timeout]);
  clearTimeout(timer);
  return result;
}

/** A second request on the server: the only worker thread must be free to answer it. */
function pid(server: RunningServer): Promise<string> {
  return fetch(`${server.url}/pid`).then((r) => r.text());
}

/** Descriptors the server holds open on response spool files. */
function openSpoolFiles(server: RunningServer): string[] {
  const dir = `/proc/${server.child.pid!}/fd`;
  const links: string[] = [];
  for (const fd of fs.readdirSync(dir)) {
    try {
      const target = fs.readlinkSync(`${dir}/${fd}`);
      if (/\/response-[0-9a-f]{24}/.test(target)) links.push(target);
    } catch {
      // Closed while listing.
    }
  }
  return links;
}

async function until(what: string, test: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

const SIZE = 20_000_000;

describe('response spooling (on by default): a slow client does not hold the worker thread', () => {
  const server = serverFixture([app('response.wsgi'), '--processes', '1', '--threads', '1', '--access-log']);
  before(server.start);
  after(server.stop);

  const cases = [
    { name: 'Content-Length, 256 KiB pieces through the shared region', target: `/download?size=${SIZE}&piece=262144`, chunked: false },
    { name: 'chunked, 256 KiB pieces through the shared region', target: `/download-chunked?size=${SIZE}&piece=262144`, chunked: true },
    { name: 'chunked, 8 KiB pieces on the socket', target: `/download-chunked?size=${SIZE}&piece=8192`, chunked: true },
  ];
  for (const c of cases) {
    it(`${c.name}: another request is answered while the client reads nothing; then it gets every byte in order`, async () => {
      const s = server.get();
      const stalled = stalledRequest(s.port, c.target);
      try {
        assert.ok(await settlesWithin(sleep(300).then(() => pid(s)), 15_000), 'the only thread answered another request while the first client read nothing');
        assert.equal(openSpoolFiles(s).length, 1, 'the rest of the response waits in a spool file');
        const got = await stalled.readAll();
        assert.equal(got.status, 200);
        assert.equal(got.headers['transfer-encoding'], c.chunked ? 'chunked' : undefined);
        assert.equal(got.complete, true);
        assert.equal(got.body.length, SIZE);
        assert.equal(createHash('sha256').update(got.body).digest('hex'), patternHash(SIZE));
      } finally {
        stalled.socket.destroy();
      }
      await until('the spool file is closed', () => openSpoolFiles(s).length === 0);
      // The access log counts the bytes the client was given.
      await s.waitFor(() => s.stdout.includes(`"GET ${c.target} HTTP/1.1" 200 ${SIZE}`), 'the access log line');
    });
  }

  it('a client that leaves mid-spool: the spool file is closed and the log counts only what it was given', async () => {
    const s = server.get();
    const target = `/download?size=${SIZE}&piece=262144&leave=1`;
    const stalled = stalledRequest(s.port, target);
    await until('the response is being spooled', () => openSpoolFiles(s).length === 1);
    assert.ok(await settlesWithin(pid(s), 15_000), 'the worker finished and took another request');
    stalled.socket.destroy();
    await until('the spool file is closed', () => openSpoolFiles(s).length === 0);
    const line = await s.waitFor(() => s.stdout.includes(`"GET ${target} HTTP/1.1" 200 `), 'the access log line').then(() => s.stdout.split('\n').find((l) => l.includes(target))!);
    const bytes = Number(/ 200 (\d+)/.exec(line)![1]);
    assert.ok(bytes < SIZE, `logged ${bytes} bytes, fewer than the ${SIZE} the application produced`);
    // Nothing is left in the socket directory either: the file was unlinked when it was made.
    const leftovers = fs.readdirSync(s.serverRoot, { recursive: true }).map(String).filter((name) => /response-[0-9a-f]{24}/.test(name));
    assert.deepEqual(leftovers, []);
  });

  it('a process that dies mid-response after some of it was spooled: the client gets what was produced, then the connection closes without the final chunk', async () => {
    const s = server.get();
    const size = 8_000_000;
    const stalled = stalledRequest(s.port, `/download-then-crash?size=${size}&piece=262144`);
    await s.waitForLog(/WSGI0119.*closed connection mid-response/, 15_000);
    const got = await stalled.readAll();
    assert.equal(got.status, 200);
    assert.equal(got.complete, false, 'no final chunk');
    // The process's last piece can be lost with it: when it dies with front-end frames unread, its
    // end of the socket resets and takes unread data along. What arrives is a correct prefix, at
    // least everything that had been spooled.
    assert.ok(got.body.length > size / 2 && got.body.length <= size, `${got.body.length} of ${size} bytes`);
    assert.equal(createHash('sha256').update(got.body).digest('hex'), patternHash(got.body.length));
    await until('the spool file is closed', () => openSpoolFiles(s).length === 0);
  });

  it('HEAD of a large response spools nothing', async () => {
    const s = server.get();
    const socket = net.connect(s.port, '127.0.0.1');
    socket.write(`HEAD /download?size=${SIZE} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    const raw = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('close', () => resolve(Buffer.concat(chunks)));
    });
    assert.match(raw.toString('latin1'), new RegExp(`^HTTP/1.1 200 OK\r\n[^]*Content-Length: ${SIZE}\r\n[^]*\r\n\r\n$`));
    assert.deepEqual(openSpoolFiles(s), []);
  });
});

describe('request-timeout does not cut a slow client whose response was spooled', () => {
  const server = serverFixture([app('response.wsgi'), '--processes', '1', '--threads', '1', '--request-timeout', '2']);
  before(server.start);
  after(server.stop);

  it('the client reads after request-timeout has passed and still gets every byte', async () => {
    const s = server.get();
    const size = 8_000_000;
    const stalled = stalledRequest(s.port, `/download?size=${size}&piece=262144`);
    try {
      await sleep(3500);
      const got = await stalled.readAll();
      assert.equal(got.status, 200);
      assert.equal(got.complete, true);
      assert.equal(createHash('sha256').update(got.body).digest('hex'), patternHash(size));
    } finally {
      stalled.socket.destroy();
    }
  });
});

describe('--response-spool-limit 0: the worker thread waits for a slow client, as with mod_wsgi', () => {
  const server = serverFixture([app('response.wsgi'), '--processes', '1', '--threads', '1', '--response-spool-limit', '0']);
  before(server.start);
  after(server.stop);

  it('another request is answered only once the stalled client reads; that client still gets every byte', async () => {
    const s = server.get();
    const stalled = stalledRequest(s.port, `/download-chunked?size=${SIZE}&piece=262144`);
    try {
      await sleep(300);
      const other = pid(s);
      assert.equal(await settlesWithin(other, 1500), false, 'the only thread was still sending the stalled response');
      assert.deepEqual(openSpoolFiles(s), []);
      const got = await stalled.readAll();
      assert.equal(got.complete, true);
      assert.equal(createHash('sha256').update(got.body).digest('hex'), patternHash(SIZE));
      assert.ok(await settlesWithin(other, 15_000), 'once the client had read, the thread took the next request');
    } finally {
      stalled.socket.destroy();
    }
  });
});

describe('--response-spool-limit: past the limit, the worker waits for the client (flow control)', () => {
  const server = serverFixture([app('response.wsgi'), '--processes', '1', '--threads', '1', '--response-spool-limit', '2M']);
  before(server.start);
  after(server.stop);

  for (const piece of [262144, 8192]) {
    it(`a response far larger than the limit (${piece}-byte pieces) holds the thread while its client stalls, and arrives intact`, async () => {
      const s = server.get();
      const stalled = stalledRequest(s.port, `/download?size=${SIZE}&piece=${piece}`);
      try {
        await until('the response is being spooled', () => openSpoolFiles(s).length === 1);
        const other = pid(s);
        assert.equal(await settlesWithin(other, 1500), false, 'past the limit, the only thread waits for the client');
        const got = await stalled.readAll();
        assert.equal(got.complete, true);
        assert.equal(got.body.length, SIZE);
        assert.equal(createHash('sha256').update(got.body).digest('hex'), patternHash(SIZE));
        assert.ok(await settlesWithin(other, 15_000), 'the thread took the next request once the client had read');
      } finally {
        stalled.socket.destroy();
      }
      await until('the spool file is closed', () => openSpoolFiles(s).length === 0);
    });
  }
});

describe('WSGIResponseSpoolLimit in a configuration file', () => {
  it('0 in a <Location> makes the thread wait there; elsewhere the response is spooled', async () => {
    const site = await serveSite([
      'Listen 127.0.0.1:{{PORT}}',
      'ErrorLog {{ROOT}}/error_log',
      'WSGISocketPrefix {{ROOT}}/wsgi',
      'WSGIDaemonProcess site processes=1 threads=1',
      'WSGIProcessGroup site',
      'WSGIScriptAlias /nospool {{APPS}}/response.wsgi',
      'WSGIScriptAlias / {{APPS}}/response.wsgi',
      '<Location /nospool>',
      '  WSGIResponseSpoolLimit 0',
      '</Location>',
      '',
    ].join('\n'));
    const server = site.server;
    const port = server.port;
    const sockets: net.Socket[] = [];
    try {
      const base = `http://127.0.0.1:${port}`;
      let ready = await fetch(`${base}/pid`).catch(() => null);
      for (let i = 0; ready?.status !== 200 && i < 100; i++, await sleep(100)) ready = await fetch(`${base}/pid`).catch(() => null);
      assert.equal(ready?.status, 200);

      const waiting = stalledRequest(port, `/nospool/download-chunked?size=${SIZE}&piece=262144`);
      sockets.push(waiting.socket);
      await sleep(300);
      const other = fetch(`${base}/pid`).then((r) => r.text());
      assert.equal(await settlesWithin(other, 1500), false, 'under /nospool the thread waits for the client');
      assert.deepEqual(openSpoolFiles(server), []);
      const first = await waiting.readAll();
      assert.equal(createHash('sha256').update(first.body).digest('hex'), patternHash(SIZE));
      assert.ok(await settlesWithin(other, 15_000));

      const spooled = stalledRequest(port, `/download-chunked?size=${SIZE}&piece=262144`);
      sockets.push(spooled.socket);
      assert.ok(await settlesWithin(sleep(300).then(() => fetch(`${base}/pid`)), 15_000), 'elsewhere the thread is free');
      assert.equal(openSpoolFiles(server).length, 1);
      const second = await spooled.readAll();
      assert.equal(createHash('sha256').update(second.body).digest('hex'), patternHash(SIZE));
    } finally {
      for (const socket of sockets) socket.destroy();
      await site.stop();
    }
  });
});

describe('a client that reads nothing for Timeout loses its connection (Apache\'s Timeout on writes)', () => {
  const server = serverFixture([app('response.wsgi'), '--processes', '1', '--threads', '1', '--socket-timeout', '2']);
  before(server.start);
  after(server.stop);

  it('closes a stalled download and its spool file; a slow reader that keeps taking bytes is never cut off', async () => {
    const s = server.get();
    const stalled = stalledRequest(s.port, `/download?size=${SIZE}&piece=262144`);
    try {
      await until('the response is being spooled', () => openSpoolFiles(s).length === 1);
      await s.waitForLog(/The client took none of its response for \d+ seconds \(Timeout\); the connection is closed/, 20_000);
      await until('the spool file is closed', () => openSpoolFiles(s).length === 0);
    } finally {
      stalled.socket.destroy();
    }

    // A reader slower than the timeout would allow for the whole response, but never idle that long.
    const slow = net.connect(s.port, '127.0.0.1');
    slow.on('error', () => {});
    let received = 0;
    let closed = false;
    slow.on('close', () => (closed = true));
    slow.write(`GET /download?size=${SIZE}&piece=262144 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    slow.on('data', (chunk: Buffer) => {
      received += chunk.length;
      slow.pause();
      setTimeout(() => slow.resume(), 200);
    });
    try {
      const startedAt = Date.now();
      // Well past the 2 s timeout, while taking a little every 200 ms.
      while (Date.now() - startedAt < 5000) {
        assert.equal(closed, false, `the slow reader was cut off after ${received} bytes`);
        await sleep(100);
      }
      assert.ok(received > 0 && received < SIZE, `still reading (${received} bytes so far)`);
    } finally {
      slow.destroy();
    }
  });
});
