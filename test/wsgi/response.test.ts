import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { app, rawExchange, request, serverFixture, sleep } from '../helpers/server';

const markers = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-markers-'));
let markerCount = 0;
function newMarker(): string {
  return `m${++markerCount}`;
}
async function waitForMarker(name: string, timeoutMs = 5000): Promise<string> {
  const file = path.join(markers, name);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8');
    await sleep(20);
  }
  throw new Error(`marker ${name} was not written within ${timeoutMs} ms`);
}

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

describe('responses', () => {
  const server = serverFixture([app('response.wsgi'), '--threads', '4'], { env: { WSGI_TEST_MARKERS: markers } });
  before(server.start);
  after(async () => {
    await server.stop();
    fs.rmSync(markers, { recursive: true, force: true });
  });
  const get = (route: string, options: Parameters<typeof request>[1] = {}): ReturnType<typeof request> => request(`${server.get().url}${route}`, options);

  it('sends every item of a list, tuple or generator in order, skipping empty items', async () => {
    assert.equal((await get('/list')).text, 'chunk1-chunk2-chunk3');
    assert.equal((await get('/generator')).text, 'gen-one-gen-two');
  });

  it('sends the status line as given, reason phrase included, and a default reason when it has none', async () => {
    const custom = await get('/custom-reason');
    assert.equal(custom.status, 200);
    assert.equal(custom.statusMessage, 'Very Fine');
    const bare = await get('/no-reason');
    assert.equal(bare.status, 299);
    assert.equal(bare.text, 'odd');
  });

  it('handles empty responses, including 204', async () => {
    const empty = await get('/empty');
    assert.equal(empty.status, 204);
    assert.equal(empty.body.length, 0);
    const empty200 = await get('/empty-200');
    assert.equal(empty200.status, 200);
    assert.equal(empty200.body.length, 0);
  });

  it('keeps repeated headers and latin-1 header values', async () => {
    const res = await get('/headers');
    assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2']);
    assert.equal(res.headers['x-latin'], 'caf\u00e9');
  });

  it("calls the iterable's close() after the response", async () => {
    const marker = newMarker();
    const res = await get(`/close?marker=${marker}`);
    assert.equal(res.text, 'iter-a-iter-b');
    assert.equal(await waitForMarker(marker), 'closed');
  });

  it('answers 500 when the application raises before its output, with the traceback only in the error log', async () => {
    const res = await get('/raise-before');
    assert.equal(res.status, 500);
    assert.doesNotMatch(res.text, /raise-before-boom/);
    await server.get().waitForLog(/\[wsgi:error\].*WSGI0174: \[script .*response\.wsgi\] RuntimeError exception raised processing WSGI script '.*response\.wsgi' for main interpreter of daemon process '[^']+'\./);
    await server.get().waitForLog(/\[wsgi:error\] \[pid \d+:tid \d+\] \[request_id [^\]]+\] \[client 127\.0\.0\.1:\d+\] RuntimeError: raise-before-boom/);
    await server.get().waitForLog(/Traceback \(most recent call last\):/);
  });

  it('answers 500 when the application raises after start_response but before any output', async () => {
    assert.equal((await get('/raise-after-start')).status, 500);
    await server.get().waitForLog('RuntimeError: raise-after-start-boom');
  });

  it('cuts the connection when the application raises after output began, so the client sees a truncated response', async () => {
    const raw = (await rawExchange(server.get().port, 'GET /raise-midway HTTP/1.1\r\nHost: x\r\n\r\n')).toString('latin1');
    assert.match(raw, /^HTTP\/1\.1 200 OK/);
    assert.match(raw, /Transfer-Encoding: chunked/);
    assert.match(raw, /before-boom/);
    assert.ok(!raw.endsWith('0\r\n\r\n'), 'no terminating chunk: the client can tell the body is incomplete');
    await server.get().waitForLog('RuntimeError: raise-midway-boom');
  });

  it('runs a generator\'s finally block when it raises after output began', async () => {
    const marker = newMarker();
    await rawExchange(server.get().port, `GET /raise-midway-finally?marker=${marker} HTTP/1.1\r\nHost: x\r\n\r\n`, 300);
    assert.equal(await waitForMarker(marker), 'finally');
  });

  it('logs SystemExit from the application as WSGI0175 and answers 500', async () => {
    assert.equal((await get('/system-exit')).status, 500);
    await server.get().waitForLog(/WSGI0175: .*SystemExit exception raised by WSGI script .*; ignored\./);
    await server.get().waitForLog('SystemExit: system-exit-msg');
  });

  it('requires bytes from the iterable: str first gives 500, str after output truncates', async () => {
    assert.equal((await get('/non-bytes-first')).status, 500);
    await server.get().waitForLog('TypeError: response iterable must yield bytes, not str');
    const raw = (await rawExchange(server.get().port, 'GET /non-bytes-midway HTTP/1.1\r\nHost: x\r\n\r\n')).toString('latin1');
    assert.match(raw, /^HTTP\/1\.1 200 OK[\s\S]*bytes-ok/);
    assert.ok(!raw.endsWith('0\r\n\r\n'));
  });

  it('answers 500 when content comes without start_response', async () => {
    assert.equal((await get('/no-start-response')).status, 500);
    await server.get().waitForLog('RuntimeError: start_response() must be called before response content is produced');
  });

  it('sends exactly a declared Content-Length, cutting off excess output', async () => {
    const exact = await get('/content-length-exact');
    assert.equal(exact.text, 'exactly10!');
    const over = await get('/content-length-over');
    assert.equal(over.headers['content-length'], '5');
    assert.equal(over.text, 'this-');
  });

  it('sends a generator body that completes its Content-Length whole, and cuts what comes after', async () => {
    const whole = await get('/content-length-generator');
    assert.equal(whole.headers['content-length'], '11');
    assert.equal(whole.text, 'hello world');
    const over = await get('/content-length-generator-over');
    assert.equal(over.headers['content-length'], '5');
    assert.equal(over.text, 'hello');
  });

  it('streams a piece that does not complete the declared body at once, before the generator goes on', async () => {
    const started = Date.now();
    const times: number[] = [];
    const body = await new Promise<string>((resolve, reject) => {
      http.get(`${server.get().url}/content-length-stream`, (res) => {
        let text = '';
        res.setEncoding('latin1');
        res.on('data', (chunk: string) => {
          times.push(Date.now() - started);
          text += chunk;
        });
        res.on('end', () => resolve(text));
        res.on('error', reject);
      }).on('error', reject);
    });
    assert.equal(body, 'first-second');
    assert.ok(times.length >= 2, `the body came in ${times.length} piece(s)`);
    // The generator sleeps 0.6 s between its pieces: the first must not wait for the second.
    assert.ok(times[times.length - 1]! - times[0]! >= 400, `pieces at ${times.join(', ')} ms`);
  });

  it('closes the connection when the application sends less than its Content-Length', async () => {
    const raw = (await rawExchange(server.get().port, 'GET /content-length-short HTTP/1.1\r\nHost: x\r\n\r\n', 3000)).toString('latin1');
    assert.match(raw, /Content-Length: 100/);
    assert.ok(raw.endsWith('only-this'), 'what there was arrived, and the connection then closed');
  });

  for (const [what, first] of [
    ['an error answer that closes the connection (two Host headers: 400)', 'GET /pid HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'],
    ['a response shorter than its Content-Length', 'GET /content-length-short HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a request that asked to close (Connection: close)', 'GET /pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
  ] as const) {
    it(`runs no pipelined request after ${what} (RFC 9112 section 9.6)`, async () => {
      const skipped = newMarker();
      const raw = (await rawExchange(server.get().port, `${first}GET /close?marker=${skipped} HTTP/1.1\r\nHost: x\r\n\r\n`, 3000)).toString('latin1');
      assert.equal(raw.match(/HTTP\/1\.1 \d{3} /g)?.length, 1, `one answer only: ${JSON.stringify(raw.slice(0, 200))}`);
      // A request on a new connection runs to its end; the one behind the closing answer, had it
      // been begun, would have been begun before it.
      const later = newMarker();
      assert.equal((await request(`${server.get().url}/close?marker=${later}`)).status, 200);
      assert.equal(await waitForMarker(later), 'closed');
      assert.equal(fs.existsSync(path.join(markers, skipped)), false, 'the pipelined request never reached the application');
    });
  }

  it('sends a block that completes the declared body at once, not when the generator ends (PEP 3333: no block held back)', async () => {
    const started = Date.now();
    const got = await new Promise<{ text: string; ms: number }>((resolve, reject) => {
      http
        .get(`${server.get().url}/complete-then-sleep`, { agent: false }, (res) => {
          let text = '';
          res.setEncoding('latin1');
          res.on('data', (piece: string) => {
            text += piece;
            if (text.length >= 8) resolve({ text, ms: Date.now() - started });
          });
        })
        .on('error', reject);
    });
    assert.equal(got.text, 'complete');
    // The generator sleeps 2 s after its last block.
    assert.ok(got.ms < 1500, `the body came after ${got.ms} ms`);
  });

  it('keeps the status and body a generator completed before it raised', async () => {
    const raw = (await rawExchange(server.get().port, 'GET /complete-then-raise HTTP/1.1\r\nHost: x\r\n\r\n', 3000)).toString('latin1');
    assert.match(raw, /^HTTP\/1\.1 200 /);
    assert.ok(raw.endsWith('\r\n\r\ncomplete'), JSON.stringify(raw));
    await server.get().waitForLog('complete-then-raise-boom');
  });

  it('answers HEAD with the application\'s head even when the application fails after its first block', async () => {
    const raw = (await rawExchange(server.get().port, 'HEAD /raise-midway HTTP/1.1\r\nHost: x\r\n\r\n', 3000)).toString('latin1');
    assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(raw.endsWith('\r\n\r\n'), `the head and nothing more: ${JSON.stringify(raw)}`);
  });

  it('answers 500 for an interim (1xx) status from the application, with a log saying why', async () => {
    const raw = (await rawExchange(server.get().port, 'GET /interim-status HTTP/1.1\r\nHost: x\r\n\r\nGET /pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 3000)).toString('latin1');
    const statuses = [...raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['500', '200'], raw);
    await server.get().waitForLog("status code must be a final status (200 to 999), not an interim or invalid one: b'103 Early Hints'");
  });

  it('sends one Content-Length, the last the application gave, when it gives two', async () => {
    const raw = (await rawExchange(server.get().port, 'GET /content-length-twice HTTP/1.1\r\nHost: x\r\n\r\nGET /pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 3000)).toString('latin1');
    const first = raw.slice(0, raw.indexOf('\r\n\r\n'));
    assert.deepEqual(first.match(/^Content-Length: .*$/gim), ['Content-Length: 10'], first);
    assert.ok(raw.includes('\r\n\r\nexactly10!HTTP/1.1 200 '), 'the body, then the next answer');
  });

  it('answers a CONNECT pipelined behind a request after that request\'s answer', async () => {
    const raw = (await rawExchange(server.get().port, 'GET /list HTTP/1.1\r\nHost: x\r\n\r\nCONNECT x:80 HTTP/1.1\r\nHost: x:80\r\n\r\n', 3000)).toString('latin1');
    const statuses = [...raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['200', '501'], raw);
  });

  it('answers pipelined requests in order, each begun once the one before is answered', async () => {
    const raw = (await rawExchange(server.get().port, 'GET /list HTTP/1.1\r\nHost: x\r\n\r\nGET /pid HTTP/1.1\r\nHost: x\r\n\r\nGET /method HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 3000)).toString('latin1');
    assert.equal(raw.match(/HTTP\/1\.1 200 /g)?.length, 3, raw);
    assert.ok(raw.indexOf('X-Method: GET') > raw.indexOf('HTTP/1.1 200', raw.indexOf('HTTP/1.1 200') + 1), 'the third answer comes last');
  });

  it('sends nothing after a response shorter than its Content-Length, even to a client that pipelined its next request', async () => {
    // The next response would be read as the missing bytes of this one.
    const raw = (await rawExchange(server.get().port, 'GET /content-length-short HTTP/1.1\r\nHost: x\r\n\r\nGET /pid HTTP/1.1\r\nHost: x\r\n\r\n', 3000)).toString('latin1');
    assert.match(raw, /Content-Length: 100/);
    assert.ok(raw.endsWith('only-this'), `the connection closed after what there was, with nothing more: ${JSON.stringify(raw.slice(-120))}`);
  });

  it('answers 500 for an invalid Content-Length from the application', async () => {
    assert.equal((await get('/content-length-bad')).status, 500);
    await server.get().waitForLog(`ValueError: invalid Content-Length header value: 'ten'`);
  });

  it('supports the write() callable, before the returned iterable', async () => {
    assert.equal((await get('/write')).text, 'written-returned');
    assert.equal((await get('/write-bad-type')).text, 'write() argument must be bytes, not str');
  });

  it('lets start_response be called again before any output, and refuses it after output without exc_info', async () => {
    const twice = await get('/start-response-twice');
    assert.equal(twice.status, 201);
    const marker = newMarker();
    const after = await get(`/start-response-after-output?marker=${marker}`);
    assert.equal(after.status, 200);
    assert.equal(after.text, 'first-second');
    assert.equal(await waitForMarker(marker), 'start_response() called more than once without exc_info');
  });

  it('follows the exc_info rules: replaces the head before output, re-raises after', async () => {
    const before = await get('/exc-info-before-output');
    assert.equal(before.status, 500);
    assert.equal(before.statusMessage, 'Handled Error');
    assert.equal(before.text, 'replaced');
    const raw = (await rawExchange(server.get().port, 'GET /exc-info-after-output HTTP/1.1\r\nHost: x\r\n\r\n')).toString('latin1');
    assert.match(raw, /^HTTP\/1\.1 200 OK[\s\S]*partial/);
    await server.get().waitForLog('ValueError: reraised-after-output');
  });

  const validation: [string, string][] = [
    ['status-int', 'TypeError: must be str, not int'],
    ['status-short', "ValueError: status code must be a 3 digit integer: b'20 OK'"],
    ['status-four', "ValueError: status code must be a 3 digit integer: b'2000 OK'"],
    ['status-nospace', "ValueError: no space following status code: b'200OK'"],
    ['status-control', "ValueError: control character in status reason phrase: b'200 O\\x01K'"],
    ['status-nonlatin', "UnicodeEncodeError: 'latin-1' codec can't encode character '\\u20ac'"],
    ['headers-tuple', 'TypeError: start_response() argument 2 must be list, not tuple'],
    ['header-not-tuple', 'TypeError: each header must be a 2-tuple, not list'],
    ['header-length', 'ValueError: each header must be a 2-tuple, got length 3'],
    ['name-not-str', 'TypeError: must be str, not bytes'],
    ['name-empty', 'ValueError: header name is empty'],
    ['name-space', "ValueError: space character in header name: b'A B'"],
    ['name-control', "ValueError: control character in header name: b'A\\x01'"],
    ['name-separator', "ValueError: invalid character in header name: b'A:B'"],
    ['value-crlf', "ValueError: carriage return/line feed character in header value: b'b\\r\\nX: y'"],
    ['value-control', "ValueError: control character in header value: b'b\\x00c'"],
    ['value-nonlatin', "UnicodeEncodeError: 'latin-1' codec can't encode character '\\u20ac'"],
    ['value-not-str', 'TypeError: must be str, not int'],
  ];
  for (const [name, message] of validation) {
    it(`validates start_response arguments as mod_wsgi does: ${name}`, async () => {
      const res = await get(`/validate?case=${name}`);
      assert.ok(res.text.startsWith(message), `got: ${res.text}`);
    });
  }

  it('answers HEAD with the headers and no body', async () => {
    const raw = (await rawExchange(server.get().port, 'HEAD /content-length-exact HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toString('latin1');
    assert.match(raw, /^HTTP\/1\.1 200 OK/);
    assert.match(raw, /Content-Length: 10\r\n/);
    assert.ok(raw.endsWith('\r\n\r\n'), 'nothing after the head');
    // WSGIMapHEADToGET Auto: with no output filters the application sees HEAD.
    const head = await get('/method', { method: 'HEAD' });
    assert.equal(head.body.length, 0);
    assert.equal(head.headers['x-method'], 'HEAD');
    assert.equal(head.headers['content-length'], '4', 'the length the body would have had');
  });

  it('serves wsgi.file_wrapper over a real file', async () => {
    const file = path.join(markers, 'served.bin');
    const content = Buffer.alloc(200_000);
    for (let i = 0; i < content.length; i++) content[i] = (i * 31) & 0xff;
    fs.writeFileSync(file, content);
    const res = await get(`/file-wrapper?path=${encodeURIComponent(file)}`);
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(content));
  });

  it('sends print() and wsgi.errors output to the error log with the request\'s client, a line at a time', async () => {
    await get('/print');
    await server.get().waitForLog(/\[wsgi:error\] \[pid \d+:tid \d+\] \[request_id [^\]]+\] \[client 127\.0\.0\.1:\d+\] printed-line-one$/);
    await server.get().waitForLog(/\[client 127\.0\.0\.1:\d+\] errors-line$/);
    // Partial lines are flushed when the request ends.
    await server.get().waitForLog(/\[client 127\.0\.0\.1:\d+\] printed-partial$/);
    await server.get().waitForLog(/\[client 127\.0\.0\.1:\d+\] errors-partial$/);
  });

  it('streams a 100 MiB download intact while neither process holds much of it', { timeout: 120_000 }, async () => {
    const size = 100 * 1024 * 1024;
    const { hash, length, maxBuffered } = await new Promise<{ hash: string; length: number; maxBuffered: number }>((resolve, reject) => {
      const digest = createHash('sha256');
      let length = 0;
      const req = http.get(`${server.get().url}/download?size=${size}`, { agent: false }, (res) => {
        // Read slowly at first so back-pressure has to work.
        res.pause();
        setTimeout(() => res.resume(), 300);
        res.on('data', (c: Buffer) => {
          digest.update(c);
          length += c.length;
        });
        res.on('end', () => resolve({ hash: digest.digest('hex'), length, maxBuffered: 0 }));
      });
      req.on('error', reject);
    });
    assert.equal(length, size);
    assert.equal(hash, patternHash(size));
    assert.equal(maxBuffered, 0);
  });

  it('adds Content-Length to a response that is complete in one piece, as Apache does', async () => {
    const res = await get('/list');
    assert.equal(res.headers['content-length'], '20');
    assert.equal(res.headers['transfer-encoding'], undefined);
    const empty = await get('/empty');
    assert.equal(empty.headers['content-length'], undefined, 'never on a 204');
  });

  it('sends a streamed response without Content-Length as chunked and complete', async () => {
    const res = await get(`/download-chunked?size=${3 * 65536 + 7}`);
    assert.equal(res.headers['transfer-encoding'], 'chunked');
    assert.equal(res.body.length, 3 * 65536 + 7);
    const single = await get('/big-single?size=1000000');
    assert.equal(single.body.length, 1_000_000);
  });
});

describe('client disconnects', () => {
  const server = serverFixture([app('response.wsgi'), '--threads', '1'], { env: { WSGI_TEST_MARKERS: markers } });
  before(async () => {
    fs.mkdirSync(markers, { recursive: true });
    await server.start();
  });
  after(server.stop);

  async function readThenHangUp(route: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${server.get().url}${route}`, { agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(err)));
    });
  }

  it('makes write() raise OSError, still calls close(), and frees the thread', async () => {
    const marker = newMarker();
    await readThenHangUp(`/slow-stream?marker=${marker}`);
    assert.equal(await waitForMarker(`${marker}.write`), 'ClientGone: mod_wsgi client connection closed');
    assert.equal(await waitForMarker(`${marker}.close`), 'closed');
    // The only thread is free again.
    assert.equal((await request(`${server.get().url}/list`)).text, 'chunk1-chunk2-chunk3');
  });

  it('abandons an iterable response and closes it (the generator is closed)', async () => {
    const marker = newMarker();
    await readThenHangUp(`/slow-iter?marker=${marker}`);
    assert.equal(await waitForMarker(marker), 'generator closed');
    assert.equal((await request(`${server.get().url}/list`)).status, 200);
  });
});
