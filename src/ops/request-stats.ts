/**
 * Request statistics kept per second in ring buffers, so recording a request is O(1) with no
 * allocation, and the status page can draw the last minutes (requests per second, latency
 * percentiles) from them.
 */

/** Seconds of history kept. */
export const HISTORY_SECONDS = 600;

/**
 * Latency buckets: bucket 0 holds durations up to 0.1 ms, bucket i (1..) those up to
 * 0.1 ms x 2^(i/4), so each bucket is 19% wider than the one before; the last one holds
 * everything from about 100 seconds on. A percentile read from them is within 10%.
 */
const BUCKETS = 81;
const BUCKET_BASE_MS = 0.1;
const STEPS_PER_DOUBLING = 4;

export function latencyBucket(ms: number): number {
  if (!(ms > BUCKET_BASE_MS)) return 0;
  const i = Math.ceil(Math.log2(ms / BUCKET_BASE_MS) * STEPS_PER_DOUBLING);
  return i < BUCKETS ? i : BUCKETS - 1;
}

/** The middle (geometric) of a bucket, for percentile estimates. */
function bucketMiddle(i: number): number {
  if (i === 0) return BUCKET_BASE_MS / 2;
  return BUCKET_BASE_MS * 2 ** ((i - 0.5) / STEPS_PER_DOUBLING);
}

/** Per-second columns of a stretch of history, oldest first (what the status page draws). */
export interface HistoryColumns {
  /** Epoch second of the first column. */
  start: number;
  requests: number[];
  /** Responses with status 500 or more. */
  errors: number[];
  /** Milliseconds; null for a second without requests. */
  mean: (number | null)[];
  p50: (number | null)[];
  p95: (number | null)[];
  p99: (number | null)[];
  /** Mean queue wait in milliseconds (requests that went to a process group). */
  queueMean: (number | null)[];
}

/** A summary over a window of seconds. */
export interface WindowSummary {
  seconds: number;
  requests: number;
  errors: number;
  reqPerSec: number;
  meanMs: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  queueMeanMs: number | null;
}

export class SecondSeries {
  /** Which epoch second each slot holds (-1: none yet). */
  private readonly second = new Float64Array(HISTORY_SECONDS).fill(-1);
  private readonly count = new Uint32Array(HISTORY_SECONDS);
  private readonly errors = new Uint32Array(HISTORY_SECONDS);
  private readonly sum = new Float64Array(HISTORY_SECONDS);
  private readonly queued = new Uint32Array(HISTORY_SECONDS);
  private readonly queueSum = new Float64Array(HISTORY_SECONDS);
  private readonly buckets = new Uint32Array(HISTORY_SECONDS * BUCKETS);

  /** Counts one finished request: `ms` its duration, `queueMs` its wait for a thread (or -1). */
  record(epochSecond: number, ms: number, status: number, queueMs: number): void {
    const at = epochSecond % HISTORY_SECONDS;
    if (this.second[at] !== epochSecond) this.clear(at, epochSecond);
    this.count[at]!++;
    if (status >= 500) this.errors[at]!++;
    this.sum[at]! += ms;
    this.buckets[at * BUCKETS + latencyBucket(ms)]!++;
    if (queueMs >= 0) {
      this.queued[at]!++;
      this.queueSum[at]! += queueMs;
    }
  }

  private clear(at: number, epochSecond: number): void {
    this.second[at] = epochSecond;
    this.count[at] = 0;
    this.errors[at] = 0;
    this.sum[at] = 0;
    this.queued[at] = 0;
    this.queueSum[at] = 0;
    this.buckets.fill(0, at * BUCKETS, (at + 1) * BUCKETS);
  }

  /** The `seconds` complete seconds before `nowSecond` as columns. */
  columns(nowSecond: number, seconds: number): HistoryColumns {
    const n = Math.min(seconds, HISTORY_SECONDS - 1);
    const out: HistoryColumns = { start: nowSecond - n, requests: [], errors: [], mean: [], p50: [], p95: [], p99: [], queueMean: [] };
    const one = new Uint32Array(BUCKETS);
    for (let s = nowSecond - n; s < nowSecond; s++) {
      const at = s % HISTORY_SECONDS;
      const live = this.second[at] === s;
      const count = live ? this.count[at]! : 0;
      out.requests.push(count);
      out.errors.push(live ? this.errors[at]! : 0);
      if (count === 0) {
        out.mean.push(null);
        out.p50.push(null);
        out.p95.push(null);
        out.p99.push(null);
      } else {
        one.set(this.buckets.subarray(at * BUCKETS, (at + 1) * BUCKETS));
        out.mean.push(round(this.sum[at]! / count));
        out.p50.push(round(percentile(one, count, 0.5)));
        out.p95.push(round(percentile(one, count, 0.95)));
        out.p99.push(round(percentile(one, count, 0.99)));
      }
      const queued = live ? this.queued[at]! : 0;
      out.queueMean.push(queued === 0 ? null : round(this.queueSum[at]! / queued));
    }
    return out;
  }

  /** Totals and percentiles over the `seconds` complete seconds before `nowSecond`. */
  summary(nowSecond: number, seconds: number): WindowSummary {
    const n = Math.min(seconds, HISTORY_SECONDS - 1);
    const merged = new Uint32Array(BUCKETS);
    let requests = 0;
    let errors = 0;
    let sum = 0;
    let queued = 0;
    let queueSum = 0;
    for (let s = nowSecond - n; s < nowSecond; s++) {
      const at = s % HISTORY_SECONDS;
      if (this.second[at] !== s) continue;
      requests += this.count[at]!;
      errors += this.errors[at]!;
      sum += this.sum[at]!;
      queued += this.queued[at]!;
      queueSum += this.queueSum[at]!;
      const base = at * BUCKETS;
      for (let b = 0; b < BUCKETS; b++) merged[b]! += this.buckets[base + b]!;
    }
    const none = requests === 0;
    return {
      seconds: n,
      requests,
      errors,
      reqPerSec: round(requests / n),
      meanMs: none ? null : round(sum / requests),
      p50Ms: none ? null : round(percentile(merged, requests, 0.5)),
      p95Ms: none ? null : round(percentile(merged, requests, 0.95)),
      p99Ms: none ? null : round(percentile(merged, requests, 0.99)),
      queueMeanMs: queued === 0 ? null : round(queueSum / queued),
    };
  }
}

function percentile(buckets: Uint32Array, count: number, q: number): number {
  const rank = Math.max(1, Math.ceil(count * q));
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i]!;
    if (seen >= rank) return bucketMiddle(i);
  }
  return bucketMiddle(buckets.length - 1);
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** Running totals since the statistics began (mod_status's Total Accesses, kBytes, Duration). */
export class Totals {
  accesses = 0;
  bytes = 0;
  durationMs = 0;

  add(bytes: number, ms: number): void {
    this.accesses++;
    this.bytes += bytes;
    this.durationMs += ms;
  }
}

/** Index of a status in per-class counts: 1..5 for 1xx..5xx, 0 for anything else. */
export function statusClassIndex(status: number): number {
  const cls = (status / 100) | 0;
  return cls >= 1 && cls <= 5 ? cls : 0;
}

/** The statistics of one process group (kept by name, so they survive a configuration reload). */
export class GroupStats {
  readonly series = new SecondSeries();
  readonly totals = new Totals();
  /** Requests answered, by status class (statusClassIndex). */
  readonly statusClasses = new Float64Array(6);

  constructor(readonly name: string) {}

  /** The timing record a request routed to this group carries. */
  startTiming(): RequestTiming {
    return { group: this, queuedAt: 0, beganAt: 0, appEndedAt: 0, pid: 0 };
  }
}

/**
 * When a request routed to a process group waited, ran and finished (performance.now()
 * milliseconds; 0 = did not happen). The front end's exchange fills it in.
 */
export interface RequestTiming {
  group: GroupStats;
  queuedAt: number;
  beganAt: number;
  appEndedAt: number;
  /** The daemon process that ran it (0: none did). */
  pid: number;
}

/** Queue wait and application time of a request, in milliseconds (null where it did not happen). */
export function timingsOf(timing: RequestTiming, now: number): { queueMs: number | null; appMs: number | null } {
  if (timing.beganAt === 0) return { queueMs: timing.queuedAt === 0 ? null : now - timing.queuedAt, appMs: null };
  return { queueMs: timing.beganAt - timing.queuedAt, appMs: (timing.appEndedAt === 0 ? now : timing.appEndedAt) - timing.beganAt };
}
