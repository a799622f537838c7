import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { START_TIMEOUT_MS, STOP_TIMEOUT_MS } from '../config';
import { probe, type ProbeResult } from '../load/probe';
import type { Workload } from '../workloads';
import { processGroup, processRssKb, processTree, stillAlive, treeCpuTicks, treeMemoryKb, type ProcStat } from './proc';
import type { ServerMemory } from '../results';
import type { Launch, ServerRecipe } from './recipe';

/** Asks the kernel for a free port. Another process could take it before the server binds it;
 *  on this machine that race has not been worth more machinery. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export interface StopReport {
  signal: NodeJS.Signals;
  /** How the root process ended. */
  exit: string;
  seconds: number;
  /** Whether it had to be killed with SIGKILL after STOP_TIMEOUT_MS. */
  killed: boolean;
  /** Processes of the server still alive after the root exited, which the bench then killed. */
  leftovers: string[];
}

const running = new Set<RunningServer>();

/** Kills whatever is still running when the bench itself ends (error, Ctrl-C): every server runs
 *  in its own process group, so this reaches its workers too. */
export function killAllSync(): void {
  for (const server of running) {
    try {
      process.kill(-server.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    server.removeDir();
  }
  running.clear();
}

/** argv[0]'s base name, which tells mod_wsgi's daemons ("(wsgi:bench)", from display-name)
 *  from the Apache children they are forked from; comm says apache2 for both. */
function processName(s: ProcStat): string {
  try {
    const argv0 = fs.readFileSync(`/proc/${s.pid}/cmdline`, 'latin1').split('\0')[0] ?? '';
    return argv0 !== '' ? path.basename(argv0.split(' ')[0]!) : s.comm;
  } catch {
    return s.comm;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A server process started from a recipe for one workload, with its whole process tree. */
export class RunningServer {
  private exitStatus: string | null = null;
  private readonly exited: Promise<void>;
  readonly startedAt = Date.now();

  private constructor(
    readonly recipe: ServerRecipe,
    readonly workload: Workload,
    readonly port: number,
    readonly dir: string,
    readonly launch: Launch,
    private readonly child: ChildProcess,
    readonly outputFile: string,
  ) {
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exitStatus = signal !== null ? `killed by ${signal}` : `exit code ${code}`;
        resolve();
      });
    });
    running.add(this);
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** null while running, else how it ended. */
  get exitedWith(): string | null {
    return this.exitStatus;
  }

  static async start(recipe: ServerRecipe, workload: Workload): Promise<RunningServer> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${recipe.name}-${workload.name}-`));
    // Apache's and mod_wsgi's workers run as www-data when the bench runs as root: they must be
    // able to reach the sockets and files in here.
    fs.chmodSync(dir, 0o755);
    const port = await freePort();
    const launch = recipe.launch({ workload, port, dir });
    const outputFile = path.join(dir, 'output.log');
    // A file, not a pipe: a server blocked on a full pipe nobody reads would skew the results.
    const out = fs.openSync(outputFile, 'a');
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const [k, v] of Object.entries(launch.env ?? {})) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    const child = spawn(launch.command, launch.args, { cwd: launch.cwd, env, stdio: ['ignore', out, out], detached: true });
    fs.closeSync(out);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    const server = new RunningServer(recipe, workload, port, dir, launch, child, outputFile);
    try {
      await server.waitReady();
    } catch (err) {
      // The error carries the log tail; nothing else in the directory is worth keeping.
      await server.stop();
      server.removeDir();
      throw err;
    }
    return server;
  }

  /** Polls with correct requests until one gets a correct answer: that is "ready". */
  private async waitReady(): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    let last: ProbeResult | null = null;
    while (Date.now() < deadline) {
      if (this.exitStatus !== null) throw new Error(`${this.recipe.name} ended during start-up (${this.exitStatus})\n${this.logTail()}`);
      last = await probe(this.port, this.workload, 5_000);
      if (last.problem === null) return;
      await sleep(200);
    }
    throw new Error(`${this.recipe.name} gave no correct answer within ${START_TIMEOUT_MS / 1000} s (last: ${last?.problem})\n${this.logTail()}`);
  }

  tree(): ProcStat[] {
    return processTree(this.pid);
  }

  cpuTicks(): number {
    return treeCpuTicks(this.tree());
  }

  /** CPU ticks per process of the tree, to split a round's CPU between front end and workers. */
  cpuSnapshot(): Map<string, { comm: string; ticks: number }> {
    return new Map(this.tree().map((s) => [`${s.pid}/${s.starttime}`, { comm: processName(s), ticks: treeCpuTicks([s]) }]));
  }

  memory(): ServerMemory {
    const tree = this.tree();
    const perProcess = tree.map((s) => ({ name: processName(s), rssKb: processRssKb(s.pid) }));
    return { ...treeMemoryKb(tree), processes: tree.length, perProcess };
  }

  /** Everything the server logged: its output and its own log files. */
  logText(): string {
    const parts: string[] = [];
    for (const file of [this.outputFile, ...this.launch.logs]) {
      try {
        const text = fs.readFileSync(file, 'utf8');
        if (text.length > 0) parts.push(`==> ${path.basename(file)} <==\n${text}`);
      } catch {
        // not written
      }
    }
    return parts.join('\n');
  }

  logTail(lines = 30): string {
    return this.logText().split('\n').slice(-lines).join('\n');
  }

  /**
   * Sends the recipe's stop signal, waits for the root process, and then makes sure nothing of
   * the server survives: anything left in its process group or tree is reported and killed.
   */
  async stop(): Promise<StopReport> {
    const started = Date.now();
    const signal = this.launch.stopSignal;
    // Remember who belongs to the server before they can be reparented away from the root.
    const members = new Map<number, ProcStat>();
    for (const s of [...this.tree(), ...processGroup(this.pid)]) members.set(s.pid, s);
    let killed = false;
    if (this.exitStatus === null) {
      try {
        this.child.kill(signal);
      } catch {
        // gone already
      }
      const timeout = sleep(STOP_TIMEOUT_MS).then(() => 'timeout' as const);
      if ((await Promise.race([this.exited.then(() => 'exited' as const), timeout])) === 'timeout') {
        killed = true;
        try {
          process.kill(-this.pid, 'SIGKILL');
        } catch {
          // gone already
        }
        await this.exited;
      }
    }
    // Workers get a moment to notice that their parent is gone.
    const leftovers: string[] = [];
    const deadline = Date.now() + 5_000;
    for (;;) {
      for (const s of processGroup(this.pid)) members.set(s.pid, s);
      const alive = [...members.values()].filter(stillAlive);
      if (alive.length === 0) break;
      if (Date.now() > deadline) {
        for (const s of alive) {
          leftovers.push(`${s.pid} (${s.comm})`);
          try {
            process.kill(s.pid, 'SIGKILL');
          } catch {
            // raced
          }
        }
        break;
      }
      await sleep(100);
    }
    running.delete(this);
    return { signal, exit: this.exitStatus ?? 'unknown', seconds: (Date.now() - started) / 1000, killed, leftovers };
  }

  removeDir(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
