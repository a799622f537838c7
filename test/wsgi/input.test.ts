import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { app, getJson, rawExchange, serverFixture } from '../helpers/server';

type InputResult = Record<string, unknown>;

/** A POST with Expect: 100-continue whose 5-byte body is sent when the server says to continue. */
function expectContinue(url: string): Promise<{ continued: boolean; body: InputResult }> {
  return new Promise((resolve, reject) => {
    let continued = false;
    const req = http.request(url, { method: 'POST', agent: false, headers: { Expect: '100-continue', 'Content-Length': '5' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ continued, body: JSON.parse(Buffer.concat(chunks).toString()) as InputResult }));
    });
    req.on('continue', () => {
      continued = true;
      req.end('12345');
    });
    req.on('error', reject);
  });
}

describe('wsgi.input', () => {
  const server = serverFixture([app('input.wsgi'), '--threads', '4', '--limit-request-body', '3000000']);
  before(server.start);
  after(server.stop);
  const post = (query: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<InputResult> =>
    getJson(`${server.get().url}/?${query}`, { method: 'POST', body, headers });

  it('read() returns the whole body, then b"" at the end', async () => {
    const result = await post('mode=read', 'hello body');
    assert.equal(result['text'], 'hello body');
    assert.equal(result['length'], 10);
    assert.equal(result['after'], 0);
    assert.equal(result['content_length'], '10');
  });

  it('read(n) returns n bytes at a time and b"" at the end', async () => {
    const result = await post('mode=readn&n=4', 'abcdefghij');
    assert.deepEqual(result['parts'], [4, 4, 2]);
  });

  it('readline() splits at newlines, and readline(size) caps the line length', async () => {
    assert.deepEqual((await post('mode=readline', 'one\ntwo\nthree'))['lines'], ['one\n', 'two\n', 'three']);
    assert.deepEqual((await post('mode=readline&size=3', 'abcdef\ngh\n'))['lines'], ['abc', 'def', '\n', 'gh\n']);
  });

  it('readlines() and iteration give every line', async () => {
    assert.deepEqual((await post('mode=readlines', 'a\nb\nc'))['lines'], ['a\n', 'b\n', 'c']);
    assert.deepEqual((await post('mode=iter', 'x\ny\n'))['lines'], ['x\n', 'y\n']);
  });

  it('reads a body that is not buffered whole (larger than the buffering threshold)', async () => {
    const body = Buffer.alloc(1_500_000, 'z');
    const result = await post('mode=hash', body);
    assert.equal(result['length'], body.length);
    assert.equal(result['sha256'], createHash('sha256').update(body).digest('hex'));
  });

  it('gives an empty body to GET and to a body-less POST', async () => {
    const get = await getJson(`${server.get().url}/?mode=read`);
    assert.equal(get['length'], 0);
    const empty = await post('mode=read', '');
    assert.equal(empty['length'], 0);
  });

  it('answers Expect: 100-continue at once: the front end reads the body before the application runs (request body spooling)', async () => {
    const raw = await rawExchange(server.get().port, 'POST /?mode=ignore HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n', 1000);
    assert.equal(raw.toString('latin1'), 'HTTP/1.1 100 Continue\r\n\r\n', 'told to continue, then waiting for the body');
    const result = await expectContinue(`${server.get().url}/?mode=read`);
    assert.equal(result.continued, true);
    assert.equal(result.body['text'], '12345');
  });

  it('refuses a chunked body with 411 unless --chunked-request is given (mod_wsgi default)', async () => {
    const raw = await rawExchange(server.get().port, 'POST /?mode=read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    assert.match(raw.toString('latin1'), /^HTTP\/1\.1 411 /);
  });

  it('refuses a declared body over LimitRequestBody with 413 before the application runs', async () => {
    const raw = await rawExchange(server.get().port, 'POST /?mode=read HTTP/1.1\r\nHost: x\r\nContent-Length: 4000000\r\n\r\nabc');
    assert.match(raw.toString('latin1'), /^HTTP\/1\.1 413 /);
  });

  it('serves several requests on one keep-alive connection, body or not, read or not', async () => {
    const socket = net.connect(server.get().port, '127.0.0.1');
    const requests =
      'POST /?mode=ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc' +
      'POST /?mode=read HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nwxyz' +
      'GET /?mode=read HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
    socket.end(requests);
    const chunks: Buffer[] = [];
    for await (const chunk of socket) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('latin1');
    assert.equal(text.match(/HTTP\/1\.1 200 OK/g)?.length, 3);
    assert.match(text, /"text": "wxyz"/);
  });
});

describe('wsgi.input with request body spooling off (--request-body-spooling=off): Expect as mod_wsgi answers it', () => {
  const server = serverFixture([app('input.wsgi'), '--threads', '2', '--request-body-spooling=off']);
  before(server.start);
  after(server.stop);

  it('answers Expect: 100-continue when the application reads, and not before', async () => {
    const result = await expectContinue(`${server.get().url}/?mode=read`);
    assert.equal(result.continued, true);
    assert.equal(result.body['text'], '12345');
  });

  it('does not send 100 Continue when the application answers without reading', async () => {
    const raw = await rawExchange(server.get().port, 'POST /?mode=ignore HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n', 1000);
    const text = raw.toString('latin1');
    assert.doesNotMatch(text, /100 Continue/);
    assert.match(text, /^HTTP\/1\.1 200 OK/);
    assert.match(text, /"ignored": true/);
  });
});

describe('wsgi.input with chunked request bodies', () => {
  const server = serverFixture([app('input.wsgi'), '--chunked-request', '--threads', '2']);
  before(server.start);
  after(server.stop);

  it('de-chunks the body, with no CONTENT_LENGTH and wsgi.input_terminated', async () => {
    const raw = await rawExchange(server.get().port, 'POST /?mode=read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
    const text = raw.toString('latin1');
    assert.match(text, /^HTTP\/1\.1 200 OK/);
    const result = JSON.parse(text.split('\r\n\r\n')[1]!) as InputResult;
    assert.equal(result['text'], 'hello world');
    assert.equal(result['content_length'], null);
    assert.equal(result['input_terminated'], true);
  });

  it('streams a chunked body sent slowly, piece by piece', async () => {
    const result = await new Promise<InputResult>((resolve, reject) => {
      const req = http.request(`${server.get().url}/?mode=readline`, { method: 'POST', agent: false, headers: { 'Transfer-Encoding': 'chunked' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString()) as InputResult));
      });
      req.on('error', reject);
      let i = 0;
      const tick = setInterval(() => {
        if (i === 3) {
          clearInterval(tick);
          req.end();
          return;
        }
        req.write(`line ${i++}\n`);
      }, 50);
    });
    assert.deepEqual(result['lines'], ['line 0\n', 'line 1\n', 'line 2\n']);
  });
});

describe('large bodies with flow control', () => {
  const server = serverFixture([app('input.wsgi'), '--threads', '2', '--limit-request-body', '0']);
  before(server.start);
  after(server.stop);

  it('passes a 100 MiB upload intact while the worker holds only a little of it', { timeout: 120_000 }, async () => {
    const size = 100 * 1024 * 1024;
    const block = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < block.length; i++) block[i] = (i * 7 + 3) & 0xff;
    const expected = createHash('sha256');
    for (let i = 0; i < size / block.length; i++) expected.update(block);
    const result = await new Promise<InputResult>((resolve, reject) => {
      const req = http.request(`${server.get().url}/?mode=hash`, { method: 'POST', agent: false, headers: { 'Content-Length': String(size) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString()) as InputResult));
      });
      req.on('error', reject);
      let sent = 0;
      const pump = (): void => {
        while (sent < size) {
          sent += block.length;
          if (!req.write(block)) {
            req.once('drain', pump);
            return;
          }
        }
        req.end();
      };
      pump();
    });
    assert.equal(result['length'], size);
    assert.equal(result['sha256'], expected.digest('hex'));
    // The worker's peak RSS stays far below the body size: the body streamed through.
    assert.ok((result['maxrss_kb'] as number) < 60 * 1024, `worker peak RSS ${result['maxrss_kb'] as number} KiB`);
  });
});
