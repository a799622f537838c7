import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { app, rawExchange, request, serverFixture, sleep, startServer } from '../helpers/server';

describe('a process that dies mid-request', () => {
  const server = serverFixture([app('lifecycle.wsgi'), '--processes', '2', '--threads', '2']);
  before(server.start);
  after(server.stop);

  for (const [how, route, described] of [
    ['kill -9', '/kill?signal=SIGKILL', 'terminated by signal 9 (SIGKILL)'],
    ['a segfault', '/kill?signal=SIGSEGV', 'terminated by signal 11 (SIGSEGV)'],
    ['os._exit', '/exit?code=3', 'exited with status 3'],
  ] as const) {
    it(`costs only its own request after ${how}: 502, a log line naming the cause, a replacement process`, async () => {
      const base = server.get().url;
      const before = new Set<string>();
      for (let i = 0; i < 6; i++) before.add((await request(`${base}/pid`)).text);
      // Requests running beside the crash, in the same and the other process, still succeed.
      const neighbours = Array.from({ length: 3 }, (_, i) => request(`${base}/sleep?seconds=0.4&tag=n${i}`));
      await sleep(50);
      const crashed = await request(`${base}${route}`);
      assert.equal(crashed.status, 502);
      const line = await server.get().waitForLog(new RegExp(`WSGI0146: Daemon process '[^']+' closed connection before sending complete response headers \\(process \\d+ ${described.replace(/[()]/g, '\\$&')}\\)`));
      assert.match(line, /\[wsgi:error\]/);
      await server.get().waitForLog(new RegExp(`Daemon process '[^']+' \\(pid=\\d+\\) ${described.replace(/[()]/g, '\\$&')}; restarting it\\.`));
      for (const [i, res] of (await Promise.all(neighbours)).entries()) {
        // A neighbour in the crashed process shares its fate; the others must be fine.
        if (res.status !== 200) assert.equal(res.status, 502, `neighbour ${i}`);
      }
      // The group is back to full strength with a new process.
      const after = new Set<string>();
      const deadline = Date.now() + 10_000;
      while (after.size < 2 && Date.now() < deadline) after.add((await request(`${base}/pid`)).text);
      assert.equal(after.size, 2);
      assert.ok([...after].some((pid) => !before.has(pid)), 'a new pid serves');
    });
  }

  it('truncates a response whose process dies after sending the head', async () => {
    const raw = (await rawExchange(server.get().port, 'GET /kill-after-headers HTTP/1.1\r\nHost: x\r\n\r\n', 3000)).toString('latin1');
    assert.match(raw, /^HTTP\/1\.1 200 OK[\s\S]*partial /);
    assert.ok(!raw.endsWith('0\r\n\r\n'), 'no terminating chunk');
    await server.get().waitForLog(/WSGI0119: Unable to proxy response from daemon to client/);
  });
});

describe('queued requests when a process dies', () => {
  const server = serverFixture([app('lifecycle.wsgi'), '--processes', '1', '--threads', '1']);
  before(server.start);
  after(server.stop);

  it('serves the requests queued behind the crashed one with the replacement process', async () => {
    const base = server.get().url;
    const crash = request(`${base}/sleep?seconds=0.3`).then(() => request(`${base}/kill`));
    await sleep(50);
    const queued = [request(`${base}/order?tag=a&seconds=0`), request(`${base}/order?tag=b&seconds=0`)];
    assert.equal((await crash).status, 502);
    const results = await Promise.all(queued);
    assert.deepEqual(results.map((r) => [r.status, r.text]), [[200, 'a'], [200, 'b']]);
  });
});

describe('dispatching', () => {
  it('spreads requests across processes before doubling up in one', async () => {
    const server = await startServer([app('lifecycle.wsgi'), '--processes', '2', '--threads', '2']);
    try {
      const ready = new Set<string>();
      const deadline = Date.now() + 10_000;
      while (ready.size < 2 && Date.now() < deadline) ready.add((await request(`${server.url}/pid`)).text);
      // Idle processes take turns...
      const sequential = new Set<string>();
      for (let i = 0; i < 4; i++) sequential.add((await request(`${server.url}/pid`)).text);
      assert.equal(sequential.size, 2);
      // ...and while one process is busy, the other gets the next request.
      const busy = request(`${server.url}/sleep?seconds=0.5`);
      await sleep(100);
      const started = Date.now();
      const other = await request(`${server.url}/sleep?seconds=0.2`);
      assert.equal(other.status, 200);
      assert.ok(Date.now() - started < 400, 'did not wait for the busy process');
      assert.equal((await busy).status, 200);
    } finally {
      await server.stop();
    }
  });

  it('queues in arrival order while every thread is busy', async () => {
    const server = await startServer([app('lifecycle.wsgi'), '--processes', '1', '--threads', '1']);
    try {
      const order: string[] = [];
      const blocker = request(`${server.url}/sleep?seconds=0.4`);
      await sleep(100);
      const waiting: Promise<void>[] = [];
      for (const tag of ['1', '2', '3', '4', '5']) {
        waiting.push(request(`${server.url}/order?tag=${tag}&seconds=0.01`).then((r) => void order.push(r.text)));
        await sleep(20);
      }
      await blocker;
      await Promise.all(waiting);
      assert.deepEqual(order, ['1', '2', '3', '4', '5']);
    } finally {
      await server.stop();
    }
  });

  it('answers 504 when a request waits longer than queue-timeout, and logs WSGI0084', async () => {
    const server = await startServer([app('lifecycle.wsgi'), '--processes', '1', '--threads', '1', '--queue-timeout', '0.3']);
    try {
      const blocker = request(`${server.url}/sleep?seconds=2`);
      await sleep(100);
      const started = Date.now();
      const queued = await request(`${server.url}/order?tag=late`);
      assert.equal(queued.status, 504);
      assert.ok(Date.now() - started < 1500, 'answered when the queue timeout expired, not when a thread came free');
      await server.waitForLog(/WSGI0084: Queue timeout expired for WSGI daemon process/);
      assert.equal((await blocker).status, 200);
      assert.equal((await request(`${server.url}/order?tag=after`)).text, 'after');
    } finally {
      await server.stop();
    }
  });

  it('drops a queued request whose client reset its connection, without running it', async () => {
    const server = await startServer([app('lifecycle.wsgi'), '--processes', '1', '--threads', '1', '--access-log']);
    try {
      // Long enough that the abandoned request is still queued when its client resets, however
      // slow a loaded machine makes the steps below.
      const blocker = request(`${server.url}/sleep?seconds=3`);
      await sleep(100);
      const socket = net.connect(server.port, '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write('GET /order?tag=abandoned HTTP/1.1\r\nHost: x\r\n\r\n');
      await sleep(100);
      // A reset, not a FIN: a FIN alone may be a client that half-closes and still reads, as
      // `printf ... | nc` does, and such a client gets its answers (as from Apache).
      socket.resetAndDestroy();
      const next = request(`${server.url}/order?tag=next`);
      await blocker;
      assert.equal((await next).text, 'next');
      await sleep(200);
      assert.doesNotMatch(server.stdout, /GET \/order\?tag=abandoned HTTP\/1\.1" 200/, 'the abandoned request never ran');
      assert.match(server.stdout, /GET \/order\?tag=abandoned HTTP\/1\.1" 499/, 'logged as abandoned by the client');
    } finally {
      await server.stop();
    }
  });
});

describe('a process that keeps dying at start-up', () => {
  it('is restarted with a growing delay and a log line saying why', async () => {
    const server = await startServer([app('lifecycle.wsgi'), '--python-path', app('crashing-site')], { dontWaitForWorkers: true });
    try {
      await server.waitForLog(/Daemon process '[^']+' \(pid=\d+\) exited with status 7 before it was ready \(1 failed start in a row\); restarting it in 0\.5 seconds\. Its last output was: deliberate start-up crash/);
      await server.waitForLog(/exited with status 7 before it was ready \(2 failed starts in a row\); restarting it in 1\.0 seconds/);
      await server.waitForLog(/exited with status 7 before it was ready \(3 failed starts in a row\); restarting it in 2\.0 seconds/, 8000);
    } finally {
      await server.stop();
    }
  });
});
