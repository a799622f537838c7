import type { Workload } from '../workloads';

/** Where and how one server instance runs for one workload. */
export interface LaunchContext {
  workload: Workload;
  port: number;
  /** A private, empty temporary directory for this instance's config, logs and sockets. */
  dir: string;
}

/** The exact process to start. */
export interface Launch {
  command: string;
  args: string[];
  /** Added to (or, as undefined, removed from) the bench's own environment. */
  env?: Record<string, string | undefined>;
  cwd: string;
  /** Config files the recipe wrote, reported verbatim in docs/benchmarks.md. */
  files: { path: string; content: string }[];
  /** The server's own log files (stdout/stderr are captured separately). */
  logs: string[];
  /** The signal that asks the server to stop (and take its workers with it). */
  stopSignal: NodeJS.Signals;
}

/** One peer server: how to tell whether it is installed, and how to start it. */
export interface ServerRecipe {
  /** Key for BENCH_SERVERS and the tables. */
  name: string;
  /** Whether it runs when BENCH_SERVERS is not set. */
  byDefault: boolean;
  /** null when it can run here, else why not (e.g. not installed). */
  unavailable(): string | null;
  /** null when it can run the workload, else why not. */
  skips(workload: Workload): string | null;
  /** How it maps processes x threads, for the docs. */
  describe(workload: Workload): string;
  launch(context: LaunchContext): Launch;
  version(): string;
  /** Something about this server that explains a number in the tables (shown with them). */
  caveat?: string;
}
