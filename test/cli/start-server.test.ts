import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { START_SERVER_FLAGS } from '../../src/config/express';
import { app, CLI, request, ROOT, sleep, startServer } from '../helpers/server';

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** utime + stime of a process, in clock ticks (/proc/PID/stat). */
function processCpuTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('wsgi-host start-server', () => {
  it('prints the banner: URL, Python version and path, capacity, where the logs go', async () => {
    const server = await startServer([app('lifecycle.wsgi'), '--processes', '2', '--threads', '5', '--log-level', 'warn']);
    try {
      const banner = server.stdout;
      assert.match(banner, /Server URL\s*: http:\/\/127\.0\.0\.1:\d+\//);
      assert.match(banner, /Python\s*: 3\.\d+\.\d+ \(\/\S+python\S*\)/);
      assert.match(banner, /Request Capacity\s*: 10 \(2 processes x 5 threads\)/);
      assert.match(banner, /Error Log\s*: standard error \(level warn\)/);
      assert.match(banner, /Application\s*: .*lifecycle\.wsgi/);
    } finally {
      await server.stop();
    }
  });

  it('keeps serving, and stops on SIGTERM, when whoever read its terminal output has gone', async () => {
    const server = await startServer([app('lifecycle.wsgi'), '--access-log', '--log-level', 'info']);
    try {
      // The reader of its standard output and error goes away (a closed terminal, a dead pipe).
      server.child.stdout!.destroy();
      server.child.stderr!.destroy();
      for (let i = 0; i < 20; i++) assert.equal((await request(`${server.url}/order?tag=t${i}&seconds=0`)).status, 200);
      await sleep(300);
      const cpuBefore = processCpuTicks(server.child.pid!);
      await sleep(1000);
      assert.ok(processCpuTicks(server.child.pid!) - cpuBefore < 50, 'the front end is idle, not spinning on failed writes');
      const exited = new Promise<number | null>((resolve) => server.child.once('exit', (code) => resolve(code)));
      server.child.kill('SIGTERM');
      const code = await Promise.race([exited, sleep(15_000).then(() => 'still running' as const)]);
      assert.notEqual(code, 'still running', 'SIGTERM stops it');
    } finally {
      server.child.kill('SIGKILL');
      await server.stop();
    }
  });

  it('serves a built-in welcome page when no script is given', async () => {
    const server = await startServer([]);
    try {
      const res = await request(`${server.url}/`);
      assert.equal(res.status, 200);
      assert.match(res.text, /wsgi-host is running/);
      assert.match(res.headers['content-type'] as string, /text\/html/);
    } finally {
      await server.stop();
    }
  });

  it('--help lists every option', () => {
    const { status, stdout } = run(['start-server', '--help']);
    assert.equal(status, 0);
    for (const flag of ['--host', '--port', '--processes', '--threads', '--python', '--python-path', '--callable-object', '--mount-point', '--queue-timeout', '--socket-prefix', '--log-level', '--access-log', '--log-to-terminal', '--pass-authorization', '--chunked-request', '--server-status', '--server-metrics', '--slow-requests', '--trust-proxy-header', '--trust-proxy']) {
      assert.match(stdout, new RegExp(`^  ${flag}\\b`, 'm'), flag);
    }
  });

  it('--help says json is an --access-log-format', () => {
    assert.match(run(['start-server', '--help']).stdout, /--access-log-format FORMAT .*\bjson\b/);
  });

  it('rejects a --trust-proxy that is not an address or subnet, and a negative --slow-requests', () => {
    const proxy = run(['start-server', '--trust-proxy', 'proxy.example.com']);
    assert.equal(proxy.status, 2);
    assert.match(proxy.stderr, /--trust-proxy takes an IP address or subnet: "proxy\.example\.com" is not an IP address/);
    const slow = run(['start-server', '--slow-requests', '-1']);
    assert.equal(slow.status, 2);
    assert.match(slow.stderr, /--slow-requests/);
  });

  it('rejects a --front-end-scheduling-policy other than batch or normal', () => {
    const result = run(['start-server', '--front-end-scheduling-policy', 'fifo']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /--front-end-scheduling-policy must be batch or normal, not "fifo"/);
  });

  it('rejects a --front-end-priority that is not a nice value', () => {
    for (const value of ['-21', '20', 'high', '1.5']) {
      const result = run(['start-server', '--front-end-priority', value]);
      assert.equal(result.status, 2, value);
      assert.match(result.stderr, new RegExp(`--front-end-priority must be a nice value from -20 to 19, not "${value.replace('.', '\\.')}"`));
    }
  });

  it('--help and the README\'s options table list exactly the options the parser knows, with their defaults', () => {
    const { stdout } = run(['start-server', '--help']);
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const from = readme.indexOf('| Option |', readme.indexOf('### `start-server` options'));
    const rows = readme.slice(from, readme.indexOf('\n\n', from)).split('\n').slice(2);
    const documented = new Map<string, string>();
    for (const row of rows) {
      const cells = row.split(' | ');
      const name = /^\| `--([a-z-]+)/.exec(row)?.[1];
      if (name !== undefined) documented.set(name, cells[cells.length - 1]!.replace(/ \|$/, '').replace(/`/g, '').trim());
    }
    const known = START_SERVER_FLAGS.map((f) => f.name).filter((name) => name !== 'help');
    assert.deepEqual([...documented.keys()].sort(), [...known].sort(), 'README options table vs the flag table');
    for (const flag of START_SERVER_FLAGS) {
      assert.match(stdout, new RegExp(`^  --${flag.name}\\b`, 'm'), `--help shows --${flag.name}`);
      if (flag.defaultText !== undefined) assert.equal(documented.get(flag.name), flag.defaultText.replace(/`/g, ''), `README's default for --${flag.name}`);
    }
  });

  it('rejects an unknown option or a bad value with exit status 2 and a hint', () => {
    const unknown = run(['start-server', '--no-such-option']);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown option --no-such-option/);
    const bad = run(['start-server', '--threads', 'many']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--threads needs a whole number, not "many"/);
    const level = run(['start-server', '--log-level', 'loud']);
    assert.equal(level.status, 2);
    assert.match(level.stderr, /--log-level must be one of/);
    const policy = run(['start-server', '--scheduling-policy', 'fifo']);
    assert.equal(policy.status, 2);
    assert.match(policy.stderr, /--scheduling-policy must be batch or normal, not "fifo"/);
  });

  for (const [what, args, message] of [
    ['a script that does not exist', ['/no/such/app.wsgi'], /^wsgi-host: The WSGI script \/no\/such\/app\.wsgi does not exist; check the path/],
    ['a Python that cannot be found', [app('lifecycle.wsgi'), '--python', 'no-such-python3'], /^wsgi-host: Python interpreter 'no-such-python3' was not found; install Python 3\.9 or later/],
    ['a socket directory that cannot be created', [app('lifecycle.wsgi'), '--socket-prefix', '/etc/hostname/wsgi'], /^wsgi-host: Cannot create the socket directory.*Set --socket-prefix \(WSGISocketPrefix\) to a writable location\./],
  ] as const) {
    it(`fails at start-up with one line saying what to fix: ${what}`, async () => {
      const server = await startServer([...args], { expectFailure: true });
      const status = await server.waitForExit();
      assert.equal(status, 1);
      const lines = server.stderr.trim().split('\n');
      assert.equal(lines.length, 1, server.stderr);
      assert.match(lines[0]!, message);
      fs.rmSync(server.serverRoot, { recursive: true, force: true });
    });
  }

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`stops gracefully on ${signal}: running requests finish, no process or socket left behind`, async () => {
      const server = await startServer([app('lifecycle.wsgi'), '--processes', '2', '--threads', '2']);
      // Both processes serve once they are ready.
      const pids = new Set<number>();
      const deadline = Date.now() + 10_000;
      while (pids.size < 2 && Date.now() < deadline) pids.add(Number((await request(`${server.url}/pid`)).text));
      assert.equal(pids.size, 2);
      const sockets = fs.readdirSync(server.serverRoot).filter((e) => e.startsWith('wsgi-'));
      assert.equal(sockets.length, 1, 'one private socket directory');
      const socketDir = path.join(server.serverRoot, sockets[0]!);
      assert.equal(fs.statSync(socketDir).mode & 0o777, 0o700, 'only the server user may enter it');
      const running = request(`${server.url}/sleep?seconds=0.5&tag=inflight`);
      await sleep(100);
      server.child.kill(signal);
      const res = await running;
      assert.equal(res.status, 200);
      assert.equal(res.text, 'inflight slept 0.5');
      assert.equal(await server.waitForExit(), 0);
      for (const pid of pids) assert.equal(processExists(pid), false, `worker ${pid} is gone`);
      assert.equal(fs.existsSync(socketDir), false, 'socket directory removed');
      fs.rmSync(server.serverRoot, { recursive: true, force: true });
    });
  }

  it('removes socket directories left behind by a server that was killed', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-stale-'));
    const stale = path.join(root, 'wsgi-999999');
    fs.mkdirSync(stale);
    fs.writeFileSync(path.join(stale, 'g0.sock'), '');
    const server = await startServer([app('lifecycle.wsgi'), '--socket-prefix', path.join(root, 'wsgi')]);
    try {
      assert.equal(fs.existsSync(stale), false);
    } finally {
      await server.stop();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('keeps a connection open for any number of requests, as mod_wsgi-express on the event MPM; --keep-alive-timeout 0 turns keep-alive off', async () => {
    const server = await startServer([app('lifecycle.wsgi')]);
    try {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const sockets = new Set<unknown>();
      for (let i = 0; i < 130; i++) {
        const connection = await new Promise<string | undefined>((resolve, reject) => {
          const req = http.get(`${server.url}/`, { agent }, (res) => {
            sockets.add(req.socket);
            res.resume();
            res.on('end', () => resolve(res.headers.connection));
          });
          req.on('error', reject);
        });
        assert.notEqual(connection, 'close', `request ${i + 1} keeps the connection`);
      }
      assert.equal(sockets.size, 1, 'all 130 requests went over one connection (Apache\'s MaxKeepAliveRequests 100 would have closed it)');
      agent.destroy();
    } finally {
      await server.stop();
    }
    const closing = await startServer([app('lifecycle.wsgi'), '--keep-alive-timeout', '0']);
    try {
      const res = await request(`${closing.url}/`);
      assert.equal(res.headers.connection, 'close');
    } finally {
      await closing.stop();
    }
  });
});
