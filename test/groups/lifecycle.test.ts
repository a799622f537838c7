import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { app, request, sleep, startServer, type RunningServer } from '../helpers/server';

async function pid(server: RunningServer, route = '/pid'): Promise<string> {
  const res = await request(`${server.url}${route}`);
  assert.equal(res.status, 200, res.text);
  return res.text;
}

/** Polls until `pid` answers something other than `old` (a replacement serves). */
async function nextPid(server: RunningServer, old: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await pid(server);
    if (now !== old) return now;
    if (Date.now() > deadline) throw new Error(`process ${old} was not replaced within ${timeoutMs} ms\n${server.stderr}`);
    await sleep(100);
  }
}

function tempCopy(source: string): { dir: string; file: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-reload-'));
  const file = path.join(dir, path.basename(source));
  fs.copyFileSync(source, file);
  return { dir, file };
}

describe('recycling', () => {
  it('replaces a process after maximum-requests, never before, without failing a request', async () => {
    const server = await startServer([app('lifecycle.wsgi'), '--processes', '1', '--threads', '1', '--maximum-requests', '4']);
    try {
      const served = new Map<string, number>();
      // Until three processes have served (each replacement starts a Python: slow on a loaded machine).
      const deadline = Date.now() + 60_000;
      while (served.size < 3 && Date.now() < deadline) {
        const p = await pid(server);
        served.set(p, (served.get(p) ?? 0) + 1);
        await sleep(50);
      }
      assert.ok(served.size >= 3, `expected several processes, got ${[...served.entries()].join(' ')}`);
      const counts = [...served.values()];
      // Every process but the current one served at least its maximum (a replacement takes
      // over only once it is ready, so an old process may serve a few more).
      assert.ok(counts.slice(0, -1).every((n) => n >= 4), `requests per process: ${counts.join(', ')}`);
      await server.waitForLog(/Daemon process '[^']+' \(pid=\d+\) is being restarted \(reason: maximum_requests\)/);
    } finally {
      await server.stop();
    }
  });

  it('spreads recycling with maximum-requests-jitter: no process stops before its maximum', async () => {
    const server = await startServer([app('lifecycle.wsgi'), '--processes', '1', '--threads', '1', '--maximum-requests', '3', '--maximum-requests-jitter', '4']);
    try {
      const served = new Map<string, number>();
      const deadline = Date.now() + 60_000;
      while (served.size < 3 && Date.now() < deadline) {
        const p = await pid(server);
        served.set(p, (served.get(p) ?? 0) + 1);
        await sleep(50);
      }
      const counts = [...served.values()].slice(0, -1);
      assert.ok(counts.length >= 2, `expected several processes, got ${[...served.entries()].join(' ')}`);
      assert.ok(counts.every((n) => n >= 3), `requests per process: ${counts.join(', ')}`);
    } finally {
      await server.stop();
    }
  });

  it('replaces a process after restart-interval', async () => {
    const server = await startServer([app('lifecycle.wsgi'), '--processes', '1', '--restart-interval', '1']);
    try {
      const first = await pid(server);
      await nextPid(server, first, 6000);
      await server.waitForLog(/reason: restart_interval/);
    } finally {
      await server.stop();
    }
  });

  it('replaces a process idle for inactivity-timeout after serving, but not a fresh one', async () => {
    const server = await startServer([app('lifecycle.wsgi'), '--processes', '1', '--inactivity-timeout', '1']);
    try {
      const first = await pid(server);
      await server.waitForLog(/reason: inactivity_timeout/, 6000);
      const lines = () => server.stderr.split('\n').filter((l) => l.includes('reason: inactivity_timeout')).length;
      await server.waitForLog(/is ready with/);
      const before = lines();
      await sleep(2500);
      assert.equal(lines(), before, 'the fresh process, which has served nothing, stays');
      assert.notEqual(await pid(server), first);
    } finally {
      await server.stop();
    }
  });

  it('replaces a process whose resident memory passes maximum-rss', async () => {
    const server = await startServer([app('lifecycle.wsgi'), '--processes', '1', '--maximum-rss', '80M']);
    try {
      const first = await pid(server);
      assert.equal((await request(`${server.url}/allocate?mb=120`)).status, 200);
      await server.waitForLog(/uses \d+ MiB of resident memory, more than maximum-rss \(80 MiB\)/, 8000);
      await server.waitForLog(/reason: maximum_rss/);
      await nextPid(server, first);
    } finally {
      await server.stop();
    }
  });

  it('limits a process\'s memory with memory-limit: the application gets MemoryError', async () => {
    const server = await startServer([app('lifecycle.wsgi'), '--processes', '1', '--memory-limit', '200M']);
    try {
      assert.equal((await request(`${server.url}/allocate?mb=400`)).status, 500);
      await server.waitForLog('MemoryError');
    } finally {
      await server.stop();
    }
  });
});

describe('timeouts', () => {
  it('answers 504 for a request past request-timeout, logs every thread\'s stack and replaces the process', async () => {
    const server = await startServer([app('lifecycle.wsgi'), '--processes', '1', '--threads', '2', '--request-timeout', '1']);
    try {
      const first = await pid(server);
      const started = Date.now();
      const res = await request(`${server.url}/sleep?seconds=6`);
      assert.equal(res.status, 504);
      assert.ok(Date.now() - started < 4000, 'answered at the timeout, not when the request ended');
      await server.waitForLog(/Request ran longer than request-timeout in daemon process '[^']+' \(pid=\d+\); answering 504 and restarting the process/);
      await server.waitForLog(/Stack traces of the threads of daemon process \d+/);
      await server.waitForLog(/lifecycle\.wsgi", line \d+, in application/);
      await server.waitForLog(/time\.sleep\(float\(query\.get\('seconds', '1'\)\)\)/);
      await server.waitForLog(/reason: request_timeout/);
      await nextPid(server, first);
    } finally {
      await server.stop();
    }
  });

  it('with interrupt-timeout, first raises RequestTimeout in the request: 504 and the process survives', async () => {
    const markers = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-interrupt-'));
    const server = await startServer([app('lifecycle.wsgi'), '--processes', '1', '--request-timeout', '1', '--interrupt-timeout', '3'], { env: { WSGI_TEST_MARKERS: markers } });
    try {
      const first = await pid(server);
      const res = await request(`${server.url}/busy?seconds=10`);
      assert.equal(res.status, 504);
      await server.waitForLog('Request interrupted by RequestTimeout; thread recovered.');
      assert.equal(fs.readFileSync(path.join(markers, 'interrupted'), 'utf8'), 'RequestTimeout');
      assert.equal(await pid(server), first, 'the same process serves on');
      assert.doesNotMatch(server.stderr, /reason: request_timeout/);
    } finally {
      await server.stop();
      fs.rmSync(markers, { recursive: true, force: true });
    }
  });

  it('kills a process whose interpreter stops running Python for deadlock-timeout', async () => {
    const server = await startServer([app('lifecycle.wsgi'), '--processes', '1', '--threads', '2', '--deadlock-timeout', '2']);
    try {
      const first = await pid(server);
      const res = await request(`${server.url}/hold-gil?seconds=30`);
      assert.equal(res.status, 502);
      await server.waitForLog(/has not run Python code for \d+ seconds \(deadlock-timeout 2\); killing it/);
      await nextPid(server, first);
    } finally {
      await server.stop();
    }
  });

  it('restarts a process whose script keeps failing to load past startup-timeout', async () => {
    const server = await startServer([app('broken_import.wsgi'), '--processes', '1', '--startup-timeout', '1'], { env: { WSGI_TEST_IMPORT_OK: '/nonexistent' } });
    try {
      const first = Number((await request(`${server.url}/`)).status);
      assert.equal(first, 500);
      await sleep(1200);
      assert.equal((await request(`${server.url}/`)).status, 500);
      await server.waitForLog(/failed to load within startup-timeout \(1 seconds\); restarting the daemon process/);
      await server.waitForLog(/reason: startup_timeout/);
    } finally {
      await server.stop();
    }
  });
});

describe('deadlines of finished requests', () => {
  for (const requestTimeout of ['0', '60']) {
    it(`are no longer watched once the requests are done (request-timeout ${requestTimeout})`, async () => {
      const server = await startServer([app('lifecycle.wsgi'), '--processes', '1', '--threads', '2', '--request-timeout', requestTimeout, '--server-status']);
      try {
        for (let i = 0; i < 40; i++) assert.equal((await request(`${server.url}/pid`)).status, 200);
        const status = JSON.parse((await request(`${server.url}/server-status?json`)).text) as { groups: { deadlinesWatched: number }[] };
        // The status request itself is not a WSGI request: nothing may be left watched.
        assert.equal(status.groups[0]!.deadlinesWatched, 0);
      } finally {
        await server.stop();
      }
    });
  }
});

describe('a load that never returns', () => {
  it('restarts a process whose script is still loading when startup-timeout ends, and serves once the load can finish', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-hang-'));
    const ok = path.join(dir, 'ok');
    const server = await startServer([app('hanging_import.wsgi'), '--processes', '1', '--threads', '2', '--startup-timeout', '1', '--request-timeout', '0', '--shutdown-timeout', '1'], {
      env: { WSGI_TEST_IMPORT_OK: ok },
    });
    try {
      const first = await request(`${server.url}/`);
      assert.ok(first.status >= 500, `the request waiting on the load failed (${first.status})`);
      await server.waitForLog(/failed to load within startup-timeout \(1 seconds\); restarting the daemon process/);
      await server.waitForLog(/reason: startup_timeout/);
      fs.writeFileSync(ok, '');
      const deadline = Date.now() + 15_000;
      let res = await request(`${server.url}/`);
      while (res.status !== 200 && Date.now() < deadline) res = await request(`${server.url}/`);
      assert.equal(res.text, 'imported now');
    } finally {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('loading and reloading', () => {
  it('preloads the application before a process takes requests, with --preload', async () => {
    const markers = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-preload-'));
    const server = await startServer([app('lazy.wsgi'), '--processes', '2', '--preload'], { env: { WSGI_TEST_MARKERS: markers } });
    try {
      // Ready means preloaded: both processes imported it before any request.
      assert.equal(fs.readdirSync(markers).length, 2);
      await server.waitForLog(/Preloaded WSGI script '.*lazy\.wsgi' in \d+\.\d+ seconds/);
      await request(`${server.url}/`);
      assert.equal(fs.readdirSync(markers).length, 2, 'requests did not import it again');
    } finally {
      await server.stop();
      fs.rmSync(markers, { recursive: true, force: true });
    }
  });

  it('serves the new code on the next request after the script changes, from a fresh process, failing nothing', async () => {
    const { dir, file } = tempCopy(app('versioned.wsgi'));
    const server = await startServer([file, '--processes', '1']);
    try {
      const [version, firstPid] = (await request(`${server.url}/`)).text.split(' ');
      assert.equal(version, 'one');
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace("VERSION = 'one'", "VERSION = 'two'"));
      const after = await request(`${server.url}/`);
      assert.equal(after.status, 200);
      assert.equal(after.text.split(' ')[0], 'two');
      assert.notEqual(after.text.split(' ')[1], firstPid);
      await server.waitForLog(/Forcing restart of daemon process '[^']+' due to modification of script '.*versioned\.wsgi'/);
      await server.waitForLog(/reason: script_reload/);
      // Touching alone is a change too, as in mod_wsgi.
      const before = (await request(`${server.url}/`)).text.split(' ')[1];
      const future = new Date(Date.now() + 5000);
      fs.utimesSync(file, future, future);
      const touched = await request(`${server.url}/`);
      assert.equal(touched.status, 200);
      assert.notEqual(touched.text.split(' ')[1], before);
    } finally {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs a request with a body again in the fresh process with its whole body', async () => {
    const { dir, file } = tempCopy(app('versioned.wsgi'));
    const server = await startServer([file, '--processes', '1']);
    try {
      // Bodies up to 1 MiB are read whole before dispatch, and their memory freed once the request
      // is over: the one that noticed the change is sent again, and must still have its body.
      const body = Buffer.alloc(300 * 1024);
      for (let i = 0; i < body.length; i++) body[i] = (i * 7) % 251;
      const digest = createHash('sha256').update(body).digest('hex');
      const post = (): Promise<string[]> => request(`${server.url}/`, { method: 'POST', body }).then((res) => {
        assert.equal(res.status, 200);
        return res.text.split(' ');
      });
      const [version, firstPid, firstDigest] = await post();
      assert.equal(version, 'one');
      assert.equal(firstDigest, digest);
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace("VERSION = 'one'", "VERSION = 'two'"));
      const [after, afterPid, afterDigest] = await post();
      assert.equal(after, 'two');
      assert.notEqual(afterPid, firstPid);
      assert.equal(afterDigest, digest);
      await server.waitForLog(/reason: script_reload/);
      // And bodies of requests after it, whose pieces come from the same allocator, are their own.
      const again = await Promise.all(Array.from({ length: 8 }, post));
      for (const [, , each] of again) assert.equal(each, digest);
    } finally {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('honours a reload_required(path) function in the script', async () => {
    const { dir, file } = tempCopy(app('versioned.wsgi'));
    const server = await startServer([file, '--processes', '1']);
    try {
      const before = (await request(`${server.url}/`)).text.split(' ')[1];
      assert.equal((await request(`${server.url}/`)).text.split(' ')[1], before, 'no reload without a reason');
      fs.writeFileSync(file + '.reload', '');
      const after = (await request(`${server.url}/`)).text.split(' ')[1];
      assert.notEqual(after, before);
    } finally {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('does not reload with --disable-reloading (WSGIScriptReloading Off)', async () => {
    const { dir, file } = tempCopy(app('versioned.wsgi'));
    const server = await startServer([file, '--processes', '1', '--disable-reloading']);
    try {
      const before = (await request(`${server.url}/`)).text;
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace("VERSION = 'one'", "VERSION = 'two'"));
      await sleep(100);
      assert.equal((await request(`${server.url}/`)).text, before);
    } finally {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('restarts when any imported module changes, with --reload-on-changes', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-modules-'));
    fs.writeFileSync(path.join(dir, 'helper_module.py'), "WORD = 'alpha'\n");
    fs.writeFileSync(path.join(dir, 'app.wsgi'), "import helper_module, os\n\ndef application(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [('%s %d' % (helper_module.WORD, os.getpid())).encode()]\n");
    const server = await startServer([path.join(dir, 'app.wsgi'), '--processes', '1', '--reload-on-changes', '--python-path', dir]);
    try {
      assert.match((await request(`${server.url}/`)).text, /^alpha /);
      // Give the monitor a scan to see the module as it was first.
      await sleep(1500);
      fs.writeFileSync(path.join(dir, 'helper_module.py'), "WORD = 'beta'\n");
      const future = new Date(Date.now() + 5000);
      fs.utimesSync(path.join(dir, 'helper_module.py'), future, future);
      const deadline = Date.now() + 10_000;
      let text = '';
      while (Date.now() < deadline && !text.startsWith('beta')) {
        text = (await request(`${server.url}/`)).text;
        await sleep(200);
      }
      assert.match(text, /^beta /);
      await server.waitForLog(/reason: reload_on_changes/);
    } finally {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('signals and rolling restarts', () => {
  it('restarts a worker at once on SIGINT and gracefully on SIGUSR1, finishing its running request', async () => {
    const server = await startServer([app('lifecycle.wsgi'), '--processes', '1', '--threads', '2']);
    try {
      const first = Number(await pid(server));
      process.kill(first, 'SIGINT');
      const second = Number(await nextPid(server, String(first)));
      await server.waitForLog(/\(pid=\d+\) is being restarted \(reason: shutdown_signal\)/);
      const running = request(`${server.url}/sleep?seconds=1&tag=inflight`);
      await sleep(200);
      process.kill(second, 'SIGUSR1');
      const res = await running;
      assert.equal(res.text, 'inflight slept 1', 'the running request finished');
      await server.waitForLog(/reason: graceful_signal/);
      await nextPid(server, String(second));
    } finally {
      await server.stop();
    }
  });

  it('a request still running when graceful-timeout ends gets shutdown-timeout more to finish, as in mod_wsgi', async () => {
    const server = await startServer([app('lifecycle.wsgi'), '--processes', '1', '--threads', '2', '--graceful-timeout', '1', '--shutdown-timeout', '10']);
    try {
      const first = await pid(server);
      const running = request(`${server.url}/sleep?seconds=2.5&tag=past-grace`);
      await sleep(200);
      process.kill(Number(first), 'SIGUSR1');
      const res = await running;
      assert.equal(res.status, 200, res.text);
      assert.equal(res.text, 'past-grace slept 2.5', 'the request finished in the stopping process');
      await server.waitForLog(/Waiting up to 10 seconds \(shutdown-timeout\) for 1 running request\(s\) to finish/);
      await nextPid(server, first);
    } finally {
      await server.stop();
    }
  });

  it('stopping the server gives running requests shutdown-timeout in all, not once in the front end and again in the process', async () => {
    const server = await startServer([app('lifecycle.wsgi'), '--processes', '1', '--threads', '2', '--shutdown-timeout', '3']);
    try {
      const running = request(`${server.url}/sleep?seconds=8&tag=too-long`).catch((err: Error) => err);
      await sleep(300);
      const started = Date.now();
      server.child.kill('SIGTERM');
      await server.waitForExit(15_000);
      const took = Date.now() - started;
      // 3 s, and some for the exit; a second shutdown-timeout would be 6 s or more.
      assert.ok(took >= 2800 && took < 5500, `the server took ${took} ms to stop`);
      const res = await running;
      assert.ok(res instanceof Error || res.status >= 500, 'the 8 s request was cut');
    } finally {
      await server.stop();
    }
  });

  it('restarts every process on SIGHUP, one after another, without failing a request', async () => {
    const server = await startServer([app('lifecycle.wsgi'), '--processes', '2', '--threads', '2']);
    try {
      const before = new Set<string>();
      while (before.size < 2) before.add(await pid(server));
      let stop = false;
      const statuses: number[] = [];
      const load = (async () => {
        while (!stop) statuses.push((await request(`${server.url}/order?tag=x&seconds=0.01`)).status);
      })();
      server.child.kill('SIGHUP');
      await server.waitForLog(/All process groups have been restarted/, 20_000);
      stop = true;
      await load;
      assert.deepEqual([...new Set(statuses)], [200]);
      const after = new Set<string>();
      const deadline = Date.now() + 10_000;
      while (after.size < 2 && Date.now() < deadline) after.add(await pid(server));
      assert.ok([...after].every((p) => !before.has(p)), 'every process was replaced');
    } finally {
      await server.stop();
    }
  });

  it('opens its log files afresh on SIGHUP, so a log moved away by logrotate starts anew', async () => {
    const logs = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-host-rotate-'));
    const server = await startServer([app('lifecycle.wsgi'), '--log-to-terminal=off', '--log-directory', logs, '--access-log', '--access-log-format', '%U%q %>s'], { dontWaitForWorkers: true });
    const accessLog = path.join(logs, 'access_log');
    const lines = (file: string): string[] => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : []);
    const eventually = async (what: string, check: () => boolean): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await sleep(50);
      }
    };
    try {
      assert.equal((await request(`${server.url}/order?tag=before&seconds=0`)).status, 200);
      await eventually('the first access log line', () => lines(accessLog).includes('/order?tag=before&seconds=0 200'));
      fs.renameSync(accessLog, `${accessLog}.1`);
      fs.renameSync(path.join(logs, 'error_log'), path.join(logs, 'error_log.1'));
      server.child.kill('SIGHUP');
      await eventually('the restart in the new error log', () => lines(path.join(logs, 'error_log')).some((l) => l.includes('All process groups have been restarted')));
      assert.equal((await request(`${server.url}/order?tag=after&seconds=0`)).status, 200);
      await eventually('the next access log line in a new file', () => lines(accessLog).includes('/order?tag=after&seconds=0 200'));
      assert.deepEqual(lines(`${accessLog}.1`), ['/order?tag=before&seconds=0 200'], 'the rotated file got nothing more');
    } finally {
      await server.stop();
      fs.rmSync(logs, { recursive: true, force: true });
    }
  });

  it('keeps a one-process group serving through a restart: no request waits for the import', async () => {
    const server = await startServer([app('slow_import.wsgi'), '--processes', '1', '--threads', '2', '--preload', '--maximum-requests', '10'], { env: { WSGI_TEST_IMPORT_SECONDS: '1.5' } });
    try {
      let slowest = 0;
      const pids = new Set<string>();
      const deadline = Date.now() + 6000;
      while (Date.now() < deadline) {
        const started = Date.now();
        const res = await request(`${server.url}/`);
        assert.equal(res.status, 200);
        slowest = Math.max(slowest, Date.now() - started);
        pids.add(res.text.split(' ')[0]!);
        await sleep(20);
      }
      assert.ok(pids.size >= 2, 'the process was recycled');
      assert.ok(slowest < 1000, `the slowest request took ${slowest} ms; a restart must not make clients wait for the 1.5 s import`);
    } finally {
      await server.stop();
    }
  });

  it('shows display-name in ps', async () => {
    const server = await startServer([app('lifecycle.wsgi'), '--processes', '1']);
    try {
      const worker = await pid(server);
      const args = execFileSync('ps', ['-o', 'args=', '-p', worker], { encoding: 'utf8' }).trim();
      assert.match(args, /^\(wsgi:127\.0\.0\.1:0:\d+\)/);
    } finally {
      await server.stop();
    }
  });
});
