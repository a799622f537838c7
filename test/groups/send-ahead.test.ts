import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { app, request, serveSite, serverFixture, sleep, startServer, type Response, type RunningServer, type Site } from '../helpers/server';
import { eventually, statusJson } from '../ops/ops-helpers';

/** What /big?n=N of ahead.wsgi answers: 1.5 MiB, two pieces of a thread's shared region. */
function bigBody(n: string): Buffer {
  const seed = Buffer.from(`${n}|`, 'ascii');
  const block = Buffer.alloc(4096);
  for (let at = 0; at < 4096; at += seed.length) seed.copy(block, at);
  return Buffer.concat(Array.from({ length: 384 }, () => block));
}

async function sentAhead(base: string): Promise<number> {
  return (await statusJson(base)).groups[0]!.sentAhead;
}

/** Sequential short requests, so the thread's average run time is short (a thread must show that before it takes requests ahead). */
async function warmUp(base: string): Promise<string> {
  let pid = '';
  for (let i = 0; i < 12; i++) {
    const res = await request(`${base}/echo?n=warm`);
    assert.equal(res.status, 200);
    pid = res.text.split(' ')[1]!;
  }
  return pid;
}

/** Resolves once the group has sent `count` requests ahead in all. */
function sentAheadReaches(base: string, count: number): Promise<number> {
  return eventually(`${count} requests sent ahead`, async () => {
    const sent = await sentAhead(base);
    return sent >= count ? sent : undefined;
  });
}

/**
 * Asks for /seq?n=B1 ... /seq?n=B`count` one at a time, each once the one before has been sent
 * ahead (so each is sent ahead too, not queued in the front end behind it); resolves to the
 * pending responses.
 */
async function seqOneByOneAhead(base: string, count: number): Promise<Promise<Response>[]> {
  const sentBefore = await sentAhead(base);
  const waiting: Promise<Response>[] = [];
  for (let i = 1; i <= count; i++) {
    waiting.push(request(`${base}/seq?n=B${i}`));
    await sentAheadReaches(base, sentBefore + i);
  }
  return waiting;
}

/** The answers "Bi K" of seqOneByOneAhead's requests, checked to be 200s for B1, B2, ... in order; the K of each. */
async function seqAnswers(waiting: Promise<Response>[]): Promise<number[]> {
  const answers = (await Promise.all(waiting)).map((res) => {
    assert.equal(res.status, 200, 'a request sent ahead failed');
    return res.text.split(' ');
  });
  assert.deepEqual(answers.map(([n]) => n), waiting.map((_, i) => `B${i + 1}`), 'each got its own response');
  return answers.map(([, k]) => Number(k));
}

/** A raw client that sends GET /echo?n=gone; the test destroys it to leave before the answer. */
function requestThenLeave(port: number): net.Socket {
  const client = net.connect(port, '127.0.0.1');
  client.on('error', () => {});
  client.write('GET /echo?n=gone HTTP/1.1\r\nHost: localhost\r\n\r\n');
  return client;
}

/** Waits until nothing waits any more: the status page's queue is empty again. */
async function queueEmpties(base: string): Promise<void> {
  await eventually('an empty queue', async () => ((await statusJson(base)).groups[0]!.queueLength === 0 ? true : undefined));
}

/** Runs `use` against a fresh server of one process of one thread for ahead.wsgi, with `extra` flags. */
async function withOneThread<T>(extra: string[], use: (server: RunningServer) => Promise<T>): Promise<T> {
  const server = await startServer([app('ahead.wsgi'), '--processes', '1', '--threads', '1', '--server-status', ...extra]);
  try {
    return await use(server);
  } finally {
    await server.stop();
  }
}

// One process of one thread: every request that comes while another runs waits, in the front
// end's queue or sent ahead to the thread. A send-ahead limit of 1000 ms makes the thread take
// one whenever it is busy, so these tests do not depend on how fast the machine is.
describe('requests sent ahead to a busy thread', () => {
  const server = serverFixture([app('ahead.wsgi'), '--processes', '1', '--threads', '1', '--server-status', '--server-metrics', '--send-ahead', '1000']);
  before(server.start);
  after(server.stop);

  it('each gets its own response, with many waiting', async () => {
    const base = server.get().url;
    await warmUp(base);
    const sentBefore = await sentAhead(base);
    const responses = await Promise.all(Array.from({ length: 120 }, (_, i) => request(`${base}/echo?n=${i}`)));
    responses.forEach((res, i) => {
      assert.equal(res.status, 200);
      assert.equal(res.text.split(' ')[0], String(i), 'a response went to the wrong request');
    });
    assert.ok((await sentAhead(base)) > sentBefore, 'no request was sent ahead');
  });

  it('several wait ahead in one thread at once, and run in the order they came', async () => {
    const base = server.get().url;
    await warmUp(base);
    const running = request(`${base}/sleep?n=A&ms=800`);
    await sleep(100);
    // With room for only one request ahead, the second would wait in the front end's queue
    // until A ends, and never count as sent ahead while A runs.
    const waiting = await seqOneByOneAhead(base, 4);
    const status = await statusJson(base);
    assert.equal(status.groups[0]!.busy, 1, 'A is still running');
    assert.equal(status.groups[0]!.queueLength, 4, 'all four wait ahead in the thread, counted in the queue length');
    assert.equal((await running).status, 200);
    const order = await seqAnswers(waiting);
    assert.deepEqual(order, order.map((_, i) => order[0]! + i), 'they ran in the order they came');
  });

  it('small request bodies go ahead with their heads, each to its own request', async () => {
    const base = server.get().url;
    await warmUp(base);
    const sentBefore = await sentAhead(base);
    // Up to just under 32 KiB: from there a body goes through the shared region, and is never sent ahead.
    const bodies = Array.from({ length: 40 }, (_, i) => Buffer.alloc(i === 39 ? 32 * 1024 - 1 : 100 + i * 700, `body ${i};`));
    const responses = await Promise.all(bodies.map((body, i) => request(`${base}/post?n=${i}`, { method: 'POST', body })));
    responses.forEach((res, i) => {
      assert.equal(res.status, 200);
      assert.equal(res.text, `${i} ${createHash('sha256').update(bodies[i]!).digest('hex')}`);
    });
    assert.ok((await sentAhead(base)) > sentBefore, 'no request was sent ahead');
  });

  it('large responses stay whole when the next request is already in the thread (shared region released piece by piece)', async () => {
    const base = server.get().url;
    await warmUp(base);
    const sentBefore = await sentAhead(base);
    // Each response fills both halves of the region, so the worker must wait for the front end's
    // releases before the next response can be written: a missing release hangs, a release taken
    // too early corrupts a body.
    const responses = await Promise.all(Array.from({ length: 24 }, (_, i) => request(`${base}/big?n=${i}`, { timeoutMs: 10_000 })));
    responses.forEach((res, i) => {
      assert.equal(res.status, 200);
      assert.equal(res.body.length, 1536 * 1024);
      assert.ok(res.body.equals(bigBody(String(i))), `body ${i} is not the one its request asked for`);
    });
    assert.ok((await sentAhead(base)) > sentBefore, 'no request was sent ahead');
  });

  it('a request waiting ahead of a process that dies runs in its replacement', async () => {
    const base = server.get().url;
    const firstPid = await warmUp(base);
    const sentBefore = await sentAhead(base);
    const crashing = request(`${base}/crash?n=A&ms=400`);
    await sleep(100);
    const waiting = request(`${base}/echo?n=B`);
    await sentAheadReaches(base, sentBefore + 1);
    assert.equal((await crashing).status, 502);
    const res = await waiting;
    assert.equal(res.status, 200, 'the request sent ahead failed with the process it was sent to');
    const [n, pid] = res.text.split(' ');
    assert.equal(n, 'B');
    assert.notEqual(pid, firstPid);
  });

  it('several waiting ahead of a process that dies all run in its replacement, in their order', async () => {
    const base = server.get().url;
    const firstPid = await warmUp(base);
    const crashing = request(`${base}/crash?n=A&ms=500`);
    await sleep(100);
    const waiting = await seqOneByOneAhead(base, 3);
    assert.equal((await crashing).status, 502);
    // A fresh process counts its /seq requests from 1: they ran there, oldest first.
    assert.deepEqual(await seqAnswers(waiting), [1, 2, 3]);
    const after = await request(`${base}/echo?n=C`);
    assert.notEqual(after.text.split(' ')[1], firstPid);
  });

  it('one of several waiting ahead whose client leaves costs the others nothing', async () => {
    const base = server.get().url;
    await warmUp(base);
    const sentBefore = await sentAhead(base);
    const running = request(`${base}/sleep?n=A&ms=500`);
    await sleep(100);
    const first = request(`${base}/seq?n=B1`);
    await sentAheadReaches(base, sentBefore + 1);
    const client = requestThenLeave(server.get().port);
    await sentAheadReaches(base, sentBefore + 2);
    const last = request(`${base}/seq?n=B3`);
    await sentAheadReaches(base, sentBefore + 3);
    client.destroy();
    assert.equal((await running).status, 200);
    for (const [res, n] of [[await first, 'B1'], [await last, 'B3']] as const) {
      assert.equal(res.status, 200);
      assert.equal(res.text.split(' ')[0], n);
    }
    await queueEmpties(base);
  });

  it('a request whose client leaves while it waits ahead does not disturb the next', async () => {
    const base = server.get().url;
    const pid = await warmUp(base);
    const sentBefore = await sentAhead(base);
    const running = request(`${base}/sleep?n=A&ms=400`);
    await sleep(100);
    const client = requestThenLeave(server.get().port);
    await sentAheadReaches(base, sentBefore + 1);
    client.destroy();
    const first = await running;
    assert.equal(first.status, 200);
    assert.equal(first.text.split(' ')[0], 'A');
    const next = await request(`${base}/echo?n=C`);
    assert.equal(next.status, 200);
    assert.deepEqual(next.text.split(' ').slice(0, 2), ['C', pid], 'the process was replaced');
    await queueEmpties(base);
  });

  it('the metrics and the status page\'s machine-readable form count them as its JSON does', async () => {
    const base = server.get().url;
    await warmUp(base);
    await Promise.all(Array.from({ length: 20 }, (_, i) => request(`${base}/echo?n=${i}`)));
    const sent = await sentAhead(base);
    assert.ok(sent > 0);
    const metrics = (await request(`${base}/server-metrics`)).text;
    assert.match(metrics, /# TYPE wsgi_host_requests_sent_ahead_total counter/);
    const line = metrics.split('\n').find((l) => l.startsWith('wsgi_host_requests_sent_ahead_total{'));
    assert.ok(line !== undefined, 'no sample of wsgi_host_requests_sent_ahead_total');
    assert.equal(Number(line.split(' ').pop()), sent);
    const auto = (await request(`${base}/server-status?auto`)).text;
    assert.equal(Number(/^ProcessGroup\[[^\]]+\]\.SentAhead: (\d+)$/m.exec(auto)?.[1]), sent, auto);
    const html = (await request(`${base}/server-status`)).text;
    assert.match(html, /sent ahead so far/);
  });

  it('counts a request waiting ahead in the queue length of the status page', async () => {
    const base = server.get().url;
    await warmUp(base);
    const sentBefore = await sentAhead(base);
    const running = request(`${base}/sleep?n=A&ms=600`);
    await sleep(100);
    const waiting = request(`${base}/echo?n=B`);
    await sentAheadReaches(base, sentBefore + 1);
    const snapshot = await statusJson(base);
    assert.equal(snapshot.groups[0]!.queueLength, 1);
    assert.equal(snapshot.groups[0]!.busy, 1);
    assert.equal((await running).status, 200);
    assert.equal((await waiting).status, 200);
  });
});

describe('send-ahead limits', () => {
  async function oneWaits(server: RunningServer, warm: string): Promise<{ queueLength: number; sent: number }> {
    const base = server.url;
    for (let i = 0; i < 12; i++) assert.equal((await request(`${base}${warm}`)).status, 200);
    const running = request(`${base}/sleep?n=A&ms=500`);
    await sleep(150);
    const waiting = request(`${base}/echo?n=B`);
    const snapshot = await eventually('the second request waiting', async () => {
      const status = await statusJson(base);
      return status.groups[0]!.queueLength === 1 ? status : undefined;
    });
    assert.equal((await running).status, 200);
    assert.equal((await waiting).status, 200);
    return { queueLength: snapshot.groups[0]!.queueLength, sent: snapshot.groups[0]!.sentAhead };
  }

  it('a thread whose requests run longer than the limit (2 ms by default) takes none ahead', async () => {
    // 20 ms requests: the thread's average stays above 2 ms, so the second request stays in the queue.
    assert.equal((await withOneThread([], (server) => oneWaits(server, '/sleep?ms=20'))).sent, 0);
  });

  it('nor does a thread whose current request has run longer than the limit', async () => {
    // Short requests first, but the one running when the second comes has run 150 ms.
    assert.equal((await withOneThread(['--send-ahead', '50'], (server) => oneWaits(server, '/echo'))).sent, 0);
  });

  /**
   * Short requests after one long one (or none), then two at once: whether the second went
   * ahead. With --send-ahead 100, a request of more than 20 x 100 ms = 2 s marks the thread as
   * one whose application has long requests.
   */
  function afterLongRun(longMs: number): Promise<number> {
    return withOneThread(['--send-ahead', '100'], async (server) => {
      const base = server.url;
      // The thread's first request is not counted (it usually loads the application).
      assert.equal((await request(`${base}/echo`)).status, 200);
      if (longMs > 0) assert.equal((await request(`${base}/sleep?ms=${longMs}`)).status, 200);
      for (let i = 0; i < 15; i++) assert.equal((await request(`${base}/echo`)).status, 200);
      const both = [request(`${base}/sleep?n=A&ms=300`), request(`${base}/echo?n=B`)];
      for (const res of await Promise.all(both)) assert.equal(res.status, 200);
      return sentAhead(base);
    });
  }

  it('nor does a thread that lately ran a request 20 times longer than the limit', async () => {
    assert.equal(await afterLongRun(2500), 0);
  });

  it('without that long request, the same two requests do go ahead (the check above is not vacuous)', async () => {
    assert.equal(await afterLongRun(0), 1);
  });

  it('--send-ahead 0 turns it off', async () => {
    const sent = await withOneThread(['--send-ahead', '0'], async (server) => {
      const base = server.url;
      await warmUp(base);
      const responses = await Promise.all(Array.from({ length: 40 }, (_, i) => request(`${base}/echo?n=${i}`)));
      for (const res of responses) assert.equal(res.status, 200);
      return sentAhead(base);
    });
    assert.equal(sent, 0);
  });

  it('with a long limit, the same waiting request is sent ahead (the checks above are not vacuous)', async () => {
    assert.equal((await withOneThread(['--send-ahead', '1000'], (server) => oneWaits(server, '/echo'))).sent, 1);
  });
});

describe('a request sent ahead to a process whose script changed', () => {
  let dir = '';
  let server: RunningServer | null = null;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-ahead-'));
    fs.copyFileSync(app('ahead.wsgi'), path.join(dir, 'ahead.wsgi'));
    server = await startServer([path.join(dir, 'ahead.wsgi'), '--processes', '1', '--threads', '1', '--server-status', '--send-ahead', '1000']);
  });
  after(async () => {
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs again in a fresh process with the new code, failing nothing', async () => {
    const base = server!.url;
    const file = path.join(dir, 'ahead.wsgi');
    const firstPid = await warmUp(base);
    const running = request(`${base}/sleep?n=A&ms=400`);
    await sleep(100);
    const waiting = request(`${base}/echo?n=B`);
    await sentAheadReaches(base, 1);
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace("VERSION = 'one'", "VERSION = 'two'"));
    const first = await running;
    assert.equal(first.status, 200);
    assert.deepEqual(first.text.split(' '), ['A', firstPid, 'one']);
    const second = await waiting;
    assert.equal(second.status, 200);
    const [n, pid, version] = second.text.split(' ');
    assert.equal(n, 'B');
    assert.equal(version, 'two');
    assert.notEqual(pid, firstPid);
  });
});

describe('send-ahead in an application group of its own (WSGIApplicationGroup %{RESOURCE}, mod_wsgi\'s default)', () => {
  let site: Site | null = null;
  let base = '';
  before(async () => {
    site = await serveSite(
      [
        'Listen 127.0.0.1:{{PORT}}',
        'ServerName localhost',
        'ErrorLog {{ROOT}}/error_log',
        'WSGIDaemonProcess site processes=1 threads=1 send-ahead=1000',
        'WSGIProcessGroup site',
        'WSGIApplicationGroup %{RESOURCE}',
        'WSGIScriptAlias / {{APPS}}/ahead.wsgi',
        '<Location /server-status>',
        '    SetHandler server-status',
        '</Location>',
        '',
      ].join('\n'),
    );
    base = site.url;
    await eventually('the group to be ready', async () => ((await request(`${base}/echo`)).status === 200 ? true : undefined), 20_000);
  });
  after(async () => {
    await site?.stop();
  });

  it('sends requests ahead there too, each getting its own response', async () => {
    await warmUp(base);
    const sentBefore = await sentAhead(base);
    const responses = await Promise.all(Array.from({ length: 60 }, (_, i) => request(`${base}/echo?n=${i}`)));
    responses.forEach((res, i) => {
      assert.equal(res.status, 200);
      assert.equal(res.text.split(' ')[0], String(i));
    });
    assert.ok((await sentAhead(base)) > sentBefore, 'no request was sent ahead');
  });
});

describe('queue-timeout and requests sent ahead', () => {
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-ahead-queue-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /**
   * A request sent ahead behind one that runs 1.6 s: its status, and whether the application ran
   * it; `logged` says whether the queue timeout was logged.
   */
  function waitBehindLongRequest(queueTimeout: string, name: string): Promise<{ status: number; ran: boolean; logged: boolean }> {
    return withOneThread(['--send-ahead', '1000', '--queue-timeout', queueTimeout], async (server) => {
      const base = server.url;
      await warmUp(base);
      const marker = path.join(dir, name);
      const running = request(`${base}/sleep?n=A&ms=1600`);
      await sleep(100);
      const waiting = request(`${base}/mark?file=${encodeURIComponent(marker)}`);
      await sentAheadReaches(base, 1);
      assert.equal((await running).status, 200);
      const { status } = await waiting;
      const logged = status !== 504 ? false : (await server.waitForLog(/WSGI0084: Queue timeout expired for WSGI daemon process/)) !== '';
      return { status, ran: fs.existsSync(marker), logged };
    });
  }

  it('one that waited ahead longer than queue-timeout gets 504 without running, as from the queue', async () => {
    const { status, ran, logged } = await waitBehindLongRequest('1', 'timed-out');
    assert.equal(status, 504);
    assert.equal(ran, false, 'the application ran a request that had timed out');
    assert.equal(logged, true);
  });

  it('one that waited less than queue-timeout runs', async () => {
    const { status, ran } = await waitBehindLongRequest('10', 'in-time');
    assert.equal(status, 200);
    assert.equal(ran, true);
  });
});
