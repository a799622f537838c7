/**
 * Application groups, measured (a script, not a unit test): the resident memory of a daemon
 * process serving a Flask application in 1, 2 and 4 interpreters (the main one plus
 * sub-interpreters, or with application-groups=processes, processes of their own), and the CPU
 * time a hello-world request costs in the main interpreter, in a sub-interpreter and in a process
 * of its own, measured under ab.
 *
 *   npm run bench:app-groups        (BENCH_REQUESTS: requests per run, default 20000; BENCH_PYTHON: the
 *                                    interpreter, default /usr/bin/python3; BENCH_BASELINE: another
 *                                    wsgi-host checkout whose %{GLOBAL} figure is measured alongside)
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const PYTHON = process.env['BENCH_PYTHON'] ?? '/usr/bin/python3';
const REQUESTS = Number(process.env['BENCH_REQUESTS'] ?? 20000);
const BASELINE = process.env['BENCH_BASELINE'];
const PAGE = 4096;

/** The Flask test application, or a hello world (the cost of an interpreter itself), with a route saying which process serves it. */
const wrapper = (flask: boolean): string => `import os, sys
${flask ? `sys.path.insert(0, ${JSON.stringify(path.join(ROOT, 'test', 'apps', 'flask_app'))})
from app import app as inner` : `def inner(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'hello']`}

def application(environ, start_response):
    if environ['PATH_INFO'] == '/__pid':
        body = str(os.getpid()).encode()
        start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
        return [body]
    return inner(environ, start_response)
`;

interface Server {
  child: ChildProcess;
  port: number;
  dir: string;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const port = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(port));
    });
  });
}

async function serve(root: string, groupOptions: string, mounts: string): Promise<Server> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-bench-appgroups-'));
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'flask.wsgi'), wrapper(true));
  fs.writeFileSync(path.join(dir, 'small.wsgi'), wrapper(false));
  fs.writeFileSync(path.join(dir, 'hello.wsgi'), fs.readFileSync(path.join(ROOT, 'bench', 'apps', 'hello.py')));
  const config = `Listen 127.0.0.1:${port}
ServerName localhost
ErrorLog ${dir}/error_log
LogLevel warn
WSGIDaemonProcess bench processes=1 threads=5 python-executable=${PYTHON} ${groupOptions}
WSGIProcessGroup bench
${mounts.replaceAll('{{DIR}}', dir)}
`;
  fs.writeFileSync(path.join(dir, 'httpd.conf'), config);
  const child = spawn(process.execPath, [path.join(root, 'bin', 'wsgi-host.js'), 'serve', '-f', path.join(dir, 'httpd.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', () => {});
  const deadline = Date.now() + 20_000;
  while (!/Listening/.test(stdout)) {
    if (Date.now() > deadline) throw new Error(`server did not start:\n${stdout}`);
    await sleep(50);
  }
  // The daemon process is ready once it answers.
  while ((await get(port, '/ready').catch(() => ({ status: 0 }))).status === 0) await sleep(50);
  return { child, port, dir };
}

async function stop(server: Server): Promise<void> {
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
  fs.rmSync(server.dir, { recursive: true, force: true });
}

function get(port: number, urlPath: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      })
      .on('error', reject);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function rssMiB(pids: Iterable<number>): number {
  let pages = 0;
  for (const pid of pids) pages += Number(fs.readFileSync(`/proc/${pid}/statm`, 'latin1').split(' ')[1]);
  return (pages * PAGE) / 1024 / 1024;
}

/** Loads the Flask application in `mount` (its interpreter is created on this first request) and returns the pid serving it. */
async function load(port: number, mount: string): Promise<number> {
  for (let i = 0; i < 20; i++) await get(port, `${mount}/hello/world`);
  return Number((await get(port, `${mount}/__pid`)).text);
}

async function memory(mode: string, script: string): Promise<number[]> {
  const mounts = [`WSGIScriptAlias /i0 {{DIR}}/${script} application-group=%{GLOBAL}`, ...[1, 2, 3].map((n) => `WSGIScriptAlias /i${n} {{DIR}}/${script}`)].join('\n');
  const server = await serve(ROOT, mode === 'processes' ? 'application-groups=processes' : '', `${mounts}\nWSGIScriptAlias /ready {{DIR}}/hello.wsgi application-group=%{GLOBAL}`);
  try {
    const pids = new Set<number>();
    const figures: number[] = [];
    await sleep(500);
    // The one daemon process: the front end's only child (its title replaces the command line).
    const main = Number(execFileSync('pgrep', ['-P', String(server.child.pid)]).toString().trim().split('\n')[0]);
    figures.push(rssMiB([main]));
    for (const n of [0, 1, 2, 3]) {
      pids.add(await load(server.port, `/i${n}`));
      if (n === 0 || n === 1 || n === 3) {
        await sleep(300);
        figures.push(rssMiB(new Set([main, ...pids])));
      }
    }
    return figures;
  } finally {
    await stop(server);
  }
}

interface Cost {
  /** CPU time per request, in microseconds: the daemon process (and its application groups' processes), and the front end. */
  workerUs: number;
  frontEndUs: number;
  rps: number;
}

const CLOCK_TICK_US = 1e6 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

function cpuTicks(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

/** The daemon processes under the front end, and their own children (application groups' processes). */
function workerPids(frontEnd: number): number[] {
  const children = (pid: number): number[] => {
    try {
      return execFileSync('pgrep', ['-P', String(pid)]).toString().trim().split('\n').map(Number);
    } catch {
      return [];
    }
  };
  return children(frontEnd).flatMap((pid) => [pid, ...children(pid)]);
}

/**
 * CPU time per request rather than requests per second: on a shared, noisy machine the time
 * the processes spent is steady where the wall clock is not. ab -k -c8, best of three runs.
 */
function cost(server: Server, urlPath: string, requests: number): Cost {
  const frontEnd = server.child.pid!;
  const workers = workerPids(frontEnd);
  let best: Cost | null = null;
  for (let run = 0; run < 3; run++) {
    const w0 = workers.reduce((n, pid) => n + cpuTicks(pid), 0);
    const f0 = cpuTicks(frontEnd);
    const out = execFileSync('ab', ['-q', '-k', '-n', String(requests), '-c', '8', `http://127.0.0.1:${server.port}${urlPath}`]).toString();
    const w1 = workers.reduce((n, pid) => n + cpuTicks(pid), 0);
    const f1 = cpuTicks(frontEnd);
    const c: Cost = { workerUs: ((w1 - w0) * CLOCK_TICK_US) / requests, frontEndUs: ((f1 - f0) * CLOCK_TICK_US) / requests, rps: Number(/Requests per second:\s+([\d.]+)/.exec(out)![1]) };
    if (best === null || c.workerUs + c.frontEndUs < best.workerUs + best.frontEndUs) best = c;
  }
  return best!;
}

async function measure(root: string, groupOptions: string, urlPath: string): Promise<Cost> {
  const mounts = 'WSGIScriptAlias /g {{DIR}}/hello.wsgi application-group=%{GLOBAL}\nWSGIScriptAlias /s {{DIR}}/hello.wsgi\nWSGIScriptAlias /ready {{DIR}}/hello.wsgi application-group=%{GLOBAL}';
  const server = await serve(root, groupOptions, mounts);
  try {
    for (let i = 0; i < 50; i++) await get(server.port, urlPath);
    await sleep(300);
    cost(server, urlPath, 2000); // warm-up
    return cost(server, urlPath, REQUESTS);
  } finally {
    await stop(server);
  }
}

async function main(): Promise<void> {
  const version = execFileSync(PYTHON, ['-c', 'import sys; print(sys.version.split()[0])']).toString().trim();
  console.log(`Python ${version} (${PYTHON}), ${os.cpus().length} CPUs\n`);
  console.log('Resident memory of a daemon process (MiB; with application-groups=processes, the sum over its processes):\n');
  console.log('| application | application groups run in | before the first request | 1 interpreter | 2 | 4 |');
  console.log('|---|---|---|---|---|---|');
  for (const [label, script] of [['hello world', 'small.wsgi'], ['Flask', 'flask.wsgi']] as const) {
    for (const mode of ['sub-interpreters', 'processes']) {
      const [empty, one, two, four] = await memory(mode, script);
      console.log(`| ${label} | ${mode} | ${empty!.toFixed(1)} | ${one!.toFixed(1)} | ${two!.toFixed(1)} | ${four!.toFixed(1)} |`);
    }
  }
  console.log(`\nHello world, ${REQUESTS} requests (ab -k -c8), CPU time per request (best of three runs):\n`);
  console.log('| where the application runs | daemon process µs | front end µs | requests/s (noisy) |');
  console.log('|---|---|---|---|');
  const rows: [string, string, string, string][] = [
    ['main interpreter (%{GLOBAL})', ROOT, '', '/g/'],
    ['sub-interpreter (%{RESOURCE})', ROOT, '', '/s/'],
    ['process of its own (application-groups=processes)', ROOT, 'application-groups=processes', '/s/'],
  ];
  if (BASELINE !== undefined) rows.unshift(['main interpreter, baseline checkout', BASELINE, '', '/g/']);
  for (const [label, root, options, urlPath] of rows) {
    const c = await measure(root, options, urlPath);
    console.log(`| ${label} | ${c.workerUs.toFixed(0)} | ${c.frontEndUs.toFixed(0)} | ${Math.round(c.rps)} |`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
