/**
 * Operating the server: request statistics, the status page (SetHandler server-status), the
 * Prometheus metrics (SetHandler server-metrics) and the slow-request log. The server makes one
 * only when the configuration asks for one of them (or for the JSON access log, which carries
 * queue and application times); otherwise the front end does no per-request work for any of it.
 */
import type { ServerConfig, DirectorySettings, Section } from '../config/model';
import { sendErrorPage } from '../front/error-page';
import { clientOf, type RequestRecord } from '../front/request-record';
import type { ProcessGroup } from '../groups/process-group';
import { nowMicros } from '../log/apache-time';
import type { ErrorLog } from '../log/error-log';
import { JSON_LOG_FORMAT } from '../log/json-log-format';
import type { ServerMetrics } from './metrics';
import { GroupStats, SecondSeries, statusClassIndex, Totals } from './request-stats';
import { SlowRequestLog } from './slow-requests';
import { renderStatusPage } from './status-page';
import { buildSnapshot, type StatsSource, type StatusSource } from './status-report';
import { renderStatusText } from './status-text';

export const STATUS_HANDLER = 'server-status';
export const METRICS_HANDLER = 'server-metrics';

/** What the configuration asks for. */
export interface OpsFeatures {
  statusPage: boolean;
  metrics: boolean;
  /** WSGISlowRequests in milliseconds, or null. */
  slowRequestMs: number | null;
  /** A JSON access log, which records queue and application times. */
  jsonAccessLog: boolean;
}

export function opsFeatures(config: ServerConfig): OpsFeatures {
  const handlers = new Set<string>();
  const visit = (settings: DirectorySettings): void => {
    if (settings.setHandler !== undefined && settings.setHandler !== null) handlers.add(settings.setHandler);
  };
  const visitSection = (section: Section): void => {
    visit(section.settings);
    section.files.forEach(visitSection);
  };
  let jsonAccessLog = false;
  for (const vhost of [config.mainServer, ...config.virtualHosts]) {
    visit(vhost.settings);
    vhost.sections.forEach(visitSection);
    if (vhost.accessLogs.some((log) => log.format === JSON_LOG_FORMAT)) jsonAccessLog = true;
  }
  const slow = config.slowRequests ?? null;
  return { statusPage: handlers.has(STATUS_HANDLER), metrics: handlers.has(METRICS_HANDLER), slowRequestMs: slow === null ? null : slow * 1000, jsonAccessLog };
}

export function anyOpsFeature(f: OpsFeatures): boolean {
  return f.statusPage || f.metrics || f.slowRequestMs !== null || f.jsonAccessLog;
}

/** What the monitor needs from the server. */
export interface OpsHost extends StatusSource {
  readonly errorLog: ErrorLog;
  /** 1, plus one per configuration reload. */
  readonly generation: number;
}

export class OpsMonitor implements StatsSource {
  readonly startedAt = Date.now();
  readonly series = new SecondSeries();
  readonly totals = new Totals();
  /** Requests the front end answered itself (no process group), by status class. */
  private readonly frontEndClasses = new Float64Array(6);
  private readonly groupStats = new Map<string, GroupStats>();
  private metrics: ServerMetrics | null = null;
  private slow: SlowRequestLog | null = null;

  constructor(
    private readonly host: OpsHost,
    features: OpsFeatures,
  ) {
    this.configure(features);
  }

  get generation(): number {
    return this.host.generation;
  }

  /** Applies the features of a (re-read) configuration. */
  configure(features: OpsFeatures): void {
    if (features.metrics && this.metrics === null) this.metrics = this.makeMetrics();
    if (this.slow?.thresholdMs !== features.slowRequestMs) {
      this.slow?.close();
      this.slow = features.slowRequestMs === null ? null : new SlowRequestLog(features.slowRequestMs, () => this.host.groups.values());
    }
  }

  private makeMetrics(): ServerMetrics {
    // Loaded only when metrics are served: prom-client and its dependencies are 1.6 MB of heap
    // that every garbage collection would otherwise walk (and RSS) for a feature most sites leave off.
    const { ServerMetrics } = require('./metrics') as typeof import('./metrics');
    return new ServerMetrics({
      groups: () => this.host.groups.values(),
      activeRequests: () => this.host.activeRequests,
      requestCounts: () => [{ group: '', classes: this.frontEndClasses }, ...[...this.groupStats.values()].map((g) => ({ group: g.name, classes: g.statusClasses }))],
    });
  }

  /** The statistics of the group called `name` (the same object across reloads). */
  statsFor(name: string): GroupStats {
    let stats = this.groupStats.get(name);
    if (stats === undefined) {
      stats = new GroupStats(name);
      this.groupStats.set(name, stats);
    }
    return stats;
  }

  groupSeries(name: string): SecondSeries | null {
    return this.groupStats.get(name)?.series ?? null;
  }

  groupTotals(name: string): Totals | null {
    return this.groupStats.get(name)?.totals ?? null;
  }

  /** A request's response is over (the front end calls this after access logging). */
  requestEnded(record: RequestRecord, errorLog: ErrorLog): void {
    const endMicros = nowMicros();
    const totalMs = (endMicros - record.startMicros) / 1000;
    const second = Math.floor(endMicros / 1e6);
    const status = record.status;
    const timing = record.timing;
    let queueMs = -1;
    if (timing !== null) {
      if (timing.beganAt !== 0) queueMs = timing.beganAt - timing.queuedAt;
      else if (timing.queuedAt !== 0) queueMs = performance.now() - timing.queuedAt;
      timing.group.series.record(second, totalMs, status, queueMs);
      timing.group.totals.add(record.bytesSent, totalMs);
      timing.group.statusClasses[statusClassIndex(status)]!++;
    } else {
      this.frontEndClasses[statusClassIndex(status)]!++;
    }
    this.series.record(second, totalMs, status, queueMs);
    this.totals.add(record.bytesSent, totalMs);
    if (this.metrics !== null) this.metrics.observe(timing !== null ? timing.group.name : '', totalMs / 1000, queueMs >= 0 ? queueMs / 1000 : -1);
    if (this.slow !== null && totalMs >= this.slow.thresholdMs) this.slow.finished(record, errorLog, totalMs, performance.now());
  }

  handles(handler: string): boolean {
    return handler === STATUS_HANDLER || handler === METRICS_HANDLER;
  }

  /** Answers a request for the status page or the metrics. */
  serve(handler: string, record: RequestRecord, query: string): void {
    const method = record.req.method;
    if (method !== 'GET' && method !== 'HEAD') {
      sendErrorPage(record, 405, { Allow: 'GET, HEAD' });
      return;
    }
    let body: Promise<{ type: string; text: string }>;
    if (handler === METRICS_HANDLER) {
      const metrics = (this.metrics ??= this.makeMetrics());
      body = metrics.text().then((text) => ({ type: metrics.contentType, text }));
    } else {
      const words = query.replace(/^\?/, '').split(/[&;]/);
      body = buildSnapshot(this.host, this).then((snapshot) => {
        if (words.includes('json')) return { type: 'application/json', text: JSON.stringify(snapshot) };
        if (words.includes('auto')) return { type: 'text/plain; charset=utf-8', text: renderStatusText(snapshot) };
        return { type: 'text/html; charset=utf-8', text: renderStatusPage(snapshot) };
      });
    }
    body.then(
      ({ type, text }) => send(record, type, text),
      (err: unknown) => {
        this.host.errorLog.log('core', 'error', `Cannot produce the ${handler} report: ${(err as Error).stack ?? String(err)}`, { client: clientOf(record), requestId: record.id });
        if (!record.res.destroyed) sendErrorPage(record, 500);
      },
    );
  }

  close(): void {
    this.slow?.close();
    this.slow = null;
  }
}

function send(record: RequestRecord, type: string, text: string): void {
  const res = record.res;
  if (res.destroyed || res.headersSent) return;
  const body = Buffer.from(text, 'utf8');
  const head = record.req.method === 'HEAD';
  record.status = 200;
  record.bytesSent = head ? 0 : body.length;
  res.writeHead(200, { 'Content-Type': type, 'Content-Length': String(body.length), 'Cache-Control': 'no-store' });
  res.end(head ? undefined : body);
}

/** Gives each group its statistics object (groups are replaced on reload; their statistics are not). */
export function attachStats(monitor: OpsMonitor, groups: Iterable<ProcessGroup>): void {
  for (const group of groups) if (group.stats === null) group.stats = monitor.statsFor(group.config.name);
}
