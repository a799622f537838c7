/**
 * Request body spooling (WSGIRequestBodySpooling, --request-body-spooling; on by default): the
 * front end reads a body whole (into an unlinked file in its private socket directory when it
 * is larger than the 1 MiB in-memory buffer) before the request takes a Python thread, so a slow
 * uploader never holds one. Off, bodies stream to the application as it reads them (mod_wsgi).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { app, getJson, request, serveSite, serverFixture, sleep, waitForFileLine, type RunningServer } from '../helpers/server';

type Json = Record<string, unknown>;

const MIB = 1024 * 1024;

/** A body of `size` bytes with a position-dependent pattern (so a misplaced piece changes the hash). */
function patterned(size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (i * 131 + (i >> 10)) & 0xff;
  return out;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** `body` in chunked framing, in pieces of `piece` bytes (without the last chunk). */
function chunked(body: Buffer, piece: number): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < body.length; at += piece) {
    const part = body.subarray(at, Math.min(body.length, at + piece));
    parts.push(Buffer.from(`${part.length.toString(16)}\r\n`, 'latin1'), part, Buffer.from('\r\n', 'latin1'));
  }
  return Buffer.concat(parts);
}

const LAST_CHUNK = '0\r\n\r\n';

/** A raw client connection: write parts of a request when the test says, collect the answer. */
interface RawClient {
  socket: net.Socket;
  /** Everything the server sent, once it closed the connection. */
  answer: Promise<string>;
  /** What the server has sent so far. */
  received(): string;
}

function rawClient(port: number, first: Buffer | string): RawClient {
  const socket = net.connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  const answer = new Promise<string>((resolve) => {
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', () => {});
  });
  socket.write(first);
  return { socket, answer, received: () => Buffer.concat(chunks).toString('latin1') };
}

function jsonBody(answer: string): Json {
  return JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Json;
}

/** Resolves with true if `promise` settles within `ms`, false otherwise (it keeps running). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const result = await Promise.race([promise.then(() => true as const), timeout]);
  clearTimeout(timer);
  return result;
}

async function waitUntil(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

/** The server process's open descriptors, as link targets. */
function openFiles(server: RunningServer): string[] {
  const dir = `/proc/${server.child.pid!}/fd`;
  const links: string[] = [];
  for (const fd of fs.readdirSync(dir)) {
    try {
      links.push(fs.readlinkSync(`${dir}/${fd}`));
    } catch {
      // Closed while listing.
    }
  }
  return links;
}

/** The server's open spool files: unlinked files named body-* in its socket directory. */
function spoolFiles(server: RunningServer): string[] {
  return openFiles(server).filter((link) => /\/body-[0-9a-f]+ \(deleted\)$/.test(link));
}

describe('request body spooling (the default): a slow uploader never holds a thread', () => {
  const server = serverFixture([app('input.wsgi'), '--processes', '1', '--threads', '1', '--chunked-request', '--limit-request-body', '0']);
  before(server.start);
  after(server.stop);

  it('while a 3 MB Content-Length body is dripping in, the only thread serves another request; then the application gets the exact body', async () => {
    const body = patterned(3_000_000);
    const upload = rawClient(server.get().port, `POST /?mode=hash HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n`);
    try {
      for (let at = 0; at < 200_000; at += 20_000) {
        upload.socket.write(body.subarray(at, at + 20_000));
        await sleep(20);
      }
      const other = getJson(`${server.get().url}/?mode=read`);
      assert.ok(await settlesWithin(other, 15_000), 'another request was served while the upload was still coming');
      assert.equal((await other)['length'], 0);
      assert.equal(spoolFiles(server.get()).length, 1, 'the body being uploaded is in one spool file');
      upload.socket.end(body.subarray(200_000));
      const answer = await upload.answer;
      assert.match(answer, /^HTTP\/1\.1 200 /);
      const result = jsonBody(answer);
      assert.equal(result['length'], body.length);
      assert.equal(result['sha256'], sha256(body));
      assert.equal(result['content_length'], String(body.length));
    } finally {
      upload.socket.destroy();
    }
  });

  it('the same for a 3 MB chunked body, spilled to a spool file once it passes 1 MiB', async () => {
    const body = patterned(3_000_000);
    const framed = chunked(body, 30_000);
    const split = 1_500_000;
    const upload = rawClient(server.get().port, 'POST /?mode=hash HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n');
    try {
      upload.socket.write(framed.subarray(0, split));
      await waitUntil(() => spoolFiles(server.get()).length === 1, 'the chunked body has a spool file');
      const other = getJson(`${server.get().url}/?mode=read`);
      assert.ok(await settlesWithin(other, 15_000), 'another request was served while the upload was still coming');
      upload.socket.end(Buffer.concat([framed.subarray(split), Buffer.from(LAST_CHUNK)]));
      const answer = await upload.answer;
      assert.match(answer, /^HTTP\/1\.1 200 /);
      const result = jsonBody(answer);
      assert.equal(result['length'], body.length);
      assert.equal(result['sha256'], sha256(body));
      assert.equal(result['content_length'], null);
      assert.equal(result['input_terminated'], true);
    } finally {
      upload.socket.destroy();
    }
  });

  it('a small chunked body is read whole too, in memory: the thread is free while it drips', async () => {
    const upload = rawClient(server.get().port, 'POST /?mode=read HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
    try {
      await sleep(200);
      const other = getJson(`${server.get().url}/?mode=read`);
      assert.ok(await settlesWithin(other, 15_000), 'another request was served while the chunked body was still coming');
      assert.deepEqual(spoolFiles(server.get()), [], 'a body under 1 MiB is not spooled to disk');
      upload.socket.end(`6\r\n world\r\n${LAST_CHUNK}`);
      const result = jsonBody(await upload.answer);
      assert.equal(result['text'], 'hello world');
    } finally {
      upload.socket.destroy();
    }
  });

  for (const size of [MIB, MIB + 1, 3_000_000]) {
    it(`a ${size}-byte body arrives intact, with Content-Length and chunked (read in 7777-byte reads)`, async () => {
      const body = patterned(size);
      const plain = await getJson(`${server.get().url}/?mode=hash&n=7777`, { method: 'POST', body });
      assert.equal(plain['length'], size);
      assert.equal(plain['sha256'], sha256(body));
      const raw = rawClient(server.get().port, Buffer.concat([Buffer.from('POST /?mode=hash&n=7777 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n'), chunked(body, 65_000), Buffer.from(LAST_CHUNK)]));
      const result = jsonBody(await raw.answer);
      assert.equal(result['length'], size);
      assert.equal(result['sha256'], sha256(body));
    });
  }

  it('a spooled body the application does not read is dropped with its file; the thread takes the next request', async () => {
    const body = patterned(2_000_000);
    const ignored = await getJson(`${server.get().url}/?mode=ignore`, { method: 'POST', body });
    assert.equal(ignored['ignored'], true);
    const next = await getJson(`${server.get().url}/?mode=hash`, { method: 'POST', body });
    assert.equal(next['sha256'], sha256(body));
    await waitUntil(() => spoolFiles(server.get()).length === 0, 'no spool file is left open');
  });

  it('Expect: 100-continue is answered as the front end starts reading, and the thread is not held while the body comes', async () => {
    const body = patterned(2_000_000);
    const upload = rawClient(server.get().port, `POST /?mode=hash HTTP/1.1\r\nHost: x\r\nConnection: close\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`);
    try {
      await waitUntil(() => upload.received().startsWith('HTTP/1.1 100 Continue\r\n\r\n'), 'the client is told to continue');
      upload.socket.write(body.subarray(0, 100_000));
      const other = getJson(`${server.get().url}/?mode=read`);
      assert.ok(await settlesWithin(other, 15_000), 'another request was served while the body was still coming');
      upload.socket.end(body.subarray(100_000));
      const answer = await upload.answer;
      const final = answer.slice('HTTP/1.1 100 Continue\r\n\r\n'.length);
      assert.match(final, /^HTTP\/1\.1 200 /);
      assert.equal(jsonBody(final)['sha256'], sha256(body));
    } finally {
      upload.socket.destroy();
    }
  });
});

describe('request body spooling: limits, timeouts and clients that leave', () => {
  const server = serverFixture([app('hardening.wsgi'), '--processes', '1', '--threads', '1', '--chunked-request', '--limit-request-body', '2000000', '--body-timeout', '2', '--body-min-rate', '0']);
  before(server.start);
  after(server.stop);

  /** Asserts the application was never called for `uri` (a later probe's log line proves the log is caught up). */
  async function neverCalled(uri: string): Promise<void> {
    const probe = `/probe-${Math.random().toString(36).slice(2)}`;
    assert.equal((await request(server.get().url + probe)).status, 200);
    await server.get().waitForLog(`hardening called: uri='${probe}'`);
    assert.ok(!server.get().stderr.includes(`uri='${uri}'`), `the application was called for ${uri}`);
  }

  it('a body of exactly 1 MiB stays in memory (the buffered path); one byte more is spooled to a file', async () => {
    for (const [size, files] of [[MIB, 0], [MIB + 1, 1]] as const) {
      const uri = `/size-${size}?sleep=1`;
      const upload = rawClient(server.get().port, Buffer.concat([Buffer.from(`POST ${uri} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${size}\r\n\r\n`), patterned(size)]));
      // The application sleeps before it reads: its request, and any spool file, are open meanwhile.
      await server.get().waitForLog(`hardening called: uri='${uri}'`);
      assert.equal(spoolFiles(server.get()).length, files, `${size} bytes`);
      const answer = await upload.answer;
      assert.equal(jsonBody(answer)['body_length'], size);
    }
  });

  it('LimitRequestBody: a chunked body that grows past it while being spooled gets 413, and the application is never called', async () => {
    const body = patterned(3_000_000);
    const upload = rawClient(server.get().port, 'POST /chunked-too-big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
    upload.socket.write(chunked(body.subarray(0, 1_500_000), 50_000));
    await waitUntil(() => spoolFiles(server.get()).length === 1, 'the body is being spooled');
    upload.socket.write(chunked(body.subarray(1_500_000), 50_000));
    const answer = await upload.answer;
    assert.match(answer, /^HTTP\/1\.1 413 /);
    await server.get().waitForLog('AH01591: Read content length of');
    await neverCalled('/chunked-too-big');
    await waitUntil(() => spoolFiles(server.get()).length === 0, 'the spool file is closed');
  });

  it('LimitRequestBody: a Content-Length over it gets 413 before anything is read or spooled', async () => {
    const upload = rawClient(server.get().port, 'POST /declared-too-big HTTP/1.1\r\nHost: x\r\nContent-Length: 3000000\r\n\r\nabc');
    const answer = await upload.answer;
    assert.match(answer, /^HTTP\/1\.1 413 /);
    await neverCalled('/declared-too-big');
  });

  it('RequestReadTimeout: a body that stops arriving while being spooled gets 408, and the application is never called', async () => {
    const body = patterned(1_900_000);
    for (const [uri, head, first] of [
      ['/stalled-length', `Content-Length: ${body.length}`, body.subarray(0, 1_200_000)],
      ['/stalled-chunked', 'Transfer-Encoding: chunked', chunked(body.subarray(0, 1_200_000), 40_000)],
    ] as const) {
      const upload = rawClient(server.get().port, Buffer.concat([Buffer.from(`POST ${uri} HTTP/1.1\r\nHost: x\r\n${head}\r\n\r\n`), first]));
      const answer = await upload.answer;
      assert.match(answer, /^HTTP\/1\.1 408 /, uri);
      await neverCalled(uri);
    }
    await server.get().waitForLog('AH01382: Request body read timeout');
    await waitUntil(() => spoolFiles(server.get()).length === 0, 'the spool files are closed');
  });

  it('a client that leaves mid-upload: its spool file is closed, no descriptor stays open, and the worker never sees the request', async () => {
    // Warm: the probe's connection has come and gone, so the count is the idle server's.
    await neverCalled('/nothing-yet');
    await sleep(200);
    const baseline = openFiles(server.get()).length;
    for (const [uri, head, first] of [
      ['/gone-length', 'Content-Length: 1900000', patterned(1_200_000)],
      ['/gone-chunked', 'Transfer-Encoding: chunked', chunked(patterned(1_200_000), 60_000)],
    ] as const) {
      const upload = rawClient(server.get().port, Buffer.concat([Buffer.from(`POST ${uri} HTTP/1.1\r\nHost: x\r\n${head}\r\n\r\n`), first]));
      await waitUntil(() => spoolFiles(server.get()).length === 1, `${uri}: the body is being spooled`);
      upload.socket.destroy();
      await waitUntil(() => spoolFiles(server.get()).length === 0, `${uri}: the spool file is closed`);
      await waitUntil(() => openFiles(server.get()).length <= baseline, `${uri}: the server has no more descriptors open than before (${baseline})`);
      await neverCalled(uri);
    }
  });
});

describe('--request-body-spooling=off: bodies stream to the application as it reads (mod_wsgi\'s behaviour)', () => {
  const server = serverFixture([app('hardening.wsgi'), '--processes', '1', '--threads', '1', '--chunked-request', '--limit-request-body', '0', '--request-body-spooling=off']);
  before(server.start);
  after(server.stop);

  for (const [uri, head, first, rest] of [
    ['/streamed-length', 'Content-Length: 3000000', patterned(3_000_000).subarray(0, 10_000), patterned(3_000_000).subarray(10_000)],
    ['/streamed-chunked', 'Transfer-Encoding: chunked', chunked(patterned(3_000_000).subarray(0, 10_000), 5000), Buffer.concat([chunked(patterned(3_000_000).subarray(10_000), 100_000), Buffer.from(LAST_CHUNK)])],
  ] as const) {
    it(`the application runs while the body (${head}) is still arriving, and nothing is spooled`, async () => {
      const upload = rawClient(server.get().port, Buffer.concat([Buffer.from(`POST ${uri} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${head}\r\n\r\n`), first]));
      try {
        await server.get().waitForLog(`hardening called: uri='${uri}'`);
        assert.deepEqual(spoolFiles(server.get()), []);
        upload.socket.end(rest);
        const answer = await upload.answer;
        assert.match(answer, /^HTTP\/1\.1 200 /);
        assert.equal(jsonBody(answer)['body_length'], 3_000_000);
      } finally {
        upload.socket.destroy();
      }
    });
  }

  it('Expect: 100-continue is answered only when the application reads', async () => {
    const upload = rawClient(server.get().port, 'POST /?sleep=0.5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
    try {
      await server.get().waitForLog("hardening called: uri='/?sleep=0.5'");
      await waitUntil(() => upload.received().startsWith('HTTP/1.1 100 Continue\r\n\r\n'), 'the client is told to continue');
      upload.socket.end('12345');
      const answer = (await upload.answer).slice('HTTP/1.1 100 Continue\r\n\r\n'.length);
      assert.match(answer, /^HTTP\/1\.1 200 /);
      assert.equal(jsonBody(answer)['body_length'], 5);
    } finally {
      upload.socket.destroy();
    }
  });
});

describe('WSGIRequestBodySpooling in a configuration file', () => {
  it('Off in a <Location> streams there; elsewhere bodies are spooled', async () => {
    const site = await serveSite([
      'Listen 127.0.0.1:{{PORT}}',
      'ErrorLog {{ROOT}}/error_log',
      'LogLevel info',
      'WSGISocketPrefix {{ROOT}}/wsgi',
      'WSGIDaemonProcess site threads=2',
      'WSGIProcessGroup site',
      'WSGIScriptAlias / {{APPS}}/hardening.wsgi',
      '<Location /stream>',
      '  WSGIRequestBodySpooling Off',
      '</Location>',
      '',
    ].join('\n'));
    const { server, errorLog } = site;
    const port = server.port;
    try {
      let ready = await request(`http://127.0.0.1:${port}/ready`);
      for (let i = 0; ready.status !== 200 && i < 100; i++) ready = await request(`http://127.0.0.1:${port}/ready`);
      assert.equal(ready.status, 200);
      const body = patterned(2_000_000);
      const head = (uri: string): string => `POST ${uri} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n`;

      const streamed = rawClient(port, Buffer.concat([Buffer.from(head('/stream/upload')), body.subarray(0, 10_000)]));
      await waitForFileLine(errorLog, "hardening called: uri='/stream/upload'");
      assert.deepEqual(spoolFiles(server), []);
      streamed.socket.end(body.subarray(10_000));
      assert.equal(jsonBody(await streamed.answer)['body_length'], body.length);

      const spooled = rawClient(port, Buffer.concat([Buffer.from(head('/upload')), body.subarray(0, 1_200_000)]));
      await waitUntil(() => spoolFiles(server).length === 1, 'the body for /upload is being spooled');
      assert.doesNotMatch(fs.readFileSync(errorLog, 'utf8'), /uri='\/upload'/);
      spooled.socket.end(body.subarray(1_200_000));
      assert.equal(jsonBody(await spooled.answer)['body_length'], body.length);
    } finally {
      await site.stop();
    }
  });
});
