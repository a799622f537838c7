import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { APPS, freePort, request, sleep, startServe, systemPython, waitForFileLine, type RunningServer } from '../helpers/server';

/** What test/apps/appgroups.wsgi answers. */
interface Whoami {
  pid: number;
  interpreter: number;
  application_group: string;
  module_application_group: string;
  value: string | null;
  sys_value: string | null;
  requests: number;
  loaded_at: number;
  thread: string;
}

const PYTHON = systemPython() ?? 'python3';

/** A site served with `serve -f`, from a configuration with {{ROOT}}, {{PORT}}, {{APPS}} and {{PYTHON}} filled in. */
class Site {
  server!: RunningServer;
  port = 0;
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-appgroups-'));
  readonly errorLog = path.join(this.dir, 'error_log');
  /** Where the test applications leave marker files (WSGI_TEST_MARKERS). */
  readonly markers = path.join(this.dir, 'markers');

  async start(config: string, env: Record<string, string> = {}): Promise<this> {
    fs.mkdirSync(this.markers);
    this.port = await freePort();
    const file = path.join(this.dir, 'httpd.conf');
    const text = config.replaceAll('{{ROOT}}', this.dir).replaceAll('{{PORT}}', String(this.port)).replaceAll('{{APPS}}', APPS).replaceAll('{{PYTHON}}', PYTHON);
    fs.writeFileSync(file, `Listen 127.0.0.1:${this.port}\nServerName localhost\nErrorLog ${this.errorLog}\nLogLevel info\n${text}`);
    this.server = await startServe(file, { env: { WSGI_TEST_MARKERS: this.markers, ...env } });
    await this.waitLog(/Daemon process '[^']+' \(pid=\d+\) is ready/);
    return this;
  }

  url(urlPath: string): string {
    return `http://127.0.0.1:${this.port}${urlPath}`;
  }

  async json<T = Whoami>(urlPath: string): Promise<T> {
    const res = await request(this.url(urlPath));
    assert.equal(res.status, 200, `${urlPath}: ${res.status} ${res.text}\n${this.log()}`);
    return JSON.parse(res.text) as T;
  }

  log(): string {
    return fs.existsSync(this.errorLog) ? fs.readFileSync(this.errorLog, 'utf8') : '';
  }

  waitLog(pattern: RegExp | string, timeoutMs = 15_000): Promise<string> {
    return waitForFileLine(this.errorLog, pattern, timeoutMs);
  }

  marker(name: string): string {
    return path.join(this.markers, name);
  }

  async waitMarker(name: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!fs.existsSync(this.marker(name))) {
      if (Date.now() > deadline) throw new Error(`no marker ${name} within ${timeoutMs} ms\n${this.log()}`);
      await sleep(25);
    }
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function sha256(data: Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/** The digest of what test/apps/response.wsgi's /download?size=N sends. */
function patternDigest(size: number): string {
  const block = Buffer.concat(Array.from({ length: 2048 }, () => crypto.createHash('sha256').update('wsgi-host').digest()));
  const hash = crypto.createHash('sha256');
  for (let done = 0; done < size; done += block.length) hash.update(block.subarray(0, Math.min(block.length, size - done)));
  return hash.digest('hex');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('application groups: one sub-interpreter each in a daemon process', () => {
  const site = new Site();
  before(async () => {
    await site.start(`
WSGIDaemonProcess site processes=1 threads=2 python-executable={{PYTHON}}
WSGIProcessGroup site
WSGIScriptAlias /a {{APPS}}/appgroups.wsgi
WSGIScriptAlias /b {{APPS}}/appgroups.wsgi
WSGIScriptAlias /lazy {{APPS}}/appgroups.wsgi
WSGIScriptAlias /g {{APPS}}/appgroups.wsgi application-group=%{GLOBAL}
WSGIScriptAlias /named {{APPS}}/appgroups.wsgi application-group=shared-name
WSGIScriptAlias /named-too {{APPS}}/appgroups.wsgi application-group=shared-name
WSGIScriptAlias /server {{APPS}}/appgroups.wsgi application-group=%{SERVER}
WSGIScriptAlias /env {{APPS}}/appgroups.wsgi
<Location /env>
  SetEnv WHICH_GROUP from-the-environment
  WSGIApplicationGroup %{ENV:WHICH_GROUP}
</Location>
`);
  });
  after(() => site.stop());

  it('keeps module globals set by one application invisible to another in the same process', async () => {
    const a = await site.json('/a/set?value=apple');
    assert.equal(a.value, 'apple');
    assert.equal(a.sys_value, 'apple');
    const b = await site.json('/b/');
    assert.equal(b.pid, a.pid, 'one daemon process');
    assert.notEqual(b.interpreter, a.interpreter, 'another interpreter: its own sys.modules');
    assert.equal(b.value, null, "the script's module global is the other application's own");
    assert.equal(b.sys_value, null, 'even sys, which every interpreter has, is its own');
    assert.equal(b.requests, 1, 'the script was loaded afresh for /b');
    const again = await site.json('/a/');
    assert.equal(again.interpreter, a.interpreter);
    assert.equal(again.value, 'apple', 'state stays with its interpreter');
  });

  it('runs the same application under %{GLOBAL} and %{RESOURCE} in different interpreters, named as mod_wsgi names them', async () => {
    const resource = await site.json('/a/');
    const global = await site.json('/g/');
    assert.equal(global.pid, resource.pid);
    assert.notEqual(global.interpreter, resource.interpreter);
    assert.equal(global.application_group, '');
    assert.equal(global.module_application_group, '', "mod_wsgi.application_group in the main interpreter");
    assert.equal(resource.application_group, `localhost:${site.port}|/a`);
    assert.equal(resource.module_application_group, resource.application_group, 'mod_wsgi.application_group names the interpreter');
    assert.equal(global.sys_value, null, '/a set a value in its own interpreter only');
  });

  it('gives all requests naming one application group the same interpreter: literal names, %{SERVER}, %{ENV:...}', async () => {
    const named = await site.json('/named/set?value=shared');
    const namedToo = await site.json('/named-too/');
    assert.equal(named.application_group, 'shared-name');
    assert.equal(namedToo.interpreter, named.interpreter);
    assert.equal(namedToo.sys_value, 'shared', 'one interpreter for both mounts');
    const server = await site.json('/server/');
    assert.equal(server.application_group, `localhost:${site.port}`);
    const env = await site.json('/env/');
    assert.equal(env.application_group, 'from-the-environment');
    assert.equal(new Set([named.interpreter, server.interpreter, env.interpreter]).size, 3);
  });

  it('creates an interpreter on the first request for its application group, and says so in the log', async () => {
    const name = `localhost:${site.port}|/lazy`;
    assert.ok(!site.log().includes(`Creating sub-interpreter '${name}'`), 'not created before it is needed');
    const lazy = await site.json('/lazy/');
    assert.equal(lazy.application_group, name);
    await site.waitLog(`Creating sub-interpreter '${name}' in daemon process 'site'.`);
    await site.waitLog(new RegExp(`The sub-interpreter '${name.replace(/[|.]/g, '\\$&')}' of daemon process 'site' \\(pid=${lazy.pid}\\) is ready with 2 threads`));
    assert.ok(site.log().includes('runs each application group other than %{GLOBAL} in a sub-interpreter of its own'));
  });
});

describe('application groups: large bodies', () => {
  it('streams large uploads and downloads through a sub-interpreter\'s threads intact', async () => {
    const site = await new Site().start(`
WSGIDaemonProcess site processes=1 threads=2 python-executable={{PYTHON}}
WSGIProcessGroup site
WSGIScriptAlias /r {{APPS}}/response.wsgi
WSGIScriptAlias /i {{APPS}}/input.wsgi
`);
    try {
      const size = 5 * 1024 * 1024 + 123;
      for (const route of ['/r/download', '/r/download-chunked']) {
        const res = await request(site.url(`${route}?size=${size}`));
        assert.equal(res.status, 200);
        assert.equal(res.body.length, size);
        assert.equal(sha256(res.body), patternDigest(size), route);
      }
      const upload = crypto.randomBytes(3 * 1024 * 1024 + 7);
      const res = await request(site.url('/i/?mode=read'), { method: 'POST', body: upload, headers: { 'Content-Type': 'application/octet-stream' } });
      assert.equal(res.status, 200, res.text);
      const got = JSON.parse(res.text) as { length: number; sha256: string };
      assert.deepEqual([got.length, got.sha256], [upload.length, sha256(upload)]);
      await site.waitLog(`Creating sub-interpreter 'localhost:${site.port}|/r'`);
    } finally {
      await site.stop();
    }
  });
});

describe('application groups: capacity', () => {
  it('a process runs at most `threads` requests at once across all its interpreters', async () => {
    const site = await new Site().start(`
WSGIDaemonProcess site processes=1 threads=1 python-executable={{PYTHON}}
WSGIProcessGroup site
WSGIScriptAlias /a {{APPS}}/appgroups.wsgi
WSGIScriptAlias /b {{APPS}}/appgroups.wsgi
`);
    try {
      // Both interpreters exist and are ready before the test proper.
      const a0 = await site.json('/a/');
      const b0 = await site.json('/b/');
      assert.notEqual(a0.interpreter, b0.interpreter);
      const holdA = request(site.url('/a/hold?name=A'));
      await site.waitMarker('A.started');
      const holdB = request(site.url('/b/hold?name=B'));
      // /b's interpreter has an idle thread, but the process's one thread is busy with /a.
      await sleep(1500);
      assert.ok(!fs.existsSync(site.marker('B.started')), 'the /b request waits while /a holds the only thread');
      fs.writeFileSync(site.marker('A.release'), '');
      fs.writeFileSync(site.marker('B.release'), '');
      assert.equal((await holdA).status, 200);
      assert.equal((await holdB).status, 200);
      assert.ok(fs.existsSync(site.marker('B.started')));
    } finally {
      await site.stop();
    }
  });

  it('with threads to spare, requests for different application groups run at once', async () => {
    const site = await new Site().start(`
WSGIDaemonProcess site processes=1 threads=2 python-executable={{PYTHON}}
WSGIProcessGroup site
WSGIScriptAlias /a {{APPS}}/appgroups.wsgi
WSGIScriptAlias /b {{APPS}}/appgroups.wsgi
`);
    try {
      const holdA = request(site.url('/a/hold?name=A'));
      const holdB = request(site.url('/b/hold?name=B'));
      await site.waitMarker('A.started');
      await site.waitMarker('B.started');
      fs.writeFileSync(site.marker('A.release'), '');
      fs.writeFileSync(site.marker('B.release'), '');
      const [a, b] = [JSON.parse((await holdA).text) as Whoami, JSON.parse((await holdB).text) as Whoami];
      assert.equal(a.pid, b.pid);
      assert.notEqual(a.interpreter, b.interpreter);
    } finally {
      await site.stop();
    }
  });
});

describe('application groups: several processes', () => {
  it('adds an application group\'s interpreter to another process when the processes that have one are busy', async () => {
    const site = await new Site().start(`
WSGIDaemonProcess site processes=2 threads=1 python-executable={{PYTHON}}
WSGIProcessGroup site
WSGIScriptAlias /a {{APPS}}/appgroups.wsgi
WSGIScriptAlias /idle {{APPS}}/appgroups.wsgi
`);
    try {
      const deadline = Date.now() + 15_000;
      while ((site.log().match(/Daemon process 'site' \(pid=\d+\) is ready/g)?.length ?? 0) < 2) {
        if (Date.now() > deadline) throw new Error(`both processes not ready\n${site.log()}`);
        await sleep(50);
      }
      const idle = await site.json('/idle/');
      const idleAgain = await site.json('/idle/');
      assert.equal(idleAgain.interpreter, idle.interpreter, 'an idle application group stays in one process');
      const first = request(site.url('/a/hold?name=A1'));
      await site.waitMarker('A1.started');
      const second = request(site.url('/a/hold?name=A2'));
      await site.waitMarker('A2.started');
      fs.writeFileSync(site.marker('A1.release'), '');
      fs.writeFileSync(site.marker('A2.release'), '');
      const [a1, a2] = [JSON.parse((await first).text) as Whoami, JSON.parse((await second).text) as Whoami];
      assert.notEqual(a1.pid, a2.pid, 'the second request ran in the other process, in an interpreter created there for it');
      assert.equal(a1.application_group, a2.application_group);
      assert.equal(site.log().split('\n').filter((l) => l.includes(`Creating sub-interpreter 'localhost:${site.port}|/a'`)).length, 2);
    } finally {
      await site.stop();
    }
  });
});

describe('application groups: a C extension that refuses sub-interpreters (numpy)', () => {
  it('fails with 500 and the ImportError in the error log in a sub-interpreter; the same application under %{GLOBAL} works', async () => {
    execFileSync(PYTHON, ['-c', 'import numpy'], { stdio: 'pipe' }); // python3-numpy (.ci/run installs it)
    const site = await new Site().start(`
WSGIDaemonProcess site processes=1 threads=2 python-executable={{PYTHON}}
WSGIProcessGroup site
WSGIScriptAlias /global {{APPS}}/numpy_app.wsgi application-group=%{GLOBAL}
WSGIScriptAlias /global-too {{APPS}}/numpy_app.wsgi application-group=%{GLOBAL}
WSGIScriptAlias /sub {{APPS}}/numpy_app.wsgi
`);
    try {
      const global = await site.json<{ sum: number; pid: number; interpreter: number }>('/global/');
      assert.equal(global.sum, 45);
      const sub = await request(site.url('/sub/'));
      assert.equal(sub.status, 500);
      await site.waitLog(/WSGI0109: Unable to execute Python script file '.*numpy_app\.wsgi'/);
      await site.waitLog(/ImportError: .*(only be loaded into one interpreter per process|sub-?interpreter)/);
      const globalToo = await site.json<{ sum: number; pid: number; interpreter: number }>('/global-too/');
      assert.equal(globalToo.sum, 45);
      assert.equal(globalToo.interpreter, global.interpreter, 'every %{GLOBAL} application shares the main interpreter');
      assert.equal(globalToo.pid, global.pid);
    } finally {
      await site.stop();
    }
  });
});

describe('application groups: two Django projects in one process group', () => {
  it('serves each project with its own settings module, in one process', async () => {
    execFileSync(PYTHON, ['-c', 'import django'], { stdio: 'pipe' }); // python3-django (.ci/run installs it)
    const site = await new Site().start(`
WSGIDaemonProcess django processes=1 threads=2 python-executable={{PYTHON}} python-path={{APPS}}/django_pair
WSGIProcessGroup django
WSGIScriptAlias /alpha {{APPS}}/django_pair/alpha/wsgi.py
WSGIScriptAlias /beta {{APPS}}/django_pair/beta/wsgi.py
`, { PYTHONDONTWRITEBYTECODE: '1' });
    try {
      type Django = { settings_module: string; title: string; url: string; pid: number; interpreter: number };
      const alpha = await site.json<Django>('/alpha/alpha-only/');
      const beta = await site.json<Django>('/beta/beta-only/');
      assert.deepEqual([alpha.settings_module, alpha.title, alpha.url], ['alpha.settings', 'Alpha site', '/alpha/alpha-only/']);
      assert.deepEqual([beta.settings_module, beta.title, beta.url], ['beta.settings', 'Beta site', '/beta/beta-only/']);
      assert.equal(alpha.pid, beta.pid, 'one daemon process');
      assert.notEqual(alpha.interpreter, beta.interpreter);
      // Each project's URLconf is its own: the other project's URL is a 404 there.
      assert.equal((await request(site.url('/alpha/beta-only/'))).status, 404);
      assert.equal((await request(site.url('/beta/alpha-only/'))).status, 404);
      assert.equal((await site.json<Django>('/alpha/alpha-only/')).settings_module, 'alpha.settings', 'still its own after the other loaded');
    } finally {
      await site.stop();
    }
  });
});

describe('application groups: loading, reloading and recycling', () => {
  it('preloads a script into its application group (WSGIImportScript application-group=) before the process is ready', async () => {
    const site = await new Site().start(`
WSGIDaemonProcess site processes=1 threads=2 python-executable={{PYTHON}}
WSGIImportScript {{APPS}}/appgroups.wsgi process-group=site application-group=preloaded
WSGIScriptAlias /p {{APPS}}/appgroups.wsgi process-group=site application-group=preloaded
WSGIScriptAlias /q {{APPS}}/appgroups.wsgi process-group=site
`);
    try {
      const lines = site.log().split('\n');
      const created = lines.findIndex((l) => l.includes("Creating sub-interpreter 'preloaded' in daemon process 'site'."));
      const preloaded = lines.findIndex((l) => /Preloaded WSGI script '.*appgroups\.wsgi'/.test(l));
      const ready = lines.findIndex((l) => /Daemon process 'site' \(pid=\d+\) is ready/.test(l));
      assert.ok(created >= 0 && preloaded > created && ready > preloaded, `interpreter, preload, then ready:\n${site.log()}`);
      const p = await site.json('/p/');
      assert.equal(p.application_group, 'preloaded');
      assert.equal(p.requests, 1);
      const q = await site.json('/q/');
      assert.notEqual(q.interpreter, p.interpreter, 'the preload went to its own application group only');
      assert.ok(q.loaded_at > p.loaded_at, '/q loaded lazily, /p at start');
    } finally {
      await site.stop();
    }
  });

  it('a preload that fails is logged for the sub-interpreter it ran in', async () => {
    const site = await new Site().start(`
WSGIDaemonProcess site processes=1 threads=2 python-executable={{PYTHON}}
WSGIImportScript {{APPS}}/broken_import.wsgi process-group=site application-group=shared
WSGIScriptAlias /q {{APPS}}/appgroups.wsgi process-group=site
`);
    try {
      await site.waitLog(/WSGI0174: \[script .*broken_import\.wsgi\] ImportError exception raised processing WSGI script '.*broken_import\.wsgi' for sub-interpreter 'shared' of daemon process 'site'/);
    } finally {
      await site.stop();
    }
  });

  it('a changed script in a sub-interpreter replaces the process; the request that noticed runs in the new one', async () => {
    const scripts = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-appgroups-reload-'));
    const script = path.join(scripts, 'app.wsgi');
    fs.copyFileSync(path.join(APPS, 'appgroups.wsgi'), script);
    const site = await new Site().start(`
WSGIDaemonProcess site processes=1 threads=2 python-executable={{PYTHON}}
WSGIProcessGroup site
WSGIScriptAlias /r ${script}
WSGIScriptAlias /s {{APPS}}/appgroups.wsgi
`);
    try {
      const before = await site.json('/r/');
      await site.json('/s/');
      const later = new Date(Date.now() + 5000);
      fs.utimesSync(script, later, later);
      const after = await site.json('/r/');
      assert.notEqual(after.pid, before.pid, 'served by a fresh process');
      assert.equal(after.application_group, before.application_group);
      assert.equal(after.requests, 1, 'the script was loaded afresh');
      await site.waitLog(/reason: script_reload/);
      assert.equal((await site.json('/s/')).pid, after.pid, 'the other application group moved to the new process too');
    } finally {
      await site.stop();
      fs.rmSync(scripts, { recursive: true, force: true });
    }
  });

  it('maximum-requests counts the requests of all the interpreters of a process', async () => {
    const site = await new Site().start(`
WSGIDaemonProcess site processes=1 threads=1 maximum-requests=4 python-executable={{PYTHON}}
WSGIProcessGroup site
WSGIScriptAlias /a {{APPS}}/appgroups.wsgi
WSGIScriptAlias /b {{APPS}}/appgroups.wsgi
`);
    try {
      // Two requests in each interpreter: four in the process, which is its maximum.
      const first = await site.json('/a/');
      await site.json('/b/');
      await site.json('/a/');
      await site.json('/b/');
      await site.waitLog(new RegExp(`Daemon process 'site' \\(pid=${first.pid}\\) is being restarted \\(reason: maximum_requests\\)`));
      const served = new Map<number, number>([[first.pid, 4]]);
      const statuses = new Set<number>();
      // Until a third process serves: the first two have then each been recycled.
      const deadline = Date.now() + 20_000;
      for (let i = 0; served.size < 3 && Date.now() < deadline; i++) {
        await sleep(50);
        const res = await request(site.url(i % 2 === 0 ? '/a/' : '/b/'));
        statuses.add(res.status);
        if (res.status === 200) {
          const pid = (JSON.parse(res.text) as Whoami).pid;
          served.set(pid, (served.get(pid) ?? 0) + 1);
        }
      }
      assert.deepEqual([...statuses], [200], 'no request failed across the recycling');
      assert.equal(served.size, 3, `recycled: requests per process ${[...served.values()].join(', ')}`);
      // Each process but the last served at least its maximum, counted across /a and /b.
      assert.ok([...served.values()].slice(0, -1).every((n) => n >= 4), `requests per process: ${[...served.values()].join(', ')}`);
    } finally {
      await site.stop();
    }
  });

  it('a graceful restart lets the requests running in every interpreter finish', async () => {
    const site = await new Site().start(`
WSGIDaemonProcess site processes=1 threads=3 python-executable={{PYTHON}}
WSGIProcessGroup site
WSGIScriptAlias /a {{APPS}}/appgroups.wsgi
WSGIScriptAlias /b {{APPS}}/appgroups.wsgi
WSGIScriptAlias /g {{APPS}}/appgroups.wsgi application-group=%{GLOBAL}
`);
    try {
      const old = (await site.json('/a/')).pid;
      const held = ['A', 'B', 'G'].map((name) => request(site.url(`/${name === 'G' ? 'g' : name.toLowerCase()}/hold?name=${name}`)));
      for (const name of ['A', 'B', 'G']) await site.waitMarker(`${name}.started`);
      process.kill(old, 'SIGUSR1');
      await site.waitLog(/reason: graceful_signal/);
      await site.waitLog(new RegExp(`Daemon process 'site' \\(pid=(?!${old}\\))\\d+\\) is ready`));
      for (const name of ['A', 'B', 'G']) fs.writeFileSync(site.marker(`${name}.release`), '');
      for (const res of await Promise.all(held)) {
        assert.equal(res.status, 200, res.text);
        assert.equal((JSON.parse(res.text) as Whoami).pid, old, 'finished in the old process');
      }
      assert.notEqual((await site.json('/b/')).pid, old);
    } finally {
      await site.stop();
    }
  });
});

describe('application groups: timeouts', () => {
  it('interrupt-timeout raises RequestTimeout in the request\'s thread in its own sub-interpreter; the process lives on', async () => {
    const site = await new Site().start(`
WSGIDaemonProcess site processes=1 threads=2 request-timeout=1 interrupt-timeout=5 python-executable={{PYTHON}}
WSGIProcessGroup site
WSGIScriptAlias /a {{APPS}}/appgroups.wsgi
`);
    try {
      const first = await site.json('/a/');
      const res = await request(site.url('/a/busy?seconds=20'));
      assert.equal(res.status, 504);
      await site.waitMarker('interrupted');
      assert.equal(fs.readFileSync(site.marker('interrupted'), 'utf8'), `RequestTimeout localhost:${site.port}|/a`);
      await site.waitLog(/Injected RequestTimeout into request thread \d+/);
      const after = await site.json('/a/');
      assert.equal(after.pid, first.pid, 'the process survived');
      assert.equal(after.interpreter, first.interpreter);
    } finally {
      await site.stop();
    }
  });

  it('request-timeout logs the stacks of every interpreter\'s threads and replaces the process', async () => {
    const site = await new Site().start(`
WSGIDaemonProcess site processes=1 threads=2 request-timeout=1 python-executable={{PYTHON}}
WSGIProcessGroup site
WSGIScriptAlias /a {{APPS}}/appgroups.wsgi
WSGIScriptAlias /g {{APPS}}/appgroups.wsgi application-group=%{GLOBAL}
`);
    try {
      await site.json('/g/');
      const first = await site.json('/a/');
      const res = await request(site.url('/a/sleep?seconds=8'));
      assert.equal(res.status, 504);
      await site.waitLog(new RegExp(`Stack traces of the threads of daemon process ${first.pid}, application group 'localhost:${site.port}\\|/a'`));
      await site.waitLog(new RegExp(`Stack traces of the threads of daemon process ${first.pid} \\(`));
      await site.waitLog(/appgroups\.wsgi", line \d+, in application/);
      await site.waitLog(/time\.sleep\(float\(query\.get\('seconds', '1'\)\)\)/);
      await site.waitLog(/reason: request_timeout/);
    } finally {
      await site.stop();
    }
  });
});

describe('application groups: an interpreter that cannot be created', () => {
  it('answers its requests 500 with WSGI0087 and the reason in the error log; %{GLOBAL} in the same process serves on', async () => {
    const site = await new Site().start(`
WSGIDaemonProcess site processes=1 threads=2 python-executable={{PYTHON}} python-path={{APPS}}/subinterpreter-refusing-site
WSGIProcessGroup site
WSGIScriptAlias /sub {{APPS}}/appgroups.wsgi
WSGIScriptAlias /g {{APPS}}/appgroups.wsgi application-group=%{GLOBAL}
`);
    try {
      const res = await request(site.url('/sub/'));
      assert.equal(res.status, 500);
      const name = `localhost:${site.port}|/sub`;
      await site.waitLog(`WSGI0103: Python based handlers will not be available for sub-interpreter '${name}' in daemon process 'site'.`);
      await site.waitLog('SystemExit: this site refuses to run in a sub-interpreter (refuse.pth)');
      await site.waitLog(new RegExp(`\\[client 127\\.0\\.0\\.1:\\d+\\] WSGI0087: Unable to acquire sub-interpreter '${name.replace(/[|.]/g, '\\$&')}' for WSGI request handler in daemon process 'site'; it could not be started: SystemExit`));
      assert.equal((await site.json('/g/')).application_group, '', 'the main interpreter serves');
      // Each request tries again (as in mod_wsgi), and gets the same answer.
      assert.equal((await request(site.url('/sub/'))).status, 500);
    } finally {
      await site.stop();
    }
  });
});

describe('application groups: a process of its own per application group (application-groups=processes)', () => {
  it('isolates applications in processes of their own, within the process\'s thread limit, and stops them with it', async () => {
    const site = await new Site().start(`
WSGIDaemonProcess site processes=1 threads=1 application-groups=processes python-executable={{PYTHON}}
WSGIProcessGroup site
WSGIScriptAlias /a {{APPS}}/appgroups.wsgi
WSGIScriptAlias /b {{APPS}}/appgroups.wsgi
WSGIScriptAlias /g {{APPS}}/appgroups.wsgi application-group=%{GLOBAL}
WSGIScriptAlias /r {{APPS}}/response.wsgi
`);
    let pids: number[] = [];
    try {
      await site.waitLog("Daemon process group 'site' runs each application group other than %{GLOBAL} in a process of its own, not a sub-interpreter: application-groups=processes.");
      const a = await site.json('/a/set?value=apple');
      const b = await site.json('/b/');
      const g = await site.json('/g/');
      pids = [a.pid, b.pid, g.pid];
      assert.equal(new Set(pids).size, 3, 'each application group in a process of its own');
      assert.equal(b.value, null);
      assert.equal(a.application_group, `localhost:${site.port}|/a`);
      await site.waitLog(new RegExp(`Started process ${a.pid} for application group 'localhost:${site.port}\\|/a' of daemon process 'site'`));
      // The daemon process's one thread is shared by its application groups' processes.
      const holdA = request(site.url('/a/hold?name=A'));
      await site.waitMarker('A.started');
      const holdB = request(site.url('/b/hold?name=B'));
      await sleep(1500);
      assert.ok(!fs.existsSync(site.marker('B.started')), 'the /b request waits while /a holds the thread');
      fs.writeFileSync(site.marker('A.release'), '');
      fs.writeFileSync(site.marker('B.release'), '');
      assert.equal((await holdA).status, 200);
      assert.equal((await holdB).status, 200);
      // A large response from a process of its own (its shared response region is that process's).
      const download = await request(site.url('/r/download?size=3000000'));
      assert.equal(download.status, 200);
      assert.equal(sha256(download.body), patternDigest(3000000));
    } finally {
      await site.server.stop();
    }
    const deadline = Date.now() + 5000;
    while (pids.some(alive) && Date.now() < deadline) await sleep(50);
    assert.deepEqual(pids.filter(alive), [], 'no process is left behind');
    fs.rmSync(site.dir, { recursive: true, force: true });
  });
});

describe('application groups: a Python without sub-interpreters', () => {
  it('falls back to a process of its own per application group, and says so in the start-up log', async () => {
    // The .pth hides the private module, as in a Python built without it.
    const site = await new Site().start(`
WSGIDaemonProcess site processes=1 threads=2 python-executable={{PYTHON}} python-path={{APPS}}/no-subinterpreters-site
WSGIProcessGroup site
WSGIScriptAlias /a {{APPS}}/appgroups.wsgi
WSGIScriptAlias /g {{APPS}}/appgroups.wsgi application-group=%{GLOBAL}
`);
    try {
      await site.waitLog(/\[wsgi:warn\] .*Daemon process group 'site' runs each application group other than %\{GLOBAL\} in a process of its own, not a sub-interpreter: this Python \(3\.\d+\.\d+\) has no sub-interpreter support/);
      const a = await site.json('/a/set?value=apple');
      const g = await site.json('/g/');
      assert.notEqual(a.pid, g.pid);
      assert.equal(g.sys_value, null);
      assert.equal(a.application_group, `localhost:${site.port}|/a`);
    } finally {
      await site.stop();
    }
  });
});

describe('application groups: stopping', () => {
  it('a process with sub-interpreters exits cleanly when stopped', async () => {
    const site = await new Site().start(`
WSGIDaemonProcess site processes=1 threads=2 python-executable={{PYTHON}}
WSGIProcessGroup site
WSGIScriptAlias /a {{APPS}}/appgroups.wsgi
WSGIScriptAlias /b {{APPS}}/appgroups.wsgi
`);
    const pid = (await site.json('/a/')).pid;
    await site.json('/b/');
    await site.server.stop();
    const log = site.log();
    fs.rmSync(site.dir, { recursive: true, force: true });
    assert.match(log, new RegExp(`Daemon process 'site' \\(pid=${pid}\\) exited with status 0`));
    assert.doesNotMatch(log, /Fatal Python error/);
  });
});
