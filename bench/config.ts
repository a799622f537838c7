/** The fixed parameters of the benchmark and the environment variables that adjust a run. */

/** A mistake in the environment variables or the machine set-up: reported without a stack. */
export class BenchConfigError extends Error {}

export type WorkloadName = 'hello' | 'flask' | 'io' | 'download' | 'file' | 'upload';

/** Processes x threads of every server and wrk connections, per workload. */
export interface Shape {
  processes: number;
  threads: number;
  connections: number;
}

// CPU-bound workloads get one thread per process (the GIL makes more threads pointless and it is
// the configuration every peer supports); io gets threads because it waits; the byte-moving
// workloads use few connections since each request is 1 MiB.
export const SHAPES: Record<WorkloadName, Shape> = {
  hello: { processes: 2, threads: 1, connections: 32 },
  flask: { processes: 2, threads: 1, connections: 32 },
  io: { processes: 2, threads: 8, connections: 64 },
  download: { processes: 2, threads: 1, connections: 8 },
  file: { processes: 2, threads: 1, connections: 8 },
  upload: { processes: 2, threads: 1, connections: 8 },
};

export const WORKLOAD_ORDER: WorkloadName[] = ['hello', 'flask', 'io', 'download', 'file', 'upload'];

/** wrk threads for measured rounds: the machine has 2 cores, more client threads only contend. */
export const WRK_THREADS = 2;
/** Seconds of load after a server starts, so every worker has imported the app and warmed up. */
export const WARMUP_SECONDS = 1;
/** wrk's default 2 s timeout would count slow-but-served requests (gunicorn sync on io) as errors. */
export const WRK_TIMEOUT_SECONDS = 10;
/** How long a server may take to answer its first request correctly. */
export const START_TIMEOUT_MS = 60_000;
/** How long a server may take to exit after its stop signal before it is killed. */
export const STOP_TIMEOUT_MS = 30_000;

export interface Settings {
  rounds: number;
  seconds: number;
  /** Duration of the per-connection pass after the rounds; 0 skips it. */
  fairnessSeconds: number;
  /** Workloads to run (BENCH_ONLY), in the canonical order. */
  workloads: WorkloadName[];
  /** Server names requested with BENCH_SERVERS, or null for the default set. */
  servers: string[] | null;
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number, allowZero = false): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < (allowZero ? 0 : 1)) throw new BenchConfigError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, not '${raw}'`);
  return value;
}

function list(env: NodeJS.ProcessEnv, name: string): string[] | null {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return null;
  return raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

export function settingsFromEnv(env: NodeJS.ProcessEnv): Settings {
  const seconds = positiveInt(env, 'BENCH_SECONDS', 5);
  const only = list(env, 'BENCH_ONLY');
  if (only !== null) {
    const unknown = only.filter((n) => !(WORKLOAD_ORDER as string[]).includes(n));
    if (unknown.length > 0) throw new BenchConfigError(`BENCH_ONLY: unknown workload ${unknown.join(', ')} (known: ${WORKLOAD_ORDER.join(', ')})`);
  }
  return {
    rounds: positiveInt(env, 'BENCH_ROUNDS', 5),
    seconds,
    fairnessSeconds: positiveInt(env, 'BENCH_FAIRNESS_SECONDS', seconds, true),
    workloads: only === null ? WORKLOAD_ORDER : WORKLOAD_ORDER.filter((n) => only.includes(n)),
    servers: list(env, 'BENCH_SERVERS'),
  };
}
