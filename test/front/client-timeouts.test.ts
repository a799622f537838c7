import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { app, request, serverFixture, sleep } from '../helpers/server';

/** Connects, sends `parts` with `gapMs` between them, and collects what comes back until the server closes (at most `limitMs`). */
function slowClient(port: number, parts: string[], gapMs: number, limitMs = 15_000): Promise<{ reply: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(limit);
      socket.destroy();
      resolve({ reply: Buffer.concat(chunks).toString('latin1'), closed });
    };
    const limit = setTimeout(() => finish(false), limitMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.on('connect', async () => {
      for (const part of parts) {
        if (done || socket.destroyed) return;
        socket.write(part);
        await sleep(gapMs);
      }
    });
  });
}

describe('RequestReadTimeout: header stage (start-server --header-timeout --header-max-timeout --header-min-rate)', () => {
  const server = serverFixture([app('hardening.wsgi'), '--header-timeout', '1', '--header-max-timeout', '4', '--header-min-rate', '20']);
  before(server.start);
  after(server.stop);

  it('a head that stops arriving gets 408 and the connection closes', async () => {
    const { reply, closed } = await slowClient(server.get().port, ['GET /stalled HTTP/1.1\r\nHost: x\r\n'], 100);
    assert.ok(closed, 'the server closed the connection');
    assert.match(reply, /^HTTP\/1\.1 408 Request Timeout\r\n/);
    await server.get().waitForLog('AH01382: Request header read timeout');
    assert.ok(!server.get().stderr.includes("uri='/stalled'"));
  });

  it('a connection that sends nothing is closed without an answer', async () => {
    const { reply, closed } = await slowClient(server.get().port, [], 0);
    assert.ok(closed);
    assert.equal(reply, '');
  });

  it('a head arriving steadily at MinRate earns time beyond the initial timeout', async () => {
    // 2.4 s of 40-byte pieces: 1 s alone would run out; each piece earns 2 s, up to 4 s in all.
    const pad = 'X-Pad: ' + 'p'.repeat(31) + '\r\n';
    const parts = ['GET /steady HTTP/1.1\r\nHost: x\r\n', ...Array.from({ length: 6 }, () => pad), 'Connection: close\r\n\r\n'];
    const { reply } = await slowClient(server.get().port, parts, 400);
    assert.match(reply, /^HTTP\/1\.1 200 OK\r\n/);
  });

  it('however fast it arrives, a head gets no more than the maximum', async () => {
    const pad = 'X-Pad: ' + 'p'.repeat(31) + '\r\n';
    const parts = ['GET /endless HTTP/1.1\r\nHost: x\r\n', ...Array.from({ length: 60 }, () => pad)];
    const { reply, closed } = await slowClient(server.get().port, parts, 200);
    assert.ok(closed);
    assert.match(reply, /^HTTP\/1\.1 408 /);
  });

  it('a keep-alive connection waiting for its next request is not cut by the header timeout', async () => {
    const { reply } = await slowClient(server.get().port, ['GET /one HTTP/1.1\r\nHost: x\r\n\r\n', 'GET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'], 1500);
    assert.equal(reply.match(/HTTP\/1\.1 200 OK/g)?.length, 2, reply);
  });
});

describe('RequestReadTimeout: body stage', () => {
  const server = serverFixture([app('hardening.wsgi'), '--body-timeout', '1', '--body-min-rate', '0', '--header-timeout', '0']);
  before(server.start);
  after(server.stop);

  it('a body that stops arriving gets 408, and the application is never called', async () => {
    const { reply, closed } = await slowClient(server.get().port, ['POST /slow-body HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789'], 100);
    assert.ok(closed);
    assert.match(reply, /^HTTP\/1\.1 408 /);
    await server.get().waitForLog('AH01382: Request body read timeout');
    const probe = await request(server.get().url + '/probe');
    assert.equal(probe.status, 200);
    await server.get().waitForLog("uri='/probe'");
    assert.ok(!server.get().stderr.includes("uri='/slow-body'"));
  });

  it('an application that takes its time to read the body is not a slow client', async () => {
    const body = 'b'.repeat(200_000);
    const res = await request(server.get().url + '/?sleep=2', { method: 'POST', body });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.text).body_length, body.length);
  });

  it('with --header-timeout 0 the header stage is off', async () => {
    const { reply, closed } = await slowClient(server.get().port, ['GET / HTTP/1.1\r\n'], 100, 2500);
    assert.equal(closed, false, `the connection was closed: ${reply}`);
  });
});

describe('MaxRequestWorkers: a cap on open connections (start-server --max-clients)', () => {
  const server = serverFixture([app('hardening.wsgi'), '--max-clients', '3', '--keep-alive-timeout', '30']);
  before(server.start);
  after(server.stop);

  it('connections beyond the cap are closed at once; the server goes on serving', async () => {
    const held: net.Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const socket = net.connect(server.get().port, '127.0.0.1');
        held.push(socket);
        // A full answer proves the server holds the connection.
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          socket.once('data', () => resolve());
          socket.write('GET /held HTTP/1.1\r\nHost: x\r\n\r\n');
        });
      }
      const extra = await slowClient(server.get().port, ['GET /extra HTTP/1.1\r\nHost: x\r\n\r\n'], 0, 5000);
      assert.ok(extra.closed, 'the connection over the cap was closed');
      assert.equal(extra.reply, '');
      await server.get().waitForLog('AH00484: server reached MaxRequestWorkers setting (3 open connections)');
    } finally {
      for (const socket of held) socket.destroy();
    }
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
      status = await request(server.get().url + '/after').then((r) => r.status, () => 0);
      if (status !== 200) await sleep(100);
    }
    assert.equal(status, 200);
  });
});

describe('KeepAliveTimeout (start-server --keep-alive-timeout)', () => {
  const server = serverFixture([app('hardening.wsgi'), '--keep-alive-timeout', '1']);
  before(server.start);
  after(server.stop);

  it('an idle keep-alive connection is closed once the timeout passes, and says so', async () => {
    const { reply, closed } = await slowClient(server.get().port, ['GET /once HTTP/1.1\r\nHost: x\r\n\r\n'], 0, 10_000);
    assert.ok(closed, 'the server closed the idle connection');
    assert.match(reply, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(reply, /\r\nKeep-Alive: timeout=1\r\n/);
  });
});
