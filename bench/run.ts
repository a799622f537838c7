/**
 * `npm run bench`: runs every workload against every available server, interleaved round by
 * round, prints a table per workload, writes docs/benchmarks.md and keeps the raw results in
 * .bench/. Environment: BENCH_ROUNDS (5), BENCH_SECONDS (5), BENCH_FAIRNESS_SECONDS (= seconds,
 * 0 skips the per-connection pass), BENCH_ONLY=hello,flask,..., BENCH_SERVERS=wsgi-host,apache,...
 * (a name or a prefix: `gunicorn` means both workers; `uwsgi-http11`,
 * `wsgi-host-sched-normal`, `wsgi-host-priority-0` and `wsgi-host-fe-normal` are available but not run by default), BENCH_WRITE_DOCS=0 to keep docs/benchmarks.md as it is.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BenchConfigError, settingsFromEnv, WARMUP_SECONDS, WRK_THREADS, WRK_TIMEOUT_SECONDS, type Settings } from './config';
import { commandLine, writeDocs } from './docs';
import { probe } from './load/probe';
import { killWrkSync, runWrk, WRK, type WrkOptions } from './load/wrk';
import { machineInfo } from './machine';
import { DOCS_FILE, RESULTS_DIR } from './paths';
import { backgroundText, cpuSplitText, notesOf, rssSplitText, shapeText, textTable } from './report';
import type { RunResult, ServerResult, WorkloadResult } from './results';
import { selectRecipes } from './servers';
import { CLOCK_TICKS_PER_SECOND, machineTicks, selfTicks } from './servers/proc';
import type { ServerRecipe } from './servers/recipe';
import { killAllSync, RunningServer } from './servers/running-server';
import { runsWsgiHost, snapshotWsgiHost } from './servers/wsgi-host';
import { WORKLOADS, type Workload } from './workloads';

function log(message: string): void {
  process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function emptyResult(recipe: ServerRecipe, workload: Workload): ServerResult {
  return {
    server: recipe.name, configuration: recipe.describe(workload), skipped: null, failed: null, command: null, files: [],
    startSeconds: null, rounds: [], perConnection: null, probeBody: null, probeAfterLoad: null, memory: null, stop: null,
    logLines: 0, logCopy: null, notes: [],
  };
}

/** `[a, b, c]` rotated left by n: round 1 starts with the first server, round 2 with the second... */
function rotate<T>(items: T[], n: number): T[] {
  if (items.length === 0) return items;
  const k = n % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

interface Live {
  result: ServerResult;
  server: RunningServer;
  /** The body the start-up check accepted, which the per-connection pass expects. */
  accepted: Buffer;
}

async function runWorkload(workload: Workload, recipes: ServerRecipe[], settings: Settings, runDir: string, scriptDir: string): Promise<WorkloadResult> {
  const startedAt = new Date().toISOString();
  const results: ServerResult[] = [];
  const live: Live[] = [];
  const wrkBase = (server: RunningServer): Omit<WrkOptions, 'threads' | 'connections' | 'seconds' | 'perConnection'> => ({ port: server.port, workload, scriptDir });
  try {
    // Start every server (one after another, so start-ups do not compete) and keep them running.
    for (const recipe of recipes) {
      const result = emptyResult(recipe, workload);
      results.push(result);
      const skip = recipe.skips(workload);
      if (skip !== null) {
        result.skipped = skip;
        continue;
      }
      const t0 = Date.now();
      try {
        const server = await RunningServer.start(recipe, workload);
        result.startSeconds = (Date.now() - t0) / 1000;
        result.command = commandLine(server.launch.command, server.launch.args);
        result.files = server.launch.files;
        const check = await probe(server.port, workload);
        result.probeBody = check.body.subarray(0, 200).toString('latin1');
        live.push({ result, server, accepted: check.body });
        log(`${workload.name}: ${recipe.name} ready on port ${server.port} in ${result.startSeconds.toFixed(1)} s`);
      } catch (err) {
        result.failed = (err as Error).message;
        log(`${workload.name}: ${recipe.name} FAILED to start: ${result.failed}`);
      }
    }
    // Warm-up at full concurrency: imports the app in every worker (mod_wsgi and gunicorn load it
    // lazily or per worker), fills caches and connection pools.
    for (const { server } of live) {
      await runWrk({ ...wrkBase(server), threads: Math.min(WRK_THREADS, workload.connections), connections: workload.connections, seconds: WARMUP_SECONDS, perConnection: false });
    }
    for (let round = 1; round <= settings.rounds; round++) {
      const order = rotate(live, round - 1);
      for (const [position, { result, server }] of order.entries()) {
        if (server.exitedWith !== null) continue;
        const before = { server: server.cpuTicks(), processes: server.cpuSnapshot(), machine: machineTicks(), self: selfTicks() };
        const wrk = await runWrk({ ...wrkBase(server), threads: Math.min(WRK_THREADS, workload.connections), connections: workload.connections, seconds: settings.seconds, perConnection: false });
        const after = { server: server.cpuTicks(), processes: server.cpuSnapshot(), machine: machineTicks(), self: selfTicks() };
        const cpuTicksByCommand: Record<string, number> = {};
        for (const [key, p] of after.processes) cpuTicksByCommand[p.comm] = (cpuTicksByCommand[p.comm] ?? 0) + p.ticks - (before.processes.get(key)?.ticks ?? 0);
        const cpuTicks = after.server - before.server;
        const wrkTicks = after.self.children - before.self.children;
        const busyTicks = after.machine.busy - before.machine.busy;
        const totalTicks = after.machine.total - before.machine.total;
        const otherTicks = Math.max(0, busyTicks - cpuTicks - wrkTicks - (after.self.own - before.self.own));
        const aliveAfter = server.exitedWith === null;
        result.rounds.push({ round, position, wrk, cpuTicks, cpuTicksByCommand, aliveAfter, machine: { totalTicks, busyTicks, wrkTicks, otherTicks } });
        const s = wrk.summary;
        const rps = s !== null ? ((s.requests - s.errors.status) / (s.durationUs / 1e6)).toFixed(0) : 'n/a';
        const errs = s !== null ? s.errors.status + s.errors.connect + s.errors.read + s.errors.write + s.errors.timeout : 0;
        const pct = (ticks: number): string => `${totalTicks > 0 ? Math.round((100 * ticks) / totalTicks) : 0}%`;
        log(`${workload.name} round ${round}/${settings.rounds}: ${result.server.padEnd(16)} ${rps.padStart(7)} req/s  cpu: server ${pct(cpuTicks)} wrk ${pct(wrkTicks)} other ${pct(otherTicks)}${errs > 0 ? `  (${errs} errors)` : ''}${wrk.failure !== null ? `  wrk: ${wrk.failure}` : ''}${aliveAfter ? '' : `  SERVER EXITED (${server.exitedWith})`}`);
      }
    }
    if (settings.fairnessSeconds > 0) {
      for (const { result, server, accepted } of live) {
        if (server.exitedWith !== null) continue;
        result.perConnection = await runWrk({
          ...wrkBase(server), threads: workload.connections, connections: workload.connections, seconds: settings.fairnessSeconds, perConnection: true, acceptedBody: accepted,
        });
        const served = result.perConnection.summary?.served ?? [];
        log(`${workload.name} per-connection pass: ${result.server.padEnd(16)} min ${served.length > 0 ? Math.min(...served) : 'n/a'} / max ${served.length > 0 ? Math.max(...served) : 'n/a'} responses on one connection`);
      }
    }
    for (const { result, server } of live) {
      if (server.exitedWith !== null) {
        result.notes.push(`the server exited during the run (${server.exitedWith})`);
        continue;
      }
      const after = await probe(server.port, workload);
      result.probeAfterLoad = after.problem;
      result.memory = server.memory();
    }
  } finally {
    // Stop everything, whatever happened above, and keep the logs.
    for (const { result, server } of live) {
      result.stop = await server.stop();
      const text = server.logText();
      result.logLines = text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('==> ')).length;
      result.logCopy = path.join(runDir, 'logs', `${workload.name}-${result.server}.log`);
      fs.mkdirSync(path.dirname(result.logCopy), { recursive: true });
      fs.writeFileSync(result.logCopy, text);
      server.removeDir();
      const leftovers = result.stop.leftovers.length > 0 ? `; LEFT OVER: ${result.stop.leftovers.join(', ')}` : '';
      log(`${workload.name}: ${result.server} stopped (${result.stop.exit}, ${result.stop.seconds.toFixed(1)} s${result.stop.killed ? ', KILLED' : ''}${leftovers})`);
    }
  }
  return { workload: workload.name, description: workload.description, shape: { processes: workload.processes, threads: workload.threads, connections: workload.connections }, startedAt, finishedAt: new Date().toISOString(), servers: results };
}

/** The wrk scripts' directory, removed on exit even when the bench is interrupted. */
let scriptDirToRemove: string | null = null;

async function main(): Promise<number> {
  const settings = settingsFromEnv(process.env);
  if (!fs.existsSync(WRK)) throw new BenchConfigError(`${WRK} not found (apt install wrk)`);
  const requested = selectRecipes(settings.servers);
  const unavailable = requested.flatMap((r) => {
    const reason = r.unavailable();
    return reason === null ? [] : [{ server: r.name, reason }];
  });
  for (const u of unavailable) log(`skipping ${u.server}: ${u.reason}`);
  const recipes = requested.filter((r) => r.unavailable() === null);

  const startedAt = new Date();
  const id = startedAt.toISOString().replace(/[:.]/g, '-');
  const runDir = path.join(RESULTS_DIR, id);
  fs.mkdirSync(runDir, { recursive: true });
  const scriptDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-wrk-'));
  scriptDirToRemove = scriptDir;
  if (recipes.some(runsWsgiHost)) snapshotWsgiHost(path.join(runDir, 'wsgi-host'));
  const run: RunResult = {
    id,
    startedAt: startedAt.toISOString(),
    finishedAt: '',
    settings: {
      rounds: settings.rounds, seconds: settings.seconds, fairnessSeconds: settings.fairnessSeconds, workloads: settings.workloads,
      servers: recipes.map((r) => r.name), warmupSeconds: WARMUP_SECONDS, wrkThreads: WRK_THREADS, wrkTimeoutSeconds: WRK_TIMEOUT_SECONDS,
    },
    machine: machineInfo(requested),
    clockTicksPerSecond: CLOCK_TICKS_PER_SECOND,
    unavailable,
    workloads: [],
  };
  const rawFile = path.join(runDir, 'results.json');
  const save = (): void => fs.writeFileSync(rawFile, JSON.stringify(run, null, 2));
  log(`run ${id}: ${settings.rounds} rounds x ${settings.seconds} s; workloads ${settings.workloads.join(', ')}; servers ${recipes.map((r) => r.name).join(', ')}`);
  try {
    for (const name of settings.workloads) {
      const workload = WORKLOADS[name];
      const result = await runWorkload(workload, recipes, settings, runDir, scriptDir);
      run.workloads.push(result);
      save();
      process.stdout.write(`\n== ${name}: ${workload.description}; ${shapeText(workload)} ==\n`);
      process.stdout.write(`${backgroundText(result)}\n${cpuSplitText(result)}\n${rssSplitText(result)}\n`);
      process.stdout.write(textTable(result, CLOCK_TICKS_PER_SECOND) + '\n');
      for (const srv of result.servers) for (const note of notesOf(srv)) process.stdout.write(`  note: ${srv.server}: ${note}\n`);
      for (const srv of result.servers) {
        const caveat = recipes.find((r) => r.name === srv.server)?.caveat;
        if (caveat !== undefined && srv.rounds.length > 0) process.stdout.write(`  note: ${srv.server}: ${caveat}\n`);
      }
      process.stdout.write('\n');
    }
  } finally {
    run.finishedAt = new Date().toISOString();
    save();
    fs.rmSync(scriptDir, { recursive: true, force: true });
  }
  // BENCH_WRITE_DOCS=0: exploratory runs that should not replace the published results.
  if (process.env['BENCH_WRITE_DOCS'] !== '0') {
    writeDocs(run, rawFile);
    log(`wrote ${rawFile} and ${DOCS_FILE}`);
  } else {
    log(`wrote ${rawFile} (BENCH_WRITE_DOCS=0: ${DOCS_FILE} left alone)`);
  }
  return 0;
}

// Ctrl-C or a kill of the bench must not leave servers behind.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    killWrkSync();
    killAllSync();
    fs.rmSync(scriptDirToRemove ?? '', { recursive: true, force: true });
    process.exit(130);
  });
}
process.on('exit', killAllSync);

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof BenchConfigError ? err.message : ((err as Error).stack ?? String(err))}\n`);
    process.exit(1);
  },
);
