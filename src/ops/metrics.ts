/**
 * Prometheus metrics (/server-metrics) with prom-client. Per request: one or two histogram
 * observations (latency, queue wait). Everything else (request counts, which the statistics keep
 * anyway, queues, threads, processes, memory, restarts) is read when Prometheus scrapes.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ProcessGroup } from '../groups/process-group';
import { VERSION } from '../paths';

type GroupLabels = { process_group: string };

/** Indexed as statusClassIndex() counts them. */
const STATUS_CLASSES = ['other', '1xx', '2xx', '3xx', '4xx', '5xx'];

/** Where the metrics come from. */
export interface MetricsSource {
  groups(): Iterable<ProcessGroup>;
  activeRequests(): number;
  /** Requests answered by status class, per process group ('' for the front end's own answers). */
  requestCounts(): Iterable<{ group: string; classes: Float64Array }>;
}

/** The restart reason as a label: mod_wsgi's reason names, or "crash" / "failed_start" for unplanned exits. */
export function restartReasonLabel(reason: string): string {
  if (/^[a-z_]+$/.test(reason)) return reason;
  return reason.startsWith('failed start') ? 'failed_start' : 'crash';
}

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly duration: Histogram<'process_group'>;
  private readonly queueWait: Histogram<'process_group'>;
  /** Label objects per group, made once so a request allocates none. */
  private readonly labels = new Map<string, GroupLabels>();

  constructor(source: MetricsSource) {
    const registers = [this.registry];
    const groups = (): Iterable<ProcessGroup> => source.groups();
    collectDefaultMetrics({ register: this.registry });
    new Gauge({ name: 'wsgi_host_info', help: 'wsgi-host version (value 1).', labelNames: ['version'], registers }).set({ version: VERSION }, 1);
    new Counter({
      name: 'wsgi_host_requests_total',
      help: 'Requests answered, by process group ("" for requests the front end answered itself) and status class.',
      labelNames: ['process_group', 'status_class'],
      registers,
      collect() {
        this.reset();
        for (const { group, classes } of source.requestCounts()) {
          classes.forEach((count, i) => {
            if (count > 0) this.inc({ process_group: group, status_class: STATUS_CLASSES[i]! }, count);
          });
        }
      },
    });
    this.duration = new Histogram({
      name: 'wsgi_host_request_duration_seconds',
      help: 'Time from the request arriving to its response ending, by process group.',
      labelNames: ['process_group'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.queueWait = new Histogram({
      name: 'wsgi_host_queue_wait_seconds',
      help: 'Time requests waited for a free thread of their process group.',
      labelNames: ['process_group'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60],
      registers,
    });
    new Gauge({
      name: 'wsgi_host_active_requests',
      help: 'Requests the front end is serving now.',
      registers,
      collect() {
        this.set(source.activeRequests());
      },
    });
    /**
     * A number each process group keeps, read when Prometheus scrapes: a gauge, or a counter whose
     * total the group keeps itself.
     */
    const perGroup = (kind: 'gauge' | 'counter', name: string, help: string, value: (group: ProcessGroup) => number): void => {
      const common = { name, help, labelNames: ['process_group'] as const, registers };
      if (kind === 'gauge') {
        new Gauge({
          ...common,
          collect() {
            this.reset();
            for (const group of groups()) this.set({ process_group: group.config.name }, value(group));
          },
        });
      } else {
        new Counter({
          ...common,
          collect() {
            this.reset();
            for (const group of groups()) this.inc({ process_group: group.config.name }, value(group));
          },
        });
      }
    };
    perGroup('gauge', 'wsgi_host_queue_length', 'Requests waiting for a free thread, by process group.', (group) => group.queuedRequests);
    perGroup('gauge', 'wsgi_host_busy_threads', 'Worker threads running a request, by process group.', (group) => countThreads(group, true));
    perGroup('gauge', 'wsgi_host_idle_threads', 'Worker threads ready for a request, by process group.', (group) => countThreads(group, false));
    new Gauge({
      name: 'wsgi_host_processes',
      help: 'Daemon processes, by process group and state (starting, ready, draining).',
      labelNames: ['process_group', 'state'],
      registers,
      collect() {
        this.reset();
        for (const group of groups()) {
          const counts: Record<string, number> = { starting: 0, ready: 0, draining: 0 };
          for (const proc of group.workers) counts[proc.state] = (counts[proc.state] ?? 0) + 1;
          for (const [state, count] of Object.entries(counts)) this.set({ process_group: group.config.name, state }, count);
        }
      },
    });
    perGroup('counter', 'wsgi_host_requests_sent_ahead_total', 'Requests sent to a busy thread ahead of time, each to start the moment the one before it ends (send-ahead), by process group.', (group) => group.dispatcher.sentAhead);
    /** A counter per process group and `how`: one count of the group for each way. */
    const perGroupHow = (name: string, help: string, ways: Record<string, (group: ProcessGroup) => number>): void => {
      new Counter({
        name,
        help,
        labelNames: ['process_group', 'how'],
        registers,
        collect() {
          this.reset();
          for (const group of groups()) for (const [how, value] of Object.entries(ways)) this.inc({ process_group: group.config.name, how }, value(group));
        },
      });
    };
    perGroupHow(
      'wsgi_host_response_pieces_total',
      'Large response pieces (32 KiB to 1 MiB) passed from worker memory to clients, by process group and how: lent (sent straight from the worker\'s memory) or copied (copied out first: no mapping, or a slow client).',
      { lent: (group) => group.responseCounts.lent, copied: (group) => group.responseCounts.copied },
    );
    perGroupHow(
      'wsgi_host_file_bytes_sent_total',
      'Bytes of wsgi.file_wrapper files the front end sent itself (WSGIEnableSendfile), by process group and how: sendfile (by sendfile(2), no copy through the front end) or copied (read, then written: no addon, TLS, or a full socket).',
      { sendfile: (group) => group.responseCounts.fileBytesSendfile, copied: (group) => group.responseCounts.fileBytesCopied },
    );
    perGroup(
      'counter',
      'wsgi_host_responses_spooled_total',
      'Responses whose client fell response-buffer-size behind, so the rest went to a spool file (WSGIResponseSpoolLimit) and the worker thread moved on, by process group.',
      (group) => group.responseCounts.spooled,
    );
    new Counter({
      name: 'wsgi_host_process_restarts_total',
      help: 'Daemon process restarts, by process group and reason (mod_wsgi\'s names: maximum_requests, request_timeout, ...; crash and failed_start for unplanned exits).',
      labelNames: ['process_group', 'reason'],
      registers,
      collect() {
        this.reset();
        for (const group of groups()) {
          const byLabel = new Map<string, number>();
          for (const [reason, count] of group.restartTotals) {
            const label = restartReasonLabel(reason);
            byLabel.set(label, (byLabel.get(label) ?? 0) + count);
          }
          for (const [reason, count] of byLabel) this.inc({ process_group: group.config.name, reason }, count);
        }
      },
    });
    new Gauge({
      name: 'wsgi_host_process_resident_memory_bytes',
      help: 'Resident memory of each daemon process (from /proc).',
      labelNames: ['process_group', 'process', 'pid'],
      registers,
      collect() {
        this.reset();
        for (const group of groups()) {
          for (const proc of group.workers) this.set({ process_group: group.config.name, process: String(proc.number), pid: String(proc.pid) }, proc.residentBytes());
        }
      },
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Observes a finished request's duration; `queueSeconds` is -1 for one that never waited for a thread. */
  observe(groupName: string, seconds: number, queueSeconds: number): void {
    let labels = this.labels.get(groupName);
    if (labels === undefined) {
      labels = { process_group: groupName };
      this.labels.set(groupName, labels);
    }
    this.duration.observe(labels, seconds);
    if (queueSeconds >= 0) this.queueWait.observe(labels, queueSeconds);
  }
}

function countThreads(group: ProcessGroup, busy: boolean): number {
  let n = 0;
  for (const proc of group.workers) {
    for (const slot of proc.threadSlots) {
      if (slot.busy) {
        if (busy) n++;
      } else if (!busy && proc.state === 'ready' && !slot.closed) n++;
    }
  }
  return n;
}
