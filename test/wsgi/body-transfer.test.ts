/**
 * How request and response bodies travel between the front end and the worker threads: bodies
 * read whole before a thread is given the request, large response pieces through the thread's
 * shared region, and response-buffer-size keeping threads free of slow clients.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execFileSync } from 'node:child_process';
import { app, getJson, rawExchange, serverFixture, sleep, systemPython, type RunningServer } from '../helpers/server';

type Json = Record<string, unknown>;

/** The bytes /download sends: sha256('wsgi-host') * 2048 repeated (see test/apps/response.wsgi). */
function patternHash(size: number): string {
  const block = Buffer.concat(Array.from({ length: 2048 }, () => createHash('sha256').update('wsgi-host').digest()));
  const hash = createHash('sha256');
  let left = size;
  while (left > 0) {
    const n = Math.min(left, block.length);
    hash.update(block.subarray(0, n));
    left -= n;
  }
  return hash.digest('hex');
}

function download(url: string): Promise<{ status: number; length: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        const hash = createHash('sha256');
        let length = 0;
        res.on('data', (chunk: Buffer) => {
          hash.update(chunk);
          length += chunk.length;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, length, sha256: hash.digest('hex') }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** Links of the server's open file descriptors that are worker response regions. */
function openRegions(server: RunningServer): string[] {
  const dir = `/proc/${server.child.pid!}/fd`;
  const links: string[] = [];
  for (const fd of fs.readdirSync(dir)) {
    try {
      const target = fs.readlinkSync(`${dir}/${fd}`);
      if (target.includes('wsgi-host-response')) links.push(target);
    } catch {
      // Closed while listing.
    }
  }
  return links;
}

/** A GET whose response is never read: the client's socket stays open and stalled. */
function stalledGet(port: number, target: string): net.Socket {
  const socket = net.connect(port, '127.0.0.1');
  socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  socket.pause();
  socket.on('error', () => {});
  return socket;
}

/** Resolves with true if `promise` settles within `ms`, false otherwise (it keeps running). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const done = promise.then(() => true as const);
  const result = await Promise.race([done, timeout]);
  clearTimeout(timer);
  return result;
}

for (const region of ['on', 'off'] as const) {
  describe(`large responses, shared response region ${region}`, () => {
    const server = serverFixture([app('response.wsgi'), '--threads', '2'], region === 'off' ? { env: { WSGI_HOST_RESPONSE_REGION: 'off' } } : {});
    before(server.start);
    after(server.stop);

    it(region === 'on' ? 'the front end holds each worker thread\'s region open' : 'WSGI_HOST_RESPONSE_REGION=off keeps everything on the socket', async () => {
      // Threads connect just after their process says it is ready.
      for (let i = 0; i < 50 && openRegions(server.get()).length < 2; i++) await sleep(100);
      const regions = openRegions(server.get());
      if (region === 'on') assert.equal(regions.length, 2, `one region per thread, got ${JSON.stringify(regions)}`);
      else assert.deepEqual(regions, []);
    });

    it('a 5 MB response in one piece arrives intact (the region is reused several times over)', async () => {
      const got = await download(`${server.get().url}/big-single?size=5000000`);
      assert.equal(got.status, 200);
      assert.equal(got.length, 5_000_000);
      assert.equal(got.sha256, createHash('sha256').update(Buffer.alloc(5_000_000, 'x')).digest('hex'));
    });

    it('a 3 MB response yielded in 64 KiB pieces arrives intact, twice in a row on the same thread', async () => {
      for (let i = 0; i < 2; i++) {
        const got = await download(`${server.get().url}/download?size=3000000`);
        assert.equal(got.length, 3_000_000);
        assert.equal(got.sha256, patternHash(3_000_000));
      }
    });

    it('concurrent large responses on both threads do not mix', async () => {
      const sizes = [1_500_000, 2_500_001, 700_000, 4_000_000];
      const results = await Promise.all(sizes.map((size) => download(`${server.get().url}/download?size=${size}`)));
      results.forEach((got, i) => {
        assert.equal(got.length, sizes[i]);
        assert.equal(got.sha256, patternHash(sizes[i]!));
      });
    });
  });
}

describe('a slow client never holds a worker thread for a response that fits the response buffer', () => {
  const server = serverFixture([app('response.wsgi'), '--threads', '1', '--response-buffer-size', '32M']);
  before(server.start);
  after(server.stop);

  it('the only thread serves others while a client that reads nothing still has 12 MB coming', async () => {
    // More than the kernel's socket buffers take, so the front end must hold the rest.
    const stalled = stalledGet(server.get().port, '/big-single?size=12000000');
    try {
      await sleep(300);
      const other = getJson(`${server.get().url}/pid`).catch(() => null);
      assert.ok(await settlesWithin(other, 15_000), 'a second request was served while the first client read nothing');
    } finally {
      stalled.destroy();
    }
  });
});

describe('past response-buffer-size, with response spooling off, the worker waits for the client (flow control)', () => {
  const server = serverFixture([app('response.wsgi'), '--threads', '1', '--response-buffer-size', '64K', '--response-spool-limit', '0']);
  before(server.start);
  after(server.stop);

  it('the thread stays with the stalled response until that client goes away', async () => {
    const stalled = stalledGet(server.get().port, '/big-single?size=40000000');
    await sleep(300);
    const other = fetch(`${server.get().url}/pid`).then((r) => r.text());
    const servedWhileStalled = await settlesWithin(other, 1500);
    stalled.destroy();
    assert.equal(servedWhileStalled, false, 'the only thread was still sending the 40 MB response');
    assert.ok(await settlesWithin(other, 15_000), 'once the stalled client left, the thread took the next request');
  });
});

/** Shared memory a process has mapped and touched, in bytes (/proc/PID/status RssShmem). */
function sharedResident(pid: number): number {
  const line = /RssShmem:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return line === null ? 0 : Number(line[1]) * 1024;
}

/** The pids of the server's worker processes (children of the front end). */
function workerPids(server: RunningServer): number[] {
  const children = fs.readFileSync(`/proc/${server.child.pid!}/task/${server.child.pid!}/children`, 'utf8').trim();
  return children === '' ? [] : children.split(/\s+/).map(Number);
}

for (const region of ['on', 'off'] as const) {
  describe(`request bodies read whole before dispatch, shared region ${region}`, () => {
    const server = serverFixture([app('input.wsgi'), '--processes', '1', '--threads', '1'], region === 'off' ? { env: { WSGI_HOST_RESPONSE_REGION: 'off' } } : {});
    before(server.start);
    after(server.stop);
    const post = (query: string, body: Buffer): Promise<Json> => getJson(`${server.get().url}/?${query}`, { method: 'POST', body });
    const pattern = (size: number, seed: number): Buffer => {
      const out = Buffer.alloc(size);
      for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) % 251;
      return out;
    };

    it('bodies on both sides of the region threshold, up to the 1 MiB limit, arrive intact, read in any pieces', async () => {
      let seed = 0;
      for (const size of [32 * 1024 - 1, 32 * 1024, 100_000, 1024 * 1024]) {
        for (const n of [7777, 65536, 2 * 1024 * 1024]) {
          const body = pattern(size, seed++);
          const got = await post(`mode=hash&n=${n}`, body);
          assert.equal(got['length'], size, `${size} bytes read ${n} at a time`);
          assert.equal(got['sha256'], createHash('sha256').update(body).digest('hex'), `${size} bytes read ${n} at a time`);
        }
      }
    });

    it('the body of one request never shows in the next, whatever their sizes', async () => {
      const sizes = [1024 * 1024, 40_000, 600_000, 33_000, 1024 * 1024];
      const bodies = sizes.map((size, i) => pattern(size, 100 + i));
      const answers = await Promise.all(bodies.map((body) => post('mode=read', body)));
      answers.forEach((got, i) => assert.equal(got['sha256'], createHash('sha256').update(bodies[i]!).digest('hex'), `request ${i}`));
    });

    it(region === 'on' ? 'a large body reaches the worker through its shared region' : 'with WSGI_HOST_RESPONSE_REGION=off the body comes on the socket', async () => {
      const [pid] = workerPids(server.get());
      assert.ok(pid !== undefined, 'one worker process');
      await post('mode=hash', pattern(1024 * 1024, 7));
      // The worker copies the body out of its region, which maps the region's pages into it;
      // responses here are small, so nothing else touches them.
      const shared = sharedResident(pid);
      if (region === 'on') assert.ok(shared >= 1024 * 1024, `the worker maps ${shared} bytes of shared memory`);
      else assert.ok(shared < 64 * 1024, `the worker maps ${shared} bytes of shared memory`);
    });
  });
}

for (const spooling of ['on', 'off'] as const) {
  describe(`request bodies, request body spooling ${spooling}`, () => {
    const server = serverFixture([app('input.wsgi'), '--threads', '1', '--limit-request-body', '0', `--request-body-spooling=${spooling}`]);
    before(server.start);
    after(server.stop);
    const post = (query: string, body: Buffer): Promise<Json> => getJson(`${server.get().url}/?${query}`, { method: 'POST', body });

    /** Lines of varied lengths, some longer than the reads that cut them. */
    function lines(size: number): Buffer {
      const out = Buffer.alloc(size);
      let line = 0;
      let next = 0;
      for (let i = 0; i < size; i++) {
        if (i === next) {
          out[i] = 0x0a;
          line++;
          next = i + 1 + ((line * 7919) % 3000);
        } else {
          out[i] = 0x61 + (i % 26);
        }
      }
      return out;
    }

    for (const size of [900_000, 3_500_000]) {
      const how = size <= 1024 * 1024 ? 'read whole before dispatch' : spooling === 'on' ? 'spooled to a file before dispatch' : 'streamed as the application reads';
      it(`read(n) and readline(size) across the pieces of a ${size}-byte body (${how})`, async () => {
        const body = lines(size);
        const expected = createHash('sha256').update(body).digest('hex');
        const reads = await post('mode=hash&n=7777', body);
        assert.equal(reads['length'], size);
        assert.equal(reads['sha256'], expected);
        const byLine = await post('mode=hashlines&size=1000', body);
        assert.equal(byLine['length'], size);
        assert.equal(byLine['sha256'], expected);
        const unlimited = await post('mode=hashlines&size=-1', body);
        assert.equal(unlimited['sha256'], expected);
        assert.equal(unlimited['newlines'], body.filter((b) => b === 0x0a).length);
      });
    }

    it('a body the application reads only the start of: the rest is read and dropped, and the connection serves the next request', async () => {
      const body = lines(3_500_000);
      // Whether the connection got stuck depended on timing: a few rounds, each on a connection of its own.
      for (let round = 0; round < 4; round++) {
        const socket = net.connect(server.get().port, '127.0.0.1');
        try {
          let received = '';
          const waitFor = (pattern: RegExp, what: string): Promise<void> =>
            new Promise((resolve, reject) => {
              const check = (): void => {
                if (pattern.test(received)) {
                  socket.off('data', onData);
                  clearTimeout(timer);
                  resolve();
                }
              };
              const onData = (piece: Buffer): void => {
                received += piece.toString('latin1');
                check();
              };
              const timer = setTimeout(() => reject(new Error(`round ${round}: no ${what} within 10 s; got ${JSON.stringify(received.slice(0, 300))}`)), 10_000);
              socket.on('data', onData);
              socket.once('error', (err) => reject(new Error(`round ${round}, waiting for the ${what}: ${err.message}`)));
              check();
            });
          socket.write(Buffer.concat([Buffer.from(`POST /?mode=part&n=7 HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`, 'latin1'), body]));
          await waitFor(/"read": 7[^}]*}/, 'first answer');
          assert.match(received, /^HTTP\/1\.1 200 /);
          // The next request a while after the first is answered, as a client that does not pipeline sends it.
          await sleep(300);
          socket.write('POST /?mode=read HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello');
          await waitFor(/"text": "hello"/, 'second answer on the same connection');
        } finally {
          socket.destroy();
        }
      }
    });

    it('a client that sends its body slowly does not hold the only thread: the request runs once the body is in', async () => {
      const body = lines(500_000);
      const socket = net.connect(server.get().port, '127.0.0.1');
      const answer = new Promise<string>((resolve, reject) => {
        const chunks: Buffer[] = [];
        socket.on('data', (c: Buffer) => chunks.push(c));
        socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
        socket.on('error', reject);
      });
      socket.write(`POST /?mode=hash HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n`);
      socket.write(body.subarray(0, 1000));
      await sleep(300);
      const other = getJson(`${server.get().url}/?mode=read`);
      assert.ok(await settlesWithin(other, 15_000), 'another request was served while the body was still coming');
      socket.end(body.subarray(1000));
      const text = await answer;
      assert.match(text, /^HTTP\/1\.1 200 /);
      assert.equal((JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Json)['sha256'], createHash('sha256').update(body).digest('hex'));
    });
  });
}

/** A file of `size` bytes with a position-dependent pattern, in a fresh directory. */
function patternFile(size: number): { file: string; content: Buffer; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-file-'));
  const file = path.join(dir, 'served.bin');
  const content = Buffer.alloc(size);
  for (let i = 0; i < size; i++) content[i] = (i * 31 + (i >> 12)) & 0xff;
  fs.writeFileSync(file, content);
  return { file, content, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

for (const sendfile of [false, true]) {
  describe(`wsgi.file_wrapper over a regular file${sendfile ? ', sent by the front end (--enable-sendfile)' : ''}`, () => {
    const server = serverFixture([app('response.wsgi'), '--threads', '1', ...(sendfile ? ['--enable-sendfile'] : [])]);
    const data = patternFile(3_000_000);
    before(server.start);
    after(async () => {
      await server.stop();
      data.cleanup();
    });
    const url = (query: string): string => `${server.get().url}/file-wrapper?path=${encodeURIComponent(data.file)}${query}`;

    it('sends the whole file with a Content-Length, as mod_wsgi does', async () => {
      const res = await fetch(url(''));
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(res.headers.get('content-length'), '3000000');
      assert.equal(res.headers.get('transfer-encoding'), null);
      assert.ok(body.equals(data.content));
    });

    it('starts at the file\'s current position', async () => {
      const res = await fetch(url('&seek=1234567'));
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(res.headers.get('content-length'), String(3_000_000 - 1_234_567));
      assert.ok(body.equals(data.content.subarray(1_234_567)));
    });

    it('stops at a declared Content-Length', async () => {
      const res = await fetch(url('&seek=10&length=100000'));
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(res.headers.get('content-length'), '100000');
      assert.ok(body.equals(data.content.subarray(10, 100_010)));
    });

    it('a declared Content-Length past the end of the file: the file, then the connection closes with nothing more', async () => {
      const raw = await rawExchange(
        server.get().port,
        `GET /file-wrapper?path=${encodeURIComponent(data.file)}&length=5000000 HTTP/1.1\r\nHost: x\r\n\r\nGET /pid HTTP/1.1\r\nHost: x\r\n\r\n`,
      );
      const split = raw.indexOf('\r\n\r\n');
      assert.match(raw.subarray(0, split).toString('latin1'), /\r\nContent-Length: 5000000\r\n/i);
      // Anything after the file would be read as its missing bytes: the pipelined request gets no answer.
      assert.ok(raw.subarray(split + 4).equals(data.content), `the file and nothing else (${raw.length - split - 4} bytes)`);
    });

    it('answers HEAD with the length and no body', async () => {
      const raw = await rawExchange(server.get().port, `HEAD /file-wrapper?path=${encodeURIComponent(data.file)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      const text = raw.toString('latin1');
      assert.match(text, /^HTTP\/1\.1 200 /);
      assert.match(text, /\r\nContent-Length: 3000000\r\n/i);
      assert.ok(text.endsWith('\r\n\r\n'), 'nothing after the head');
    });

    it('iterates a file-like object that is not a regular file', async () => {
      const res = await fetch(`${server.get().url}/file-wrapper-bytesio`);
      assert.equal(await res.text(), 'from-memory-'.repeat(1000));
    });

    it('serves the same file many times in a row on the one thread', async () => {
      for (let i = 0; i < 5; i++) {
        const got = await download(url(''));
        assert.equal(got.length, 3_000_000);
      }
    });
  });
}

describe('--enable-sendfile frees the worker thread as soon as it hands the file over', () => {
  const server = serverFixture([app('response.wsgi'), '--threads', '1', '--enable-sendfile', '--response-buffer-size', '64K']);
  const data = patternFile(40_000_000);
  before(server.start);
  after(async () => {
    await server.stop();
    data.cleanup();
  });

  it('another request is served while a client that reads nothing has most of a 40 MB file still to come', async () => {
    const stalled = stalledGet(server.get().port, `/file-wrapper?path=${encodeURIComponent(data.file)}`);
    try {
      await sleep(300);
      const other = fetch(`${server.get().url}/pid`).then((r) => r.text());
      assert.ok(await settlesWithin(other, 15_000), 'the only thread was free for another request');
    } finally {
      stalled.destroy();
    }
  });
});

/** Drops `file`'s pages from the page cache, so the front end's probe finds them missing. */
function evictFromPageCache(file: string): void {
  const evict = `import os\nfd = os.open(${JSON.stringify(file)}, os.O_RDONLY)\nos.fsync(fd)\nos.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)\n`;
  execFileSync(systemPython() ?? 'python3', ['-c', evict]);
}

/**
 * Sets the soft limit on open descriptors of process `pid` so that exactly `free` more can be
 * opened (a new descriptor takes the lowest free number, and the limit bounds the number, so the
 * gaps below it count); returns a function that puts the old limit back.
 */
async function leaveDescriptors(pid: number, free: number): Promise<() => void> {
  // Connections of earlier requests close a moment after their answers: counted once settled.
  const count = (): number => fs.readdirSync(`/proc/${pid}/fd`).length;
  const deadline = Date.now() + 5_000;
  let last = count();
  for (;;) {
    await sleep(150);
    const now = count();
    if (now === last || Date.now() > deadline) break;
    last = now;
  }
  const open = new Set(fs.readdirSync(`/proc/${pid}/fd`).map(Number));
  let limit = 0;
  for (let left = free; left > 0; limit++) if (!open.has(limit)) left--;
  const python = systemPython() ?? 'python3';
  const set = (soft: string): string =>
    execFileSync(python, ['-c', `import resource as r\nold = r.prlimit(${pid}, r.RLIMIT_NOFILE)\nr.prlimit(${pid}, r.RLIMIT_NOFILE, (${soft}, old[1]))\nprint(old[0])`], { encoding: 'utf8' }).trim();
  const previous = set(String(limit));
  return () => void set(previous);
}

describe('--enable-sendfile hands the file to the kernel (sendfile(2), native/file_send.c)', () => {
  const server = serverFixture([app('response.wsgi'), '--threads', '1', '--enable-sendfile', '--server-status', '--server-metrics']);
  const data = patternFile(12_000_000);
  before(server.start);
  after(async () => {
    await server.stop();
    data.cleanup();
  });
  const target = (): string => `/file-wrapper?path=${encodeURIComponent(data.file)}`;

  async function fileBytes(): Promise<{ sendfile: number; copied: number }> {
    const status = await getJson<{ groups: { fileBytesBySendfile: number; fileBytesCopied: number }[] }>(`${server.get().url}/server-status?json`);
    return { sendfile: status.groups[0]!.fileBytesBySendfile, copied: status.groups[0]!.fileBytesCopied };
  }

  /** One GET on a fresh connection, read after `pauseMs`; the whole response, split into head and body. */
  function getOnce(path: string, pauseMs = 0): Promise<{ head: string; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(server.get().port, '127.0.0.1');
      const pieces: Buffer[] = [];
      socket.on('error', reject);
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      if (pauseMs > 0) {
        socket.pause();
        setTimeout(() => socket.resume(), pauseMs);
      }
      socket.on('data', (piece: Buffer) => pieces.push(piece));
      socket.on('end', () => {
        const all = Buffer.concat(pieces);
        const split = all.indexOf('\r\n\r\n');
        resolve({ head: all.subarray(0, split).toString('latin1'), body: all.subarray(split + 4) });
      });
    });
  }

  it('sends the file by sendfile, intact, and counts every byte once', async () => {
    const before = await fileBytes();
    const res = await getOnce(target());
    const after = await fileBytes();
    assert.match(res.head, /^HTTP\/1\.1 200 /);
    assert.match(res.head, /\r\nContent-Length: 12000000/i);
    assert.ok(res.body.equals(data.content), 'the body is the file');
    assert.ok(after.sendfile > before.sendfile, `sendfile sent part of the file (${after.sendfile - before.sendfile} bytes)`);
    assert.equal(after.sendfile - before.sendfile + (after.copied - before.copied), 12_000_000);
    // The metrics give the same counts.
    const metrics = await (await fetch(`${server.get().url}/server-metrics`)).text();
    const counted = (how: string): number => Number(new RegExp(`^wsgi_host_file_bytes_sent_total\\{process_group="[^"]*",how="${how}"\\} (\\d+)$`, 'm').exec(metrics)?.[1]);
    assert.equal(counted('sendfile'), after.sendfile);
    assert.equal(counted('copied'), after.copied);
  });

  it('a client that stops reading: the piece its full socket cannot take goes the usual way, then sendfile again', async () => {
    const before = await fileBytes();
    const res = await getOnce(target(), 400);
    const after = await fileBytes();
    assert.ok(res.body.equals(data.content), 'the body is the file, in order');
    assert.ok(after.copied > before.copied, 'a piece waited for the client in the front end');
    assert.ok(after.sendfile - before.sendfile > 0, 'sendfile sent the rest once the client read again');
    assert.equal(after.sendfile - before.sendfile + (after.copied - before.copied), 12_000_000);
  });

  it('a file not in the page cache is sent too (by sendfile on the thread pool), intact', async () => {
    evictFromPageCache(data.file);
    const before = await fileBytes();
    const res = await getOnce(target());
    const after = await fileBytes();
    assert.ok(res.body.equals(data.content), 'the body is the file');
    assert.ok(after.sendfile > before.sendfile, 'sendfile sent part of it');
  });

  it('the connection stays in step: the next request on it gets its own response', async () => {
    const raw = await rawExchange(
      server.get().port,
      `GET ${target()} HTTP/1.1\r\nHost: x\r\n\r\nGET /pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    const firstHead = raw.indexOf('\r\n\r\n');
    assert.match(raw.subarray(0, firstHead).toString('latin1'), /^HTTP\/1\.1 200 /);
    const firstBody = raw.subarray(firstHead + 4, firstHead + 4 + 12_000_000);
    assert.ok(firstBody.equals(data.content), 'the file comes whole before the next response');
    assert.match(raw.subarray(firstHead + 4 + 12_000_000).toString('latin1'), /^HTTP\/1\.1 200 [^]*\r\n\r\n\d+$/);
  });

  it('a file that shrinks while it is sent: the response is cut short with an error log, and the front end goes on', async () => {
    // Larger than the loopback socket buffers on both sides can hold, so the front end is still
    // sending when the file shrinks: it can be no further ahead than what the client has read,
    // and the client reads nothing more until the file has shrunk (in the same data event).
    const shrinking = patternFile(48_000_000);
    try {
      const socket = net.connect(server.get().port, '127.0.0.1');
      const pieces: Buffer[] = [];
      let shrunk = false;
      const ended = new Promise<void>((resolve, reject) => {
        socket.on('error', reject);
        socket.on('close', () => resolve());
      });
      socket.on('data', (piece: Buffer) => {
        pieces.push(piece);
        if (!shrunk && Buffer.concat(pieces).includes('\r\n\r\n')) {
          shrunk = true;
          fs.truncateSync(shrinking.file, 1024 * 1024);
        }
      });
      socket.write(`GET /file-wrapper?path=${encodeURIComponent(shrinking.file)} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      await ended;
      const all = Buffer.concat(pieces);
      const split = all.indexOf('\r\n\r\n');
      assert.match(all.subarray(0, split).toString('latin1'), /\r\nContent-Length: 48000000/i);
      const body = all.subarray(split + 4);
      assert.ok(body.length < 48_000_000, `the response is cut short (${body.length} bytes of 48000000)`);
      // Only what stayed in the file is sure to come as it was: bytes past the cut that sendfile
      // had already handed to the socket may arrive zeroed (truncating zeroes the tail of a large
      // page-cache folio before the kernel splits it), as with any server that sends files by sendfile.
      const kept = Math.min(body.length, 1024 * 1024);
      assert.ok(body.subarray(0, kept).equals(shrinking.content.subarray(0, kept)), 'what stayed in the file came intact, in order');
      const line = await server.get().waitForLog('Reading the file of a wsgi.file_wrapper response failed');
      assert.match(line, /bytes short of the range the worker gave; the response is cut short/);
      // The front end is still serving, and still sends files with sendfile.
      const next = await getOnce(target());
      assert.ok(next.body.equals(data.content), 'the next file comes whole');
    } finally {
      shrinking.cleanup();
    }
  });

  it('closes every descriptor it opened, for files sent whole and for clients that leave part way', async () => {
    const pid = server.get().child.pid!;
    const open = (): number => fs.readdirSync(`/proc/${pid}/fd`).length;
    const baseline = open();
    for (let i = 0; i < 3; i++) assert.equal((await getOnce(target())).body.length, 12_000_000);
    for (let i = 0; i < 3; i++) {
      const stalled = stalledGet(server.get().port, target());
      await sleep(200);
      stalled.destroy();
    }
    const deadline = Date.now() + 5_000;
    while (open() > baseline && Date.now() < deadline) await sleep(50);
    assert.equal(open(), baseline, 'the front end holds no descriptor more than before');
  });
});

describe('--enable-sendfile when the front end is out of descriptors', () => {
  const server = serverFixture([app('response.wsgi'), '--threads', '1', '--enable-sendfile', '--server-status']);
  const data = patternFile(6_000_000);
  before(server.start);
  after(async () => {
    await server.stop();
    data.cleanup();
  });

  it('a file not in the page cache that cannot go to the thread pool (no descriptor to duplicate) is read and written instead, and the front end goes on', async () => {
    const pid = server.get().child.pid!;
    evictFromPageCache(data.file);
    // Two: the client's connection and the front end's own descriptor for the worker's file.
    // The thread pool's sendfile then cannot duplicate them.
    const restore = await leaveDescriptors(pid, 2);
    let body: Buffer;
    try {
      const raw = await rawExchange(server.get().port, `GET /file-wrapper?path=${encodeURIComponent(data.file)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      const split = raw.indexOf('\r\n\r\n');
      assert.match(raw.subarray(0, split).toString('latin1'), /^HTTP\/1\.1 200 /);
      body = raw.subarray(split + 4);
    } finally {
      restore();
    }
    assert.ok(body.equals(data.content), `the body is the file (${body.length} bytes)`);
    assert.equal(server.get().exitCode, undefined, 'the front end is still running');
    const status = await getJson<{ groups: { fileBytesBySendfile: number; fileBytesCopied: number }[] }>(`${server.get().url}/server-status?json`);
    assert.ok(status.groups[0]!.fileBytesCopied > 0, 'pieces went the usual way');
    assert.equal(status.groups[0]!.fileBytesBySendfile + status.groups[0]!.fileBytesCopied, 6_000_000);
  });

  it('a file the front end cannot open (no descriptor left) is sent by the worker, whole', async () => {
    const pid = server.get().child.pid!;
    const statusUrl = `${server.get().url}/server-status?json`;
    type Counts = { groups: { fileBytesBySendfile: number; fileBytesCopied: number }[] };
    const before = (await getJson<Counts>(statusUrl, { headers: { connection: 'close' } })).groups[0]!;
    // One: the client's connection, and none for the worker's file.
    const restore = await leaveDescriptors(pid, 1);
    let body: Buffer;
    try {
      const raw = await rawExchange(server.get().port, `GET /file-wrapper?path=${encodeURIComponent(data.file)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      body = raw.subarray(raw.indexOf('\r\n\r\n') + 4);
    } finally {
      restore();
    }
    assert.ok(body.equals(data.content), `the body is the file (${body.length} bytes)`);
    const after = (await getJson<Counts>(statusUrl)).groups[0]!;
    assert.equal(after.fileBytesBySendfile + after.fileBytesCopied, before.fileBytesBySendfile + before.fileBytesCopied, 'the front end sent none of it');
  });
});
