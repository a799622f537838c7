import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadApacheConfig } from '../../src/config/apache-config';
import { app, serveSite, startServer, type RunningServer, type Site } from '../helpers/server';

/**
 * WSGIFrontEndPriority / --front-end-priority: the front end's thread runs at nice -10 by default
 * where it may lower its nice value, and the daemon processes, which inherit the value when the
 * front end starts them, go back to the server's starting value (or to their cpu-priority)
 * before application code runs, in every kind of interpreter. Without the privilege the server
 * still starts and says why its priority is unchanged.
 */

const LINUX = process.platform === 'linux';
/** The nice value the servers start with: this test's own. */
const STARTING = os.getPriority(0);
/** Whether a process started from here may lower its nice value (root, CAP_SYS_NICE). */
const MAY_LOWER = LINUX && spawnSync(process.execPath, ['-e', 'require("os").setPriority(0, require("os").getPriority(0) - 1)']).status === 0;
/** setpriv can take CAP_SYS_NICE away (only root may change its bounding set). */
const SETPRIV = LINUX && process.getuid?.() === 0 && fs.existsSync('/usr/bin/setpriv');
const WITHOUT_SYS_NICE = ['/usr/bin/setpriv', '--inh-caps=-sys_nice', '--bounding-set=-sys_nice'];
/** The kernel groups processes by session for scheduling (autogroups). */
const AUTOGROUPS = LINUX && fs.existsSync('/proc/self/autogroup') && fs.readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() === '1';
/** Runs the server as a service manager does: leading a session of its own. */
const OWN_SESSION = ['/usr/bin/setsid'];

/** Field `n` (1-based, as proc(5) numbers them) of a process's main thread's stat line. */
function statField(pid: number, n: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  // After the command name, which may hold spaces and parentheses: fields 3 onwards.
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[n - 3]);
}

/** The nice value of a process's main thread (Linux keeps one per thread). */
const niceOf = (pid: number): number => statField(pid, 19);
/** The scheduling policy of a process's main thread: 0 SCHED_OTHER, 3 SCHED_BATCH. */
const policyOf = (pid: number): string => ({ 0: 'SCHED_OTHER', 3: 'SCHED_BATCH' })[statField(pid, 41)] ?? `policy ${statField(pid, 41)}`;

const PRIORITY_APP = [
  'import os',
  '',
  'def application(environ, start_response):',
  '    # 0: the calling thread, the one that runs requests.',
  '    body = str(os.getpriority(os.PRIO_PROCESS, 0)).encode()',
  "    start_response('200 OK', [('Content-Type', 'text/plain')])",
  '    return [body]',
  '',
].join('\n');

describe('WSGIFrontEndPriority: the front end and the daemon processes', { skip: LINUX ? false : 'Linux nice values per thread' }, () => {
  let site: Site | null = null;
  before(async () => {
    site = await serveSite(
      [
        'Listen 127.0.0.1:{{PORT}}',
        'ServerName localhost',
        'LogLevel info',
        'ErrorLog {{ROOT}}/error_log',
        'WSGIDaemonProcess plain processes=1 threads=2',
        'WSGIDaemonProcess own processes=1 threads=1 application-groups=processes',
        'WSGIDaemonProcess kind processes=1 threads=1 cpu-priority=5',
        'WSGIScriptAlias /main {{ROOT}}/priority.wsgi process-group=plain application-group=%{GLOBAL}',
        'WSGIScriptAlias /sub {{ROOT}}/priority.wsgi process-group=plain application-group=elsewhere',
        'WSGIScriptAlias /own {{ROOT}}/priority.wsgi process-group=own application-group=apart',
        'WSGIScriptAlias /kind {{ROOT}}/priority.wsgi process-group=kind application-group=%{GLOBAL}',
        '',
      ].join('\n'),
      { 'priority.wsgi': PRIORITY_APP },
    );
  });
  after(async () => {
    await site?.stop();
  });

  it('runs the front end under SCHED_BATCH by default, and says so', async () => {
    assert.equal(policyOf(site!.server.child.pid!), 'SCHED_BATCH');
    await site!.waitForLog(/The front end runs under the SCHED_BATCH scheduling policy \(WSGIFrontEndSchedulingPolicy\)\./);
  });

  it(MAY_LOWER ? 'runs the front end at nice -10 by default, and says so' : 'keeps the front end as it started without the privilege, and says why', async () => {
    const pid = site!.server.child.pid!;
    if (MAY_LOWER) {
      assert.equal(niceOf(pid), -10);
      await site!.waitForLog(new RegExp(`The front end runs at nice -10 \\(WSGIFrontEndPriority\\); its daemon processes at nice ${STARTING} unless`));
    } else {
      assert.equal(niceOf(pid), STARTING);
      await site!.waitForLog(/The front end keeps nice -?\d+: its default priority, nice -10, was refused \(lowering a nice value needs root or CAP_SYS_NICE\)/);
    }
  });

  for (const [url, where] of [
    ['/main', 'the main interpreter'],
    ['/sub', 'a sub-interpreter'],
    ['/own', "an application group's own process"],
  ] as const) {
    it(`runs requests in ${where} at the server's starting nice value, not the front end's`, async () => {
      const response = await site!.get(url);
      assert.equal(response.status, 200, response.body.toString());
      assert.equal(response.body.toString(), String(STARTING));
    });
  }

  it("runs requests at the group's cpu-priority when it has one", async () => {
    const response = await site!.get('/kind');
    assert.equal(response.status, 200, response.body.toString());
    assert.equal(response.body.toString(), '5');
  });

  it('takes a changed WSGIFrontEndPriority on SIGHUP; the processes started then keep the starting value', async () => {
    const file = path.join(site!.dir, 'httpd.conf');
    const wanted = Math.min(STARTING + 4, 19); // raising needs no privilege, even after privileges are dropped
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('LogLevel info', `LogLevel info\nWSGIFrontEndPriority ${wanted}`));
    const mark = site!.logMark();
    site!.server.child.kill('SIGHUP');
    await site!.waitForLog(/All process groups have been restarted\./, mark);
    assert.equal(niceOf(site!.server.child.pid!), wanted);
    await site!.waitForLog(new RegExp(`The front end runs at nice ${wanted} \\(WSGIFrontEndPriority\\)`), mark);
    const response = await site!.get('/main');
    assert.equal(response.body.toString(), String(STARTING));
  });
});

describe('--front-end-priority', { skip: LINUX ? false : 'Linux nice values per thread' }, () => {
  let server: RunningServer | null = null;
  after(async () => {
    await server?.stop();
  });

  it('sets the front end to the values given; the Python processes keep the starting nice value and their own policy', async () => {
    // Raising a nice value needs no privilege, so this holds for any user.
    const wanted = Math.min(STARTING + 3, 19);
    server = await startServer([app('environ.wsgi'), '--front-end-priority', String(wanted), '--front-end-scheduling-policy', 'normal', '--processes', '1', '--threads', '1']);
    assert.equal(niceOf(server.child.pid!), wanted);
    assert.equal(policyOf(server.child.pid!), 'SCHED_OTHER', '--front-end-scheduling-policy normal');
    const workers = /Starting process '[^']+' \(pid=(\d+)\)/.exec(server.stderr);
    assert.ok(workers !== null, server.stderr);
    assert.equal(niceOf(Number(workers[1])), STARTING);
    assert.equal(policyOf(Number(workers[1])), 'SCHED_BATCH', "the workers' own default");
    const res = await fetch(`http://127.0.0.1:${server.port}/`);
    assert.equal(res.status, 200);
    await server.stop();
    server = null;
  });
});

describe('the scheduling group of the front end\'s session', { skip: AUTOGROUPS ? false : 'no autogroups here' }, () => {
  let server: RunningServer | null = null;
  after(async () => {
    await server?.stop();
  });
  const groupOf = (pid: number | 'self'): string => fs.readFileSync(`/proc/${pid}/autogroup`, 'utf8').trim();

  it('a front end that leads its own session gives the group its priority too', async () => {
    // Raising needs no privilege, so an unprivileged run checks the same thing with 5.
    const wanted = MAY_LOWER ? null : 5;
    server = await startServer([app('environ.wsgi'), '--processes', '1', '--threads', '1', ...(wanted === null ? [] : ['--front-end-priority', String(wanted)])], { launcher: OWN_SESSION });
    const pid = server.child.pid!;
    assert.match(groupOf(pid), new RegExp(`^/autogroup-\\d+ nice ${wanted ?? -10}$`));
    assert.notEqual(groupOf(pid), groupOf('self'));
    assert.match(server.stderr, /as does the scheduling group of the session it leads/);
    await server.stop();
    server = null;
  });

  it("a front end started within another session leaves that session's group alone", async () => {
    const before = groupOf('self');
    server = await startServer([app('environ.wsgi'), '--processes', '1', '--threads', '1']);
    assert.equal(groupOf(server.child.pid!), before, 'the server shares this test\'s group');
    assert.equal(groupOf('self'), before, 'and its nice value is unchanged');
    assert.doesNotMatch(server.stderr, /scheduling group/);
    await server.stop();
    server = null;
  });
});

describe('without CAP_SYS_NICE', { skip: SETPRIV ? false : 'needs root and setpriv to take the capability away' }, () => {
  const servers: RunningServer[] = [];
  after(async () => {
    for (const server of servers) await server.stop();
  });

  it('an explicit priority that is refused is a warning naming the remedy; the server runs on as it started', async () => {
    const server = await startServer([app('environ.wsgi'), '--front-end-priority', '-5', '--processes', '1', '--threads', '1'], { launcher: WITHOUT_SYS_NICE });
    servers.push(server);
    assert.match(server.stderr, /\[core:warn\] .*Unable to set the front end's priority \(WSGIFrontEndPriority, --front-end-priority\) to nice -5: lowering a nice value needs root or CAP_SYS_NICE\. It keeps nice -?\d+; start wsgi-host as root, grant it CAP_SYS_NICE, or choose a value of -?\d+ or more\./);
    assert.equal(niceOf(server.child.pid!), STARTING);
    const res = await fetch(`http://127.0.0.1:${server.port}/`);
    assert.equal(res.status, 200);
  });

  it('the default that is refused is only an info line', async () => {
    const server = await startServer([app('environ.wsgi'), '--processes', '1', '--threads', '1'], { launcher: WITHOUT_SYS_NICE });
    servers.push(server);
    assert.match(server.stderr, /\[core:info\] .*The front end keeps nice -?\d+: its default priority, nice -10, was refused/);
    assert.doesNotMatch(server.stderr, /\[core:warn\] .*priority/);
    assert.equal(niceOf(server.child.pid!), STARTING);
  });
});

describe('WSGIFrontEndPriority in a configuration file', () => {
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-host-priority-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const load = (lines: string[]): ReturnType<typeof loadApacheConfig> => {
    const file = path.join(dir, `c${Math.random().toString(36).slice(2)}.conf`);
    fs.writeFileSync(file, [...lines, ''].join('\n'));
    return loadApacheConfig(file);
  };
  const refusal = (lines: string[]): string => {
    const result = load(lines);
    assert.equal(result.config, null, `${lines.join(' / ')} should be refused`);
    return `${result.errors[0]!.directive}: ${result.errors[0]!.message} (line ${result.errors[0]!.line})`;
  };

  it('takes a nice value from -20 to 19, at server level only', () => {
    assert.equal(load(['Listen 8080', 'WSGIFrontEndPriority -20']).config?.frontEndPriority, -20);
    assert.equal(load(['Listen 8080', 'WSGIFrontEndPriority 19']).config?.frontEndPriority, 19);
    assert.equal(load(['Listen 8080', 'WSGIFrontEndPriority +3']).config?.frontEndPriority, 3);
    assert.equal(load(['Listen 8080']).config?.frontEndPriority, null);
    assert.match(refusal(['Listen 8080', 'WSGIFrontEndPriority -21']), /^WSGIFrontEndPriority: takes a nice value from -20 to 19, not "-21" \(line 2\)$/);
    assert.match(refusal(['Listen 8080', 'WSGIFrontEndPriority high']), /^WSGIFrontEndPriority: takes a nice value from -20 to 19, not "high" \(line 2\)$/);
    assert.match(refusal(['Listen 8080', 'WSGIFrontEndPriority 2.5']), /takes a nice value/);
    assert.match(refusal(['Listen 8080', '<VirtualHost *:8080>', 'WSGIFrontEndPriority 0', '</VirtualHost>']), /^WSGIFrontEndPriority: .*\(line 3\)$/);
  });

  it('WSGIFrontEndSchedulingPolicy takes batch or normal, at server level only', () => {
    assert.equal(load(['Listen 8080', 'WSGIFrontEndSchedulingPolicy Normal']).config?.frontEndSchedulingPolicy, 'normal');
    assert.equal(load(['Listen 8080', 'WSGIFrontEndSchedulingPolicy batch']).config?.frontEndSchedulingPolicy, 'batch');
    assert.equal(load(['Listen 8080']).config?.frontEndSchedulingPolicy, null);
    assert.match(refusal(['Listen 8080', 'WSGIFrontEndSchedulingPolicy fifo']), /^WSGIFrontEndSchedulingPolicy: takes batch or normal, not "fifo" \(line 2\)$/);
    assert.match(refusal(['Listen 8080', '<VirtualHost *:8080>', 'WSGIFrontEndSchedulingPolicy batch', '</VirtualHost>']), /^WSGIFrontEndSchedulingPolicy: .*\(line 3\)$/);
  });
});
