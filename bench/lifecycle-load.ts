/**
 * The lifecycle load test (a script, not a unit test): 32 keep-alive connections for 30 seconds
 * against a one-process group while maximum-requests recycles it every 200 requests, the WSGI
 * script is touched every 3 seconds and the server gets SIGHUP every 10 seconds; then the same
 * run without restarts. Reports failed requests, non-2xx answers and latency percentiles.
 *
 *   npm run load:lifecycle            (LOAD_SECONDS and LOAD_CONNECTIONS change the defaults)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const SECONDS = Number(process.env['LOAD_SECONDS'] ?? 30);
const CONNECTIONS = Number(process.env['LOAD_CONNECTIONS'] ?? 32);

const APP = `import os

def application(environ, start_response):
    body = b'hello from %d' % os.getpid()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
`;

interface RunResult {
  label: string;
  requests: number;
  failed: number;
  non2xx: number;
  processes: number;
  latenciesMs: number[];
  restarts: Record<string, number>;
}

async function startServer(dir: string, extra: string[]): Promise<{ child: ChildProcess; port: number; log: () => string }> {
  let stdout = '';
  let stderr = '';
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'bin', 'wsgi-host.js'), 'start-server', path.join(dir, 'app.wsgi'), '--host', '127.0.0.1', '--port', '0', '--processes', '1', '--threads', '5', '--log-to-terminal', '--log-level', 'info', '--server-root', path.join(dir, 'root'), ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 20_000;
  while (!/Server URL\s*: http:\/\/[^:]+:(\d+)/.test(stdout) || !/is ready with/.test(stderr)) {
    if (Date.now() > deadline) throw new Error(`server did not start:\n${stdout}\n${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, port: Number(/Server URL\s*: http:\/\/[^:]+:(\d+)/.exec(stdout)![1]), log: () => stderr };
}

async function load(port: number, seconds: number, during: (elapsed: number) => void): Promise<Omit<RunResult, 'label' | 'restarts'>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const latencies: number[] = [];
  const pids = new Set<string>();
  let failed = 0;
  let non2xx = 0;
  const started = Date.now();
  const end = started + seconds * 1000;
  const timer = setInterval(() => during(Date.now() - started), 100);
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const req = http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          latencies.push(performance.now() - t0);
          if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) non2xx++;
          else pids.add(body.split(' ').at(-1)!);
          resolve();
        });
        res.on('error', () => {
          failed++;
          resolve();
        });
      });
      req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        failed++;
        resolve();
      });
    });
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < end) await one();
    }),
  );
  clearInterval(timer);
  agent.destroy();
  return { requests: latencies.length + failed, failed, non2xx, processes: pids.size, latenciesMs: latencies };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function run(label: string, withRestarts: boolean): Promise<RunResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-lifecycle-load-'));
  fs.writeFileSync(path.join(dir, 'app.wsgi'), APP);
  const server = await startServer(dir, withRestarts ? ['--maximum-requests', '200'] : []);
  let nextTouch = 3000;
  let nextHup = 10_000;
  try {
    const result = await load(server.port, SECONDS, (elapsed) => {
      if (!withRestarts) return;
      if (elapsed >= nextTouch) {
        nextTouch += 3000;
        const now = new Date();
        fs.utimesSync(path.join(dir, 'app.wsgi'), now, now);
      }
      if (elapsed >= nextHup) {
        nextHup += 10_000;
        server.child.kill('SIGHUP');
      }
    });
    const restarts: Record<string, number> = {};
    for (const match of server.log().matchAll(/is being restarted \(reason: (\w+)\)/g)) restarts[match[1]!] = (restarts[match[1]!] ?? 0) + 1;
    return { label, ...result, restarts };
  } finally {
    server.child.kill('SIGTERM');
    await new Promise((r) => server.child.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  process.stdout.write(`lifecycle load test: ${CONNECTIONS} connections x ${SECONDS} s, one process x 5 threads\n`);
  const results = [await run('restarts: maximum-requests=200, touch every 3 s, SIGHUP every 10 s', true), await run('no restarts', false)];
  const rows = results.map((r) => {
    const sorted = [...r.latenciesMs].sort((a, b) => a - b);
    return {
      run: r.label,
      requests: r.requests,
      'req/s': Math.round(r.requests / SECONDS),
      failed: r.failed,
      non2xx: r.non2xx,
      processes: r.processes,
      'p50 ms': percentile(sorted, 50).toFixed(1),
      'p99 ms': percentile(sorted, 99).toFixed(1),
      'max ms': (sorted.at(-1) ?? 0).toFixed(1),
      restarts: Object.entries(r.restarts).map(([k, v]) => `${k} ${v}`).join(', ') || '-',
    };
  });
  console.table(rows);
  const failures = results.reduce((n, r) => n + r.failed + r.non2xx, 0);
  process.exitCode = failures === 0 ? 0 : 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
