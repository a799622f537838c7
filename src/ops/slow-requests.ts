/**
 * The slow-request log (WSGISlowRequests, start-server --slow-requests): a request that takes
 * longer than the threshold is logged at warning with its timings and id when it ends, and, as
 * mod_wsgi reports a request still running past the threshold, once while it is still running.
 */
import type { ProcessGroup } from '../groups/process-group';
import { escapeLogItem } from '../log/access-log';
import type { ErrorLog } from '../log/error-log';
import { clientOf, type RequestRecord } from '../front/request-record';
import { timingsOf } from './request-stats';

export class SlowRequestLog {
  /** Requests already reported while running (their exchanges). */
  private readonly reported = new WeakSet<object>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly thresholdMs: number,
    private readonly groups: () => Iterable<ProcessGroup>,
  ) {
    // A threshold of 0 reports every request when it ends; watching running ones would report them all too.
    if (thresholdMs > 0) {
      this.timer = setInterval(() => this.sweep(), Math.min(1000, Math.max(100, thresholdMs / 2)));
      this.timer.unref();
    }
  }

  /** A request ended after `totalMs`: logged if that is over the threshold. */
  finished(record: RequestRecord, errorLog: ErrorLog, totalMs: number, now: number): void {
    if (totalMs < this.thresholdMs) return;
    let detail = '';
    const timing = record.timing;
    if (timing !== null) {
      const { queueMs, appMs } = timingsOf(timing, now);
      detail =
        ` (queue wait ${seconds(queueMs)} s, application ${seconds(appMs)} s)` +
        `, status ${record.status}, process group '${timing.group.name}'` +
        (timing.pid !== 0 ? ` (pid=${timing.pid})` : '');
    } else {
      detail = `, status ${record.status}`;
    }
    errorLog.log('wsgi', 'warn', `Slow request: ${describe(record.req.method ?? '', record.req.url ?? '')} took ${seconds(totalMs)} seconds${detail}.`, {
      client: clientOf(record),
      requestId: record.id,
    });
  }

  /** Reports, once each, requests that have run on their thread longer than the threshold. */
  private sweep(): void {
    const now = performance.now();
    for (const group of this.groups()) {
      for (const proc of group.workers) {
        for (const slot of proc.threadSlots) {
          const tenant = slot.occupant;
          if (tenant === null || tenant.activity === undefined || this.reported.has(tenant)) continue;
          const activity = tenant.activity();
          const ran = now - activity.since;
          if (ran < this.thresholdMs) continue;
          this.reported.add(tenant);
          group.log(
            'warn',
            `Slow request still running: ${describe(activity.method, activity.url)} has run for ${seconds(ran)} seconds in daemon process '${group.config.name}' (pid=${proc.pid}, thread ${slot.thread + 1}).`,
            { client: activity.client, requestId: activity.requestId },
          );
        }
      }
    }
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}

/** "GET /path", without the query string (it may hold secrets), escaped as Apache escapes log items. */
function describe(method: string, url: string): string {
  const at = url.indexOf('?');
  return escapeLogItem(`${method} ${at >= 0 ? url.slice(0, at) : url}`);
}

function seconds(ms: number | null): string {
  return ms === null ? '-' : (ms / 1000).toFixed(3);
}
