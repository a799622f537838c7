import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { app, freePort, request, serverFixture, startServe, startServer } from '../helpers/server';
import { eventually, parseAuto, statusJson, text } from './ops-helpers';

/*
 * The status page (start-server --server-status, SetHandler server-status): its JSON and
 * mod_status-format outputs read the supervisor's real state, with real worker processes.
 */

describe('server-status with two processes of three threads', () => {
  const server = serverFixture([app('ops.wsgi'), '--server-status', '--processes', '2', '--threads', '3']);
  before(server.start);
  after(server.stop);

  const workerPids = async (): Promise<Set<number>> => {
    const pids = new Set<number>();
    // Requests spread over the processes (the least busy takes each), so concurrent ones reach both.
    const replies = await Promise.all(Array.from({ length: 6 }, () => request(`${server.get().url}/sleep?seconds=0.3`).then(() => request(`${server.get().url}/pid`))));
    for (const reply of replies) pids.add(Number(reply.text));
    return pids;
  };

  it('?auto answers in mod_status\'s format with its key names and the supervisor\'s counts', async () => {
    const base = server.get().url;
    for (let i = 0; i < 5; i++) assert.equal((await request(`${base}/`)).status, 200);
    const res = await request(`${base}/server-status?auto`);
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    const { name, values } = parseAuto(text(res));
    assert.equal(name, 'localhost');
    for (const key of ['ServerVersion', 'ServerMPM', 'CurrentTime', 'RestartTime', 'ServerUptimeSeconds', 'Total Accesses', 'Total kBytes', 'Total Duration', 'Uptime', 'ReqPerSec', 'BusyWorkers', 'IdleWorkers', 'Processes', 'ConnsTotal', 'QueueLength', 'Scoreboard']) {
      assert.ok(values.has(key), `${key} missing from:\n${text(res)}`);
    }
    assert.match(values.get('ServerVersion')!, /^wsgi-host\/\d/);
    assert.ok(Number(values.get('Total Accesses')) >= 5, `Total Accesses: ${values.get('Total Accesses')}`);
    assert.equal(values.get('Processes'), '2');
    assert.equal(values.get('BusyWorkers'), '0');
    assert.equal(values.get('IdleWorkers'), '6');
    assert.equal(values.get('Scoreboard'), '______');
    assert.equal(values.get('ProcessGroup[127.0.0.1:0].Processes'), '2');
    assert.equal(values.get('ProcessGroup[127.0.0.1:0].Capacity'), '6');
    // Scoreboard is the last line, as in mod_status.
    assert.match(text(res), /\nScoreboard: [_RWGS.]+\n$/);
  });

  it('shows a running request on its thread: URL, request id, client and how long', async () => {
    const base = server.get().url;
    const slow = request(`${base}/sleep?seconds=3&tag=watch`);
    const thread = await eventually('a running /sleep request in ?json', async () => {
      const snapshot = await statusJson(base);
      for (const proc of snapshot.groups[0]!.processes) for (const t of proc.threads) if (t.url?.startsWith('/sleep?seconds=3')) return { proc, t };
      return undefined;
    });
    assert.equal(thread.t.state, 'running');
    assert.equal(thread.t.method, 'GET');
    assert.equal(thread.t.url, '/sleep?seconds=3&tag=watch');
    assert.match(thread.t.client!, /^127\.0\.0\.1:\d+$/);
    assert.match(thread.t.requestId!, /^\S+$/);
    assert.ok(typeof thread.t.seconds === 'number' && thread.t.seconds >= 0);
    assert.ok(thread.t.tid !== null && thread.t.tid > 0);
    const auto = parseAuto(text(await request(`${base}/server-status?auto`))).values;
    assert.equal(auto.get('BusyWorkers'), '1');
    assert.equal(auto.get('IdleWorkers'), '5');
    assert.equal([...auto.get('Scoreboard')!].filter((c) => c === 'W').length, 1);
    const later = await statusJson(base);
    const again = later.groups[0]!.processes.flatMap((p) => p.threads).find((t) => t.requestId === thread.t.requestId);
    assert.ok(again !== undefined && again.seconds! >= thread.t.seconds!, 'the running time grows');
    assert.equal((await slow).status, 200);
  });

  it('lists every process with its pid, age, requests served and resident memory', async () => {
    const base = server.get().url;
    const pids = await workerPids();
    const snapshot = await statusJson(base);
    const group = snapshot.groups[0]!;
    assert.equal(group.name, '127.0.0.1:0');
    assert.equal(group.processes.length, 2);
    assert.deepEqual(new Set(group.processes.map((p) => p.pid)), pids);
    for (const proc of group.processes) {
      assert.equal(proc.state, 'ready');
      assert.ok(proc.requests > 0, `process ${proc.pid} served ${proc.requests}`);
      assert.ok(proc.rssBytes > 1024 * 1024, `rss ${proc.rssBytes}`);
      assert.ok(proc.ageSeconds >= 0);
      assert.equal(proc.threads.length, 3);
      assert.deepEqual(proc.threads.map((t) => t.index), [1, 2, 3]);
    }
    // No process has been replaced yet: what the processes served is what the group answered.
    assert.equal(group.processes.reduce((n, p) => n + p.requests, 0), group.accesses);
    assert.ok(snapshot.totals.accesses >= group.accesses);
    assert.ok(snapshot.server.uptimeSeconds >= 0);
    assert.equal(snapshot.server.pid, server.get().child.pid);
  });

  it('reports the front end\'s young generation and its 8 MiB cap (one doubling past it at most)', async () => {
    const base = server.get().url;
    // Some load first, so the figures are those of a front end that has served requests.
    for (let round = 0; round < 10; round++) await Promise.all(Array.from({ length: 50 }, () => request(`${base}/`)));
    const { server: front } = await statusJson(base);
    assert.equal(front.newSpaceCapBytes, 8 * 1024 * 1024);
    assert.ok(front.newSpaceBytes > 0 && front.newSpaceBytes <= 16 * 1024 * 1024, `new space ${front.newSpaceBytes} bytes`);
  });

  it('counts the request heads built in recycled buffers (each given back when its response is complete)', async () => {
    const base = server.get().url;
    const before = (await statusJson(base)).server.requestHeadsReused;
    for (let round = 0; round < 10; round++) await Promise.all(Array.from({ length: 10 }, () => request(`${base}/`)));
    const after = (await statusJson(base)).server.requestHeadsReused;
    // Only the first round may find no head given back yet.
    assert.ok(after - before >= 90, `${after - before} of 100 heads were built in a recycled buffer`);
  });

  it('counts queued requests when every thread is busy, and their waits', async () => {
    const base = server.get().url;
    const running = Array.from({ length: 8 }, () => request(`${base}/sleep?seconds=2`));
    const queued = await eventually('two queued requests', async () => {
      const snapshot = await statusJson(base);
      return snapshot.groups[0]!.queueLength >= 2 ? snapshot : undefined;
    });
    assert.equal(queued.groups[0]!.busy, 6);
    assert.equal(queued.groups[0]!.idle, 0);
    assert.equal(queued.workers.queued, queued.groups[0]!.queueLength);
    const auto = parseAuto(text(await request(`${base}/server-status?auto`))).values;
    assert.ok(Number(auto.get('QueueLength')) >= 1);
    for (const res of await Promise.all(running)) assert.equal(res.status, 200);
    // Once the second has passed, the waits show in the per-second history.
    const waited = await eventually('a queue wait in the history', async () => {
      const history = (await statusJson(base)).groups[0]!.history!;
      const waits = history.queueMean.filter((v): v is number => v !== null);
      return waits.some((v) => v > 500) ? waits : undefined;
    }, 5000);
    assert.ok(waited.length > 0);
  });

  it('records restarts with their reasons', async () => {
    const base = server.get().url;
    const before = await statusJson(base);
    const victim = before.groups[0]!.processes[0]!.pid;
    process.kill(victim, 'SIGKILL');
    const after = await eventually('the restart in ?json', async () => {
      const snapshot = await statusJson(base);
      return snapshot.groups[0]!.restarts.some((r) => r.pid === victim) ? snapshot : undefined;
    });
    const restart = after.groups[0]!.restarts.find((r) => r.pid === victim)!;
    assert.equal(restart.reason, 'terminated by signal 9 (SIGKILL)');
    assert.ok(!Number.isNaN(Date.parse(restart.at)));
    assert.ok(after.groups[0]!.restartCount >= 1);
    const auto = parseAuto(text(await request(`${base}/server-status?auto`))).values;
    assert.ok(Number(auto.get('ProcessGroup[127.0.0.1:0].Restarts')) >= 1);
  });

  it('the HTML page carries its own script, style and data: nothing from elsewhere', async () => {
    const res = await request(`${server.get().url}/server-status`);
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/html; charset=utf-8/);
    assert.equal(res.headers['cache-control'], 'no-store');
    const html = text(res);
    assert.match(html, /<script id="initial-status" type="application\/json">\{/);
    // The one URL in it is SVG's namespace name, which is never fetched.
    assert.doesNotMatch(html.replace("'http://www.w3.org/2000/svg'", ''), /<script[^>]+src=|<link[^>]+href="(?!data:)|<img|url\(|https?:\/\//, 'no external assets');
    assert.match(html, /fetch\(base \+ '\?json'/);
    const initial = JSON.parse(/<script id="initial-status" type="application\/json">(.*?)<\/script>/s.exec(html)![1]!);
    assert.equal(initial.groups[0].processes.length, 2);
  });

  it('answers HEAD without a body and refuses other methods with 405', async () => {
    const base = server.get().url;
    const head = await request(`${base}/server-status?auto`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    const post = await request(`${base}/server-status`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers['allow'], 'GET, HEAD');
  });
});

describe('server-status is off unless configured', () => {
  it('without --server-status, /server-status is the application\'s URL', async () => {
    const server = await startServer([app('ops.wsgi')]);
    try {
      const res = await request(`${server.url}/server-status?auto`);
      assert.equal(res.status, 200);
      assert.match(res.text, /^ops app /);
    } finally {
      await server.stop();
    }
  });
});

describe('SetHandler server-status in a configuration file', () => {
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-host-status-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('wins over WSGIScriptAlias / and obeys the access rules of its <Location>', async () => {
    const port = await freePort();
    const conf = path.join(dir, 'httpd.conf');
    fs.writeFileSync(
      conf,
      [
        `Listen 127.0.0.1:${port}`,
        'ServerName status.test',
        `ErrorLog ${path.join(dir, 'error_log')}`,
        'WSGIDaemonProcess site processes=1 threads=2',
        'WSGIProcessGroup site',
        `WSGIScriptAlias / ${app('ops.wsgi')}`,
        '<Location /server-status>',
        '    SetHandler server-status',
        '</Location>',
        '<Location /private-status>',
        '    SetHandler server-status',
        '    Require all denied',
        '</Location>',
        '',
      ].join('\n'),
    );
    const server = await startServe(conf);
    try {
      const base = `http://127.0.0.1:${port}`;
      await eventually('the group to be ready', async () => ((await request(`${base}/`)).status === 200 ? true : undefined), 20_000);
      const open = await request(`${base}/server-status?auto`);
      assert.equal(open.status, 200);
      const { name, values } = parseAuto(text(open));
      assert.equal(name, 'status.test');
      assert.equal(values.get('ProcessGroup[site].Processes'), '1');
      assert.equal((await request(`${base}/private-status?auto`)).status, 403);
      assert.equal((await request(`${base}/other`)).text, 'ops app site');
    } finally {
      await server.stop();
    }
  });

  it('is switched on by a reload (SIGHUP), and its counts and generation carry across reloads', async () => {
    const port = await freePort();
    const conf = path.join(dir, 'reload.conf');
    const base = [`Listen 127.0.0.1:${port}`, 'ServerName reload.test', `ErrorLog ${path.join(dir, 'reload_error_log')}`, 'WSGIDaemonProcess site processes=1 threads=2', 'WSGIProcessGroup site', `WSGIScriptAlias / ${app('ops.wsgi')}`];
    const status = ['<Location /server-status>', '    SetHandler server-status', '</Location>'];
    fs.writeFileSync(conf, [...base, ''].join('\n'));
    const server = await startServe(conf);
    try {
      const url = `http://127.0.0.1:${port}`;
      await eventually('the group to be ready', async () => ((await request(`${url}/`)).status === 200 ? true : undefined), 20_000);
      assert.match((await request(`${url}/server-status?auto`)).text, /^ops app site/, 'no status page yet: the application answers');
      fs.writeFileSync(conf, [...base, ...status, ''].join('\n'));
      server.child.kill('SIGHUP');
      const first = await eventually('the status page after the reload', async () => {
        const res = await request(`${url}/server-status?auto`);
        return res.status === 200 && res.text.startsWith('reload.test\n') ? parseAuto(text(res)).values : undefined;
      }, 30_000);
      assert.equal(first.get('ParentServerConfigGeneration'), '2');
      for (let i = 0; i < 3; i++) await request(`${url}/id`);
      const before = parseAuto(text(await request(`${url}/server-status?auto`))).values;
      assert.ok(Number(before.get('ProcessGroup[site].Accesses')) >= 3);
      // Another reload: the group is restarted, its statistics are kept.
      server.child.kill('SIGHUP');
      const after = await eventually('the third generation', async () => {
        const values = parseAuto(text(await request(`${url}/server-status?auto`))).values;
        return values.get('ParentServerConfigGeneration') === '3' ? values : undefined;
      }, 30_000);
      assert.ok(Number(after.get('ProcessGroup[site].Accesses')) >= Number(before.get('ProcessGroup[site].Accesses')));
      assert.ok(Number(after.get('Total Accesses')) > Number(before.get('Total Accesses')));
    } finally {
      await server.stop();
    }
  });
});
