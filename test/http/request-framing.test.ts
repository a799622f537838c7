/**
 * Request framing the gunicorn corpus does not cover: how a request's framing decides whether
 * the connection may carry another request.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { app, rawExchange, request, serverFixture, sleep } from '../helpers/server';

function residentKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

describe('request framing and the connection', () => {
  const server = serverFixture([app('echo_request.wsgi'), '--chunked-request']);
  before(server.start);
  after(server.stop);

  it('closes the connection after an HTTP/1.0 request with Transfer-Encoding, even one asking for keep-alive (RFC 9112 section 6.1)', async () => {
    const raw = (
      await rawExchange(
        server.get().port,
        'POST /first HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        3000,
      )
    ).toString('latin1');
    assert.equal(raw.match(/HTTP\/1\.[01] \d{3} /g)?.length, 1, `one answer, then the connection closed: ${JSON.stringify(raw)}`);
    assert.match(raw, /^HTTP\/1\.[01] 200 /);
    assert.match(raw, /\r\nConnection: close\r\n/i);
    assert.doesNotMatch(raw, /\/second/);
  });

  it('closes the connection after answering a request with an Upgrade it ignores, so a request pipelined behind it is sent again, not lost', async () => {
    const raw = (
      await rawExchange(
        server.get().port,
        'GET /first HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        3000,
      )
    ).toString('latin1');
    assert.match(raw, /^HTTP\/1\.1 200 /, 'the request is answered as a plain request');
    assert.match(raw, /\r\nConnection: close\r\n/i);
    // Either the second was answered too, or the connection closed at once after the first: never left hanging.
    const answers = raw.match(/HTTP\/1\.1 \d{3} /g)?.length ?? 0;
    assert.ok(answers >= 1 && answers <= 2, JSON.stringify(raw));
  });

  it('a client that pipelines requests without reading the answers stalls only its own connection', async () => {
    const pid = server.get().child.pid!;
    const before = residentKb(pid);
    const flood = net.connect(server.get().port, '127.0.0.1');
    flood.on('error', () => {});
    await new Promise<void>((resolve) => flood.once('connect', () => resolve()));
    // 100,000 requests (3 MB) in one go: read whole, they would take about 2.7 KB each.
    flood.write(Buffer.from('GET /flood HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(100_000), 'latin1'));
    await sleep(1500);
    const grownMb = (residentKb(pid) - before) / 1024;
    // Others are served meanwhile, and at once after the client leaves.
    let started = Date.now();
    assert.equal((await request(`${server.get().url}/other`)).status, 200);
    const whileFlooding = Date.now() - started;
    flood.destroy();
    await sleep(100);
    started = Date.now();
    assert.equal((await request(`${server.get().url}/after`)).status, 200);
    const afterLeaving = Date.now() - started;
    assert.ok(grownMb < 100, `the front end grew ${grownMb.toFixed(0)} MB: it read requests nobody waited for`);
    assert.ok(whileFlooding < 2000, `another client waited ${whileFlooding} ms`);
    assert.ok(afterLeaving < 2000, `a client after the flood waited ${afterLeaving} ms`);
  });

  it('keeps an HTTP/1.0 keep-alive connection with a Content-Length body open for the next request', async () => {
    const raw = (
      await rawExchange(
        server.get().port,
        'POST /first HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhelloGET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        3000,
      )
    ).toString('latin1');
    assert.equal(raw.match(/HTTP\/1\.[01] 200 /g)?.length, 2, JSON.stringify(raw));
  });
});
