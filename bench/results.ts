import type { Shape, WorkloadName } from './config';
import type { WrkRun } from './load/wrk';
import type { StopReport } from './servers/running-server';

/** One measured wrk run of one server in one round. */
export interface RoundResult {
  round: number;
  /** Position of the server in this round's order (the order rotates every round). */
  position: number;
  wrk: WrkRun;
  /** CPU ticks of the server's process tree used during the run. */
  cpuTicks: number;
  /** The same split by process name (e.g. node vs python3, apache2 vs the mod_wsgi daemons). */
  cpuTicksByCommand: Record<string, number>;
  /** Whether the server's root process was still alive after the run. */
  aliveAfter: boolean;
  /**
   * CPU ticks during the run of the whole machine (all cores), of wrk, and of everything else:
   * machine busy minus server, wrk and the bench itself. "other" is the noise from processes
   * outside the benchmark on a shared machine.
   */
  machine: { totalTicks: number; busyTicks: number; wrkTicks: number; otherTicks: number };
}

/** The server's process tree after the load. */
export interface ServerMemory {
  rssKb: number;
  pssKb: number;
  processes: number;
  /** Each process's RSS, by the name `cpuTicksByCommand` uses (absent in results from before it). */
  perProcess?: { name: string; rssKb: number }[];
}

/** Everything measured for one server on one workload; this is what .bench/*.json holds. */
export interface ServerResult {
  server: string;
  configuration: string;
  /** Not run: why (not installed, not applicable). */
  skipped: string | null;
  /** Started but could not be measured (start-up failed, died): why. */
  failed: string | null;
  command: string | null;
  files: { path: string; content: string }[];
  startSeconds: number | null;
  rounds: RoundResult[];
  /** The one-connection-per-thread pass that counts responses per connection. */
  perConnection: WrkRun | null;
  /** The start-up check's accepted body, for the record (truncated). */
  probeBody: string | null;
  /** A correct request after all the load: null when fine, else what went wrong. */
  probeAfterLoad: string | null;
  memory: ServerMemory | null;
  stop: StopReport | null;
  /** Lines in the server's logs (copied to the run's directory). */
  logLines: number;
  logCopy: string | null;
  notes: string[];
}

export interface WorkloadResult {
  workload: WorkloadName;
  description: string;
  shape: Shape;
  startedAt: string;
  finishedAt: string;
  servers: ServerResult[];
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memory: string;
  kernel: string;
  os: string;
  versions: Record<string, string>;
}

export interface RunResult {
  id: string;
  startedAt: string;
  finishedAt: string;
  settings: { rounds: number; seconds: number; fairnessSeconds: number; workloads: string[]; servers: string[]; warmupSeconds: number; wrkThreads: number; wrkTimeoutSeconds: number };
  machine: MachineInfo;
  clockTicksPerSecond: number;
  unavailable: { server: string; reason: string }[];
  workloads: WorkloadResult[];
}
