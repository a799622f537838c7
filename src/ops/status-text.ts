/**
 * The status report in mod_status's machine-readable format (server-status?auto): "Key: value"
 * lines with mod_status's key names where they mean the same thing, then wsgi-host's own
 * (queue, recent latency, per process group), and the Scoreboard line last, as mod_status has it.
 */
import type { StatusSnapshot } from './status-report';

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** mod_status's time format ("Wednesday, 25-Nov-2026 13:37:41 UTC"), in UTC. */
export function statusTime(iso: string): string {
  const d = new Date(iso);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]}, ${two(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} UTC`;
}

/** mod_status's uptime wording: "1 day 2 hours 5 seconds". */
export function uptimeText(seconds: number): string {
  const parts: string[] = [];
  const units: [number, string][] = [
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
    [1, 'second'],
  ];
  let rest = seconds;
  for (const [size, name] of units) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0) parts.push(`${n} ${name}${n === 1 ? '' : 's'}`);
  }
  return parts.length > 0 ? parts.join(' ') : '0 seconds';
}

/** Numbers as %g prints them: at most 6 significant digits, no trailing zeros. */
function g(value: number): string {
  if (!Number.isFinite(value)) return '0';
  return String(Number(value.toPrecision(6)));
}

function ms(value: number | null): string {
  return value === null ? '0' : g(value);
}

export function renderStatusText(s: StatusSnapshot): string {
  const lines: string[] = [s.server.name];
  const add = (key: string, value: string | number): void => {
    lines.push(`${key}: ${value}`);
  };
  add('ServerVersion', s.server.software);
  add('ServerMPM', 'wsgi-host');
  add('CurrentTime', statusTime(s.server.currentTime));
  add('RestartTime', statusTime(s.server.startedAt));
  add('ParentServerConfigGeneration', s.server.generation);
  add('ServerUptimeSeconds', s.server.uptimeSeconds);
  add('ServerUptime', uptimeText(s.server.uptimeSeconds));
  add('Load1', g(s.server.loadAverage[0] ?? 0));
  add('Load5', g(s.server.loadAverage[1] ?? 0));
  add('Load15', g(s.server.loadAverage[2] ?? 0));
  add('Total Accesses', s.totals.accesses);
  add('Total kBytes', s.totals.kBytes);
  add('Total Duration', s.totals.durationMs);
  add('CPUUser', g(s.server.cpuUserSeconds));
  add('CPUSystem', g(s.server.cpuSystemSeconds));
  add('CPULoad', g(s.server.uptimeSeconds > 0 ? ((s.server.cpuUserSeconds + s.server.cpuSystemSeconds) / s.server.uptimeSeconds) * 100 : 0));
  add('Uptime', s.server.uptimeSeconds);
  add('ReqPerSec', g(s.totals.reqPerSec));
  add('BytesPerSec', g(s.totals.bytesPerSec));
  add('BytesPerReq', g(s.totals.bytesPerReq));
  add('DurationPerReq', g(s.totals.durationPerReqMs));
  add('BusyWorkers', s.workers.busy);
  add('GracefulWorkers', s.workers.graceful);
  add('IdleWorkers', s.workers.idle);
  add('Processes', s.workers.processes);
  add('Stopping', s.workers.stopping);
  add('ConnsTotal', s.server.connections);
  // wsgi-host's own keys.
  add('ActiveRequests', s.server.activeRequests);
  add('QueueLength', s.workers.queued);
  add('RecentSeconds', s.recent.seconds);
  add('RecentReqPerSec', g(s.recent.reqPerSec));
  add('RecentErrors', s.recent.errors);
  add('RecentDurationMean', ms(s.recent.meanMs));
  add('RecentDurationP50', ms(s.recent.p50Ms));
  add('RecentDurationP95', ms(s.recent.p95Ms));
  add('RecentDurationP99', ms(s.recent.p99Ms));
  add('ProcessGroups', s.groups.length);
  for (const group of s.groups) {
    const key = (name: string): string => `ProcessGroup[${group.name}].${name}`;
    add(key('Processes'), group.processes.length);
    add(key('Capacity'), group.capacity);
    add(key('BusyWorkers'), group.busy);
    add(key('IdleWorkers'), group.idle);
    add(key('QueueLength'), group.queueLength);
    add(key('SentAhead'), group.sentAhead);
    add(key('ResponsePiecesLent'), group.responsePiecesLent);
    add(key('ResponsePiecesCopied'), group.responsePiecesCopied);
    add(key('ResponsesSpooled'), group.responsesSpooled);
    add(key('FileBytesBySendfile'), group.fileBytesBySendfile);
    add(key('FileBytesCopied'), group.fileBytesCopied);
    add(key('Accesses'), group.accesses);
    add(key('Restarts'), group.restartCount);
    if (group.recent !== null) {
      add(key('RecentReqPerSec'), g(group.recent.reqPerSec));
      add(key('RecentDurationP95'), ms(group.recent.p95Ms));
      add(key('RecentQueueWaitMean'), ms(group.recent.queueMeanMs));
    }
    add(key('Scoreboard'), group.scoreboard);
  }
  add('Scoreboard', s.scoreboard);
  return lines.join('\n') + '\n';
}
