import type { ServerResult, WorkloadResult } from './results';
import { median, summarize, type Row } from './stats';

const COLUMNS = [
  'server', 'req/s', 'min–max', 'vs Apache', 'vs wsgi-host', 'p50 ms', 'p99 ms', 'CPU µs/req',
  'RSS MiB', 'PSS MiB', 'procs', 'non-2xx', 'socket errors', 'served/conn min (median)', 'wrong bodies',
] as const;

export function fixed(value: number | null, digits: number): string {
  return value === null ? '–' : value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function rate(value: number | null): string {
  return value === null ? '–' : fixed(value, value < 100 ? 1 : 0);
}

function ms(value: number | null): string {
  return value === null ? '–' : fixed(value, value < 10 ? 2 : value < 100 ? 1 : 0);
}

export function ratio(value: number | null): string {
  return value === null ? '–' : `${value.toFixed(2)}x`;
}

function socketErrors(row: Row): string {
  const e = row.socketErrors;
  const parts = [['connect', e.connect], ['read', e.read], ['write', e.write], ['timeout', e.timeout]].filter(([, n]) => n !== 0);
  return parts.length === 0 ? '0' : parts.map(([k, n]) => `${k} ${n}`).join(', ');
}

function servedPerConnection(row: Row, connections: number): string {
  if (row.minPerConnection === null) return '–';
  const starved = row.minPerConnection === 0 ? ' STARVED' : '';
  const missing = row.connectionsCounted < connections ? ` [${row.connectionsCounted}/${connections} conns]` : '';
  return `${fixed(row.minPerConnection, 0)}${starved} (${fixed(row.medianPerConnection, 0)})${missing}`;
}

function cells(row: Row, connections: number): string[] {
  if (row.status !== null) return [row.server, row.status, ...Array<string>(COLUMNS.length - 2).fill('')];
  const non2xx = row.perConnectionNon2xx > 0 ? `${row.httpErrors} (+${row.perConnectionNon2xx} per-conn pass)` : String(row.httpErrors);
  return [
    row.server, rate(row.rps), `${rate(row.rpsMin)}–${rate(row.rpsMax)}`, ratio(row.vsApache), ratio(row.vsWsgiHost),
    ms(row.p50Ms), ms(row.p99Ms), fixed(row.cpuUsPerRequest, 0), fixed(row.rssMiB, 1), fixed(row.pssMiB, 1),
    row.processes === null ? '–' : String(row.processes), non2xx, socketErrors(row), servedPerConnection(row, connections), String(row.wrongBodies),
  ];
}

export function rowsOf(result: WorkloadResult, ticksPerSecond: number): Row[] {
  return result.servers.map((s) => summarize(s, result.servers, ticksPerSecond));
}

export function textTable(result: WorkloadResult, ticksPerSecond: number): string {
  const rows = rowsOf(result, ticksPerSecond);
  const body = rows.map((r) => cells(r, result.shape.connections));
  // Skipped and failed rows hold one long message: they neither set the widths nor get aligned.
  const measured = body.filter((_, i) => rows[i]!.status === null);
  const widths = COLUMNS.map((h, i) => Math.max(h.length, ...measured.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ').trimEnd();
  return [line([...COLUMNS]), ...body.map((c, i) => (rows[i]!.status === null ? line(c) : `${c[0]!.padEnd(widths[0]!)}  ${c[1]}`))].join('\n');
}

export function markdownTable(result: WorkloadResult, ticksPerSecond: number): string {
  const body = rowsOf(result, ticksPerSecond).map((r) => cells(r, result.shape.connections));
  const align = COLUMNS.map((_, i) => (i === 0 ? ':--' : '--:'));
  const line = (c: string[]): string => `| ${c.map((v) => v.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line([...COLUMNS]), line(align), ...body.map(line)].join('\n');
}

/** Everything unusual about a server's run, in words. */
export function notesOf(server: ServerResult): string[] {
  const notes = [...server.notes];
  if (server.skipped !== null || server.failed !== null) return notes;
  for (const r of server.rounds) {
    if (r.wrk.failure !== null) notes.push(`round ${r.round}: ${r.wrk.failure}`);
    if (!r.aliveAfter) notes.push(`round ${r.round}: the server process had exited after the run`);
  }
  if (server.perConnection?.failure) notes.push(`per-connection pass: ${server.perConnection.failure}`);
  const pcErrors = server.perConnection?.summary?.errors;
  if (pcErrors !== undefined && pcErrors.connect + pcErrors.read + pcErrors.write + pcErrors.timeout > 0) {
    notes.push(`per-connection pass socket errors: connect ${pcErrors.connect}, read ${pcErrors.read}, write ${pcErrors.write}, timeout ${pcErrors.timeout}`);
  }
  if (server.probeAfterLoad !== null) notes.push(`request after the load: ${server.probeAfterLoad}`);
  if (server.stop !== null) {
    if (server.stop.killed) notes.push(`did not stop within the timeout after ${server.stop.signal}; killed with SIGKILL`);
    if (server.stop.leftovers.length > 0) notes.push(`processes left running after the server exited (killed): ${server.stop.leftovers.join(', ')}`);
  }
  return notes;
}

export function shapeText(shape: { processes: number; threads: number; connections: number }): string {
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : word.endsWith('s') ? 'es' : 's'}`;
  return `${plural(shape.processes, 'process')} x ${plural(shape.threads, 'thread')}, ${shape.connections} connections`;
}

/** How busy the machine was with things other than the benchmark during the rounds. */
export function backgroundText(result: WorkloadResult): string {
  const rounds = result.servers.flatMap((s) => s.rounds).filter((r) => r.machine.totalTicks > 0);
  if (rounds.length === 0) return 'Machine CPU during the rounds: not measured.';
  const pct = (f: (r: (typeof rounds)[number]) => number): number[] => rounds.map((r) => (100 * f(r)) / r.machine.totalTicks);
  const other = pct((r) => r.machine.otherTicks);
  const wrk = pct((r) => r.machine.wrkTicks);
  const med = (xs: number[]): string => `${Math.round(median(xs) ?? 0)}%`;
  return `Machine CPU during the rounds, as % of all cores: wrk median ${med(wrk)}; processes outside the benchmark median ${med(other)}, max ${Math.round(Math.max(...other))}%.`;
}

/**
 * Each server's RSS after the load, process by process, largest first: where a total comes
 * from (a front end against an arbiter, workers against workers).
 */
export function rssSplitText(result: WorkloadResult): string {
  const parts: string[] = [];
  for (const server of result.servers) {
    const processes = server.memory?.perProcess;
    if (processes === undefined || processes.length === 0) continue;
    const split = [...processes].sort((a, b) => b.rssKb - a.rssKb).map((p) => `${p.name} ${(p.rssKb / 1024).toFixed(1)}`);
    parts.push(`${server.server}: ${split.join(', ')}`);
  }
  return parts.length === 0 ? '' : `RSS by process after the load, MiB: ${parts.join('; ')}.`;
}

/** Where each server's CPU went, by process name, summed over the rounds. */
export function cpuSplitText(result: WorkloadResult): string {
  const parts: string[] = [];
  for (const server of result.servers) {
    const totals: Record<string, number> = {};
    for (const r of server.rounds) for (const [comm, ticks] of Object.entries(r.cpuTicksByCommand)) totals[comm] = (totals[comm] ?? 0) + ticks;
    const sum = Object.values(totals).reduce((a, b) => a + b, 0);
    if (sum <= 0) continue;
    const split = Object.entries(totals).sort((a, b) => b[1] - a[1]).map(([comm, ticks]) => `${comm} ${Math.round((100 * ticks) / sum)}%`);
    parts.push(`${server.server}: ${split.join(', ')}`);
  }
  return `Server CPU by process name: ${parts.join('; ')}.`;
}
