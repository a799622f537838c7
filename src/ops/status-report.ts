/**
 * What the status page shows, read from the supervisor's real state: the process groups, their
 * processes and each thread, the queues, recent restarts, and the request statistics. The same
 * snapshot is rendered as JSON (?json), as mod_status's machine format (?auto) and as HTML.
 */
import * as os from 'node:os';
import type { ProcessGroup } from '../groups/process-group';
import type { WorkerProcess } from '../groups/worker-process';
import type { HistoryColumns, SecondSeries, Totals, WindowSummary } from './request-stats';
import { newSpaceBytes, youngGenerationCap } from '../util/young-generation-cap';
import { frontEndBodyBudget } from '../front/body-budget';
import { requestHeadReuses } from '../front/environ';

/** The server as the status report sees it. */
export interface StatusSource {
  readonly serverName: string;
  readonly software: string;
  readonly groups: ReadonlyMap<string, ProcessGroup>;
  readonly addresses: { host: string; port: number }[];
  readonly activeRequests: number;
  /** Open client connections (mod_status's ConnsTotal). */
  connectionCount(): Promise<number>;
}

/** The request statistics the report reads. */
export interface StatsSource {
  readonly startedAt: number;
  /** 1, plus one per configuration reload (mod_status's ParentServerConfigGeneration). */
  readonly generation: number;
  readonly series: SecondSeries;
  readonly totals: Totals;
  groupSeries(name: string): SecondSeries | null;
  groupTotals(name: string): Totals | null;
}

/** Thread states, with mod_status's scoreboard letters. */
export type ThreadState = 'idle' | 'reading' | 'running' | 'finishing' | 'starting' | 'closed';
export const SCOREBOARD_KEYS: Record<ThreadState, string> = {
  idle: '_',
  reading: 'R',
  running: 'W',
  finishing: 'G',
  starting: 'S',
  closed: '.',
};

export interface ThreadSnapshot {
  /** 1-based, as the error log numbers threads. */
  index: number;
  tid: number | null;
  state: ThreadState;
  method?: string;
  url?: string;
  client?: string;
  requestId?: string;
  /** How long the request has had the thread. */
  seconds?: number;
}

export interface ProcessSnapshot {
  pid: number;
  /** Which of the group's processes (1-based, kept across restarts). */
  number: number;
  state: 'starting' | 'ready' | 'draining' | 'exited';
  /** Why it is being replaced, if it is. */
  retiring: string | null;
  startedAt: string;
  ageSeconds: number;
  requests: number;
  rssBytes: number;
  threads: ThreadSnapshot[];
}

export interface GroupSnapshot {
  name: string;
  configuredProcesses: number;
  threadsPerProcess: number;
  capacity: number;
  queueLength: number;
  queueTimeoutSeconds: number;
  /** Requests sent to a busy thread to run right after its current one, since the group started. */
  sentAhead: number;
  /** Large response pieces sent to clients straight from workers' memory, and copied first, since the group started. */
  responsePiecesLent: number;
  responsePiecesCopied: number;
  /** Responses whose client fell response-buffer-size behind, so the rest went to a spool file, since the group started. */
  responsesSpooled: number;
  /** Bytes of wsgi.file_wrapper files the front end sent (WSGIEnableSendfile) by sendfile(2), and read and written, since the group started. */
  fileBytesBySendfile: number;
  fileBytesCopied: number;
  /** Requests whose socket-timeout or request-timeout the front end watches now: never more than are running. */
  deadlinesWatched: number;
  busy: number;
  idle: number;
  scoreboard: string;
  accesses: number;
  recent: WindowSummary | null;
  history: HistoryColumns | null;
  restartCount: number;
  restarts: { at: string; pid: number; reason: string }[];
  processes: ProcessSnapshot[];
}

export interface StatusSnapshot {
  server: {
    name: string;
    software: string;
    pid: number;
    title: string;
    startedAt: string;
    currentTime: string;
    uptimeSeconds: number;
    generation: number;
    listeners: string[];
    loadAverage: number[];
    cpuUserSeconds: number;
    cpuSystemSeconds: number;
    rssBytes: number;
    /** The front end's V8 young generation, and the size it is kept at (0: V8's own sizing). */
    newSpaceBytes: number;
    newSpaceCapBytes: number;
    /** Request heads built in a recycled buffer (src/front/environ.ts) since the start. */
    requestHeadsReused: number;
    /**
     * Request bodies read whole and not yet dispatched (src/front/body-budget.ts): their bytes,
     * the budget, the bodies paused now until it frees, the pauses since the start, and the
     * bodies moved to a spool file instead (chunked ones, or sent after 100 Continue).
     */
    bodiesHeld: { bytes: number; limitBytes: number; pausedNow: number; pausesTotal: number; spillsTotal: number };
    connections: number;
    activeRequests: number;
  };
  totals: { accesses: number; kBytes: number; durationMs: number; reqPerSec: number; bytesPerSec: number; bytesPerReq: number; durationPerReqMs: number };
  /** The last minute. */
  recent: WindowSummary;
  /** Per second, the last five minutes. */
  history: HistoryColumns;
  workers: { busy: number; idle: number; graceful: number; starting: number; processes: number; stopping: number; queued: number };
  scoreboard: string;
  groups: GroupSnapshot[];
}

const RECENT_SECONDS = 60;
const HISTORY_WINDOW_SECONDS = 300;
const RESTARTS_SHOWN = 20;

export async function buildSnapshot(source: StatusSource, stats: StatsSource): Promise<StatusSnapshot> {
  const now = Date.now();
  const nowSecond = Math.floor(now / 1000);
  const perfNow = performance.now();
  const groups = [...source.groups.values()].map((group) => groupSnapshot(group, stats, now, nowSecond, perfNow));
  const workers = { busy: 0, idle: 0, graceful: 0, starting: 0, processes: 0, stopping: 0, queued: 0 };
  for (const group of groups) {
    workers.queued += group.queueLength;
    for (const proc of group.processes) {
      workers.processes++;
      if (proc.state === 'draining') workers.stopping++;
      for (const thread of proc.threads) {
        if (thread.state === 'idle') workers.idle++;
        else if (thread.state === 'starting') workers.starting++;
        else if (thread.state === 'finishing') {
          workers.graceful++;
          workers.busy++;
        } else if (thread.state !== 'closed') workers.busy++;
      }
    }
  }
  const uptime = Math.max(0, Math.floor((now - stats.startedAt) / 1000));
  const totals = stats.totals;
  const cpu = process.cpuUsage();
  return {
    server: {
      name: source.serverName,
      software: source.software,
      pid: process.pid,
      title: process.title,
      startedAt: new Date(stats.startedAt).toISOString(),
      currentTime: new Date(now).toISOString(),
      uptimeSeconds: uptime,
      generation: stats.generation,
      listeners: source.addresses.map((a) => (a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`)),
      loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
      cpuUserSeconds: cpu.user / 1e6,
      cpuSystemSeconds: cpu.system / 1e6,
      rssBytes: process.memoryUsage.rss(),
      newSpaceBytes: newSpaceBytes(),
      newSpaceCapBytes: youngGenerationCap(),
      requestHeadsReused: requestHeadReuses(),
      bodiesHeld: {
        bytes: frontEndBodyBudget.heldBytes,
        limitBytes: frontEndBodyBudget.limitBytes,
        pausedNow: frontEndBodyBudget.pausedNow,
        pausesTotal: frontEndBodyBudget.pausesTotal,
        spillsTotal: frontEndBodyBudget.spillsTotal,
      },
      connections: await source.connectionCount(),
      activeRequests: source.activeRequests,
    },
    totals: {
      accesses: totals.accesses,
      kBytes: Math.floor(totals.bytes / 1024),
      durationMs: Math.round(totals.durationMs),
      reqPerSec: uptime > 0 ? totals.accesses / uptime : 0,
      bytesPerSec: uptime > 0 ? totals.bytes / uptime : 0,
      bytesPerReq: totals.accesses > 0 ? totals.bytes / totals.accesses : 0,
      durationPerReqMs: totals.accesses > 0 ? totals.durationMs / totals.accesses : 0,
    },
    recent: stats.series.summary(nowSecond, RECENT_SECONDS),
    history: stats.series.columns(nowSecond, HISTORY_WINDOW_SECONDS),
    workers,
    scoreboard: groups.map((g) => g.scoreboard).join(''),
    groups,
  };
}

function groupSnapshot(group: ProcessGroup, stats: StatsSource, now: number, nowSecond: number, perfNow: number): GroupSnapshot {
  const cfg = group.config;
  const processes = group.workers.map((proc) => processSnapshot(proc, cfg.threads, now, perfNow));
  let busy = 0;
  let idle = 0;
  let scoreboard = '';
  for (const proc of processes) {
    for (const thread of proc.threads) {
      scoreboard += SCOREBOARD_KEYS[thread.state];
      if (thread.state === 'idle') idle++;
      else if (thread.state === 'reading' || thread.state === 'running' || thread.state === 'finishing') busy++;
    }
  }
  // Numbers the configuration has but no live process holds yet (a restart under way) are open slots.
  const missing = cfg.processes - processes.filter((p) => p.state !== 'draining' && p.retiring === null).length;
  if (missing > 0) scoreboard += '.'.repeat(missing * cfg.threads);
  const series = stats.groupSeries(cfg.name);
  let restartCount = 0;
  for (const count of group.restartTotals.values()) restartCount += count;
  return {
    name: cfg.name,
    configuredProcesses: cfg.processes,
    threadsPerProcess: cfg.threads,
    capacity: cfg.processes * cfg.threads,
    queueLength: group.queuedRequests,
    queueTimeoutSeconds: cfg.queueTimeout,
    sentAhead: group.dispatcher.sentAhead,
    responsePiecesLent: group.responseCounts.lent,
    responsePiecesCopied: group.responseCounts.copied,
    responsesSpooled: group.responseCounts.spooled,
    fileBytesBySendfile: group.responseCounts.fileBytesSendfile,
    fileBytesCopied: group.responseCounts.fileBytesCopied,
    deadlinesWatched: group.deadlines.size,
    busy,
    idle,
    scoreboard,
    accesses: stats.groupTotals(cfg.name)?.accesses ?? 0,
    recent: series?.summary(nowSecond, RECENT_SECONDS) ?? null,
    history: series?.columns(nowSecond, HISTORY_WINDOW_SECONDS) ?? null,
    restartCount,
    restarts: group.restarts
      .slice(-RESTARTS_SHOWN)
      .reverse()
      .map((r) => ({ at: new Date(r.at).toISOString(), pid: r.pid, reason: r.reason })),
    processes,
  };
}

function processSnapshot(proc: WorkerProcess, threads: number, now: number, perfNow: number): ProcessSnapshot {
  const slots = proc.threadSlots;
  const byIndex = new Map(slots.map((s) => [s.thread, s]));
  const out: ThreadSnapshot[] = [];
  for (let i = 0; i < threads; i++) {
    const slot = byIndex.get(i);
    const base = { index: i + 1, tid: slot?.tid ?? null };
    if (proc.state === 'starting') {
      out.push({ ...base, state: 'starting' });
      continue;
    }
    if (slot === undefined || slot.closed) {
      out.push({ ...base, state: 'closed' });
      continue;
    }
    const tenant = slot.occupant;
    if (tenant === null) {
      out.push({ ...base, state: proc.state === 'ready' ? 'idle' : 'closed' });
      continue;
    }
    const activity = tenant.activity?.();
    const state: ThreadState = proc.state !== 'ready' ? 'finishing' : activity?.reading === true ? 'reading' : 'running';
    if (activity === undefined) {
      out.push({ ...base, state });
      continue;
    }
    out.push({
      ...base,
      state,
      method: activity.method,
      url: activity.url,
      client: activity.client,
      requestId: activity.requestId,
      seconds: Math.max(0, Math.round(perfNow - activity.since) / 1000),
    });
  }
  return {
    pid: proc.pid,
    number: proc.number,
    state: proc.state,
    retiring: proc.retiring,
    startedAt: new Date(proc.startedAt).toISOString(),
    ageSeconds: Math.max(0, Math.floor((now - proc.startedAt) / 1000)),
    requests: proc.requestsServed,
    rssBytes: proc.residentBytes(),
    threads: out,
  };
}
