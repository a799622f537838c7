/**
 * "Reading the results" in docs/benchmarks.md: the targets of issue 4 checked against one run.
 * Every figure comes from the run; only the targets themselves (from the issue) are constants.
 */
import { MAX_AHEAD } from '../src/groups/thread-slot';
import type { WorkloadName } from './config';
import { fixed, rate, ratio } from './report';
import type { RunResult, ServerResult, WorkloadResult } from './results';
import { median, okRate, pairedRatio, summarize, type Row } from './stats';
import { IO_SLEEP_SECONDS } from './workloads';

/** hello and Flask: wsgi-host's req/s over uWSGI --http-socket's. */
const TARGET_VS_UWSGI = 1.0;
/** io: p99 over p50. */
const TARGET_IO_P99_OVER_P50 = 1.1;
/** io: "at the capacity bound", read as within this fraction of it. */
const IO_BOUND_TOLERANCE = 0.05;
/** io: wrk's mean latency "close to" connections / req/s, read as within this fraction. */
const IO_MEAN_TOLERANCE = 0.1;
/** download, file and upload: wsgi-host's req/s over the bare node server's. */
const TARGET_VS_NODE = 0.9;

const WSGI_PEERS = ['apache', 'gunicorn-sync', 'gunicorn-gthread', 'uwsgi'];

function verdict(met: boolean | null): string {
  return met === null ? 'not measured' : met ? '**met**' : '**not met**';
}

function ms(us: number | null): string {
  return us === null ? '–' : `${fixed(us / 1000, us < 10_000 ? 1 : 0)} ms`;
}

function us(value: number | null): string {
  return value === null ? '–' : `${fixed(value, 0)} µs`;
}

/** The Python side by process name: `python3` (gunicorn, the hop floor) or a mod_wsgi-style
 *  display name `(wsgi:...)` (wsgi-host's workers); the front end is everything else (`node`, or
 *  wsgi-host's process title). */
const isPython = (comm: string): boolean => comm.startsWith('python') || comm.startsWith('(wsgi:');
const isFrontEnd = (comm: string): boolean => !isPython(comm);

class View {
  constructor(readonly run: RunResult) {}

  workload(name: WorkloadName): WorkloadResult | undefined {
    return this.run.workloads.find((w) => w.workload === name);
  }

  /** The server's result when it produced at least one measured round. */
  server(w: WorkloadResult | undefined, name: string): ServerResult | undefined {
    return w?.servers.find((s) => s.server === name && s.rounds.some((r) => okRate(r) !== null));
  }

  row(w: WorkloadResult, s: ServerResult): Row {
    return summarize(s, w.servers, this.run.clockTicksPerSecond);
  }

  /** CPU µs per request of the server's processes whose name passes `which` (all by default). */
  cpuUs(s: ServerResult | undefined, which: (comm: string) => boolean = () => true): number | null {
    if (s === undefined) return null;
    let ticks = 0;
    let requests = 0;
    for (const r of s.rounds) {
      for (const [comm, t] of Object.entries(r.cpuTicksByCommand)) if (which(comm)) ticks += t;
      requests += r.wrk.summary?.requests ?? 0;
    }
    return requests > 0 ? ((ticks / this.run.clockTicksPerSecond) * 1e6) / requests : null;
  }

  /** Connections of the per-connection pass that got no correct response, and how many there were. */
  starved(s: ServerResult | undefined): { starved: number; of: number } | null {
    const served = s?.perConnection?.summary?.served ?? [];
    return served.length === 0 ? null : { starved: served.filter((n) => n === 0).length, of: served.length };
  }
}


function throughputRows(v: View, name: 'hello' | 'flask'): string[] {
  const w = v.workload(name);
  const host = v.server(w, 'wsgi-host');
  if (w === undefined) return [];
  if (host === undefined) return [`| ${name}: at least ${TARGET_VS_UWSGI.toFixed(1)}x uWSGI \`--http-socket\` | wsgi-host not measured | not measured |`];
  const uwsgi = v.server(w, 'uwsgi');
  const apache = v.server(w, 'apache');
  const gunicorn = v.server(w, 'gunicorn-sync');
  const vsUwsgi = uwsgi === undefined ? null : pairedRatio(host, uwsgi);
  const peers = [
    apache && `${ratio(pairedRatio(host, apache))} mod_wsgi daemon mode (uWSGI: ${ratio(uwsgi ? pairedRatio(uwsgi, apache) : null)})`,
    gunicorn && `${ratio(pairedRatio(host, gunicorn))} gunicorn sync (uWSGI: ${ratio(uwsgi ? pairedRatio(uwsgi, gunicorn) : null)})`,
  ].filter((x): x is string => typeof x === 'string');
  const row = v.row(w, host);
  const starved = v.starved(host);
  // CPU per request holds up better than req/s when other processes take the machine's cores.
  const cpu = `; CPU per request ${us(v.cpuUs(host))}${uwsgi !== undefined ? ` (uWSGI ${us(v.cpuUs(uwsgi))})` : ''}`;
  return [
    `| ${name}: req/s at least ${TARGET_VS_UWSGI.toFixed(1)}x uWSGI \`--http-socket\` | ${rate(row.rps)} req/s = ${ratio(vsUwsgi)} uWSGI${peers.length > 0 ? `; ${peers.join('; ')}` : ''}${cpu} | ${verdict(vsUwsgi === null ? null : vsUwsgi >= TARGET_VS_UWSGI)} |`,
    `| ${name}: every connection served | fewest responses on one of the ${starved?.of ?? '–'} connections: ${fixed(row.minPerConnection, 0)} | ${verdict(starved === null ? null : starved.starved === 0)} |`,
  ];
}

function ioRows(v: View): string[] {
  const w = v.workload('io');
  const host = v.server(w, 'wsgi-host');
  if (w === undefined || host === undefined) return [];
  const row = v.row(w, host);
  const bound = (w.shape.processes * w.shape.threads) / IO_SLEEP_SECONDS;
  const share = row.rps === null ? null : row.rps / bound;
  const spread = row.p50Ms !== null && row.p99Ms !== null && row.p50Ms > 0 ? row.p99Ms / row.p50Ms : null;
  const meanUs = median(host.rounds.map((r) => r.wrk.summary?.latencyUs.mean ?? null).filter((x): x is number => x !== null));
  const idealUs = row.rps !== null && row.rps > 0 ? (w.shape.connections / row.rps) * 1e6 : null;
  const starved = v.starved(host);
  return [
    `| io: throughput at the capacity bound (${w.shape.processes * w.shape.threads} threads / ${IO_SLEEP_SECONDS * 1000} ms = ${fixed(bound, 0)} req/s, within ${IO_BOUND_TOLERANCE * 100}%) | ${rate(row.rps)} req/s (${share === null ? '–' : `${fixed(share * 100, 0)}%`} of the bound) | ${verdict(share === null ? null : share >= 1 - IO_BOUND_TOLERANCE)} |`,
    `| io: p99 at most ${TARGET_IO_P99_OVER_P50}x the median | p50 ${ms(row.p50Ms === null ? null : row.p50Ms * 1000)}, p99 ${ms(row.p99Ms === null ? null : row.p99Ms * 1000)}: ${spread === null ? '–' : `${spread.toFixed(3)}x`} | ${verdict(spread === null ? null : spread <= TARGET_IO_P99_OVER_P50)} |`,
    `| io: no connection starved | fewest responses on one of the ${starved?.of ?? '–'} connections: ${fixed(row.minPerConnection, 0)} | ${verdict(starved === null ? null : starved.starved === 0)} |`,
    `| io: wrk's mean latency close to connections / req/s (within ${IO_MEAN_TOLERANCE * 100}%) | mean ${ms(meanUs)}, ${w.shape.connections} / ${rate(row.rps)} req/s = ${ms(idealUs)} | ${verdict(meanUs === null || idealUs === null ? null : Math.abs(meanUs - idealUs) <= IO_MEAN_TOLERANCE * idealUs)} |`,
  ];
}

function bodyRows(v: View): string[] {
  const rows: string[] = [];
  for (const name of ['download', 'file', 'upload'] as const) {
    const w = v.workload(name);
    const host = v.server(w, 'wsgi-host');
    const node = v.server(w, 'node');
    if (w === undefined || host === undefined) continue;
    const vsNode = node === undefined ? null : pairedRatio(host, node);
    const peers = WSGI_PEERS.map((p) => v.server(w, p)).filter((s): s is ServerResult => s !== undefined);
    const best = peers.map((s) => ({ s, r: pairedRatio(s, host) })).sort((a, b) => (b.r ?? 0) - (a.r ?? 0))[0];
    const hop = v.server(w, 'hop-floor');
    const context = [
      best && `the fastest WSGI peer, ${best.s.server}, is ${ratio(best.r)} wsgi-host`,
      hop && `the hop-floor reference is ${ratio(pairedRatio(hop, host))} wsgi-host`,
      node && `CPU per request: wsgi-host's front end ${us(v.cpuUs(host, isFrontEnd))} and its workers ${us(v.cpuUs(host, isPython))}, node:http alone ${us(v.cpuUs(node))}`,
    ].filter((x): x is string => typeof x === 'string');
    rows.push(`| ${name}: req/s at least ${TARGET_VS_NODE}x node:http alone | ${rate(v.row(w, host).rps)} req/s = ${ratio(vsNode)} node${context.length > 0 ? `; ${context.join('; ')}` : ''} | ${verdict(vsNode === null ? null : vsNode >= TARGET_VS_NODE)} |`);
  }
  return rows;
}

function memoryRows(v: View): string[] {
  const rows: string[] = [];
  for (const w of v.run.workloads) {
    const host = v.server(w, 'wsgi-host');
    // The same processes x threads: the sync worker for one thread, gthread for more.
    const peerName = w.shape.threads > 1 ? 'gunicorn-gthread' : 'gunicorn-sync';
    const peer = v.server(w, peerName);
    if (host === undefined || peer === undefined) continue;
    const a = v.row(w, host);
    const b = v.row(w, peer);
    const met = a.rssMiB === null || b.rssMiB === null ? null : a.rssMiB <= b.rssMiB;
    rows.push(`| ${w.workload}: RSS at most ${peerName}'s | ${fixed(a.rssMiB, 1)} MiB vs ${fixed(b.rssMiB, 1)} MiB (PSS ${fixed(a.pssMiB, 1)} vs ${fixed(b.pssMiB, 1)} MiB) | ${verdict(met)} |`);
  }
  return rows;
}

/** What the front end's runtime weighs by itself: node:http alone, next to gunicorn's whole tree. */
function memoryText(v: View): string[] {
  const w = v.workload('hello');
  const host = v.server(w, 'wsgi-host');
  const node = v.server(w, 'node');
  const hop = v.server(w, 'hop-floor');
  const gunicorn = v.server(w, 'gunicorn-sync');
  if (w === undefined || host === undefined || node === undefined || gunicorn === undefined) return [];
  const mib = (s: ServerResult): string => `${fixed(v.row(w, s).rssMiB, 1)} MiB`;
  return [
    `**Memory.** On hello, node:http alone (one process, no Python) has an RSS of ${mib(node)}, against ${mib(gunicorn)} for`,
    `gunicorn's arbiter and ${w.shape.processes} workers together${hop !== undefined ? ` and ${mib(hop)} for the hop-floor reference` : ''}; wsgi-host has ${mib(host)}.`,
  ];
}

/** Why hello stops short of uWSGI: the hop-floor reference's figures against uWSGI's. */
function hopFloorText(v: View): string[] {
  const w = v.workload('hello');
  const host = v.server(w, 'wsgi-host');
  const hop = v.server(w, 'hop-floor');
  const uwsgi = v.server(w, 'uwsgi');
  if (w === undefined || host === undefined || hop === undefined || uwsgi === undefined) return [];
  const node = v.server(w, 'node');
  const hopNode = v.cpuUs(hop, isFrontEnd);
  const hopPython = v.cpuUs(hop, isPython);
  const uwsgiAll = v.cpuUs(uwsgi);
  const hostNode = v.cpuUs(host, isFrontEnd);
  const hostPython = v.cpuUs(host, isPython);
  const uwsgiRow = v.row(w, uwsgi);
  const hostRow = v.row(w, host);
  // The front end is one node process with one JavaScript thread: its CPU per request caps the
  // rate whatever the number of cores or Python processes.
  const cap = (frontUs: number | null): number | null => (frontUs === null || frontUs <= 0 ? null : 1e6 / frontUs);
  const hopCap = cap(hopNode);
  const hostCap = cap(hostNode);
  const capBelowUwsgi = hopCap !== null && uwsgiRow.rpsMax !== null && hopCap < uwsgiRow.rpsMax;
  const hopOverUwsgi = pairedRatio(hop, uwsgi);
  const hostOverUwsgi = pairedRatio(host, uwsgi);
  const out = [
    `**${capBelowUwsgi ? 'Why hello cannot reach uWSGI on this architecture' : 'The floor of this architecture'}.** The \`hop-floor\``,
    `reference is the floor of wsgi-host's design: the same node:http front end hands each request over a persistent UNIX`,
    `socket to one of ${w.shape.processes} Python processes that do nothing but answer (no environ, no WSGI, no logging),`,
    `sending requests ahead to busy processes when all are busy (up to ${MAX_AHEAD} each, as wsgi-host does: send-ahead), its processes under`,
    `SCHED_BATCH as wsgi-host's are by default (scheduling-policy), its front end where wsgi-host's is by default (nice -10 where permitted, SCHED_BATCH).`,
    `Per request its front end spent ${us(hopNode)} of CPU${node !== undefined ? ` (node:http alone, with no Python behind it: ${us(v.cpuUs(node))}; the difference is the hop)` : ''}`,
    `and its Python processes ${us(hopPython)}. The front end is one node process with one JavaScript thread: at ${us(hopNode)} a`,
    `request it cannot pass about ${rate(hopCap)} req/s (its helper threads count in that CPU too, so a little more), however many cores or Python processes there are. uWSGI \`--http-socket\` spent`,
    `${us(uwsgiAll)} per request in its whole server: its workers parse HTTP in C and run the app in the same process, with no`,
    `hop, and each worker is a process of its own, so its rate grows with cores.`,
  ];
  out.push(
    capBelowUwsgi
      ? `uWSGI's best round here, ${rate(uwsgiRow.rpsMax)} req/s, is above that cap: on hello no server with one node:http front end reaches uWSGI \`--http-socket\`, and the hop floor is the reachable aim.`
      : hopOverUwsgi !== null && hopOverUwsgi >= 1
        ? `In this run uWSGI's best round was ${rate(uwsgiRow.rpsMax)} req/s, under that cap, and the hop floor did ${ratio(hopOverUwsgi)} uWSGI's req/s: the design can reach uWSGI on hello, ` +
          (hostOverUwsgi !== null && hostOverUwsgi >= 1
            ? `and wsgi-host did (${ratio(hostOverUwsgi)} uWSGI's req/s).`
            : `so what stands between wsgi-host and uWSGI (${ratio(hostOverUwsgi)} its req/s) is wsgi-host's own work beyond the floor.`)
        : `In this run uWSGI's best round was ${rate(uwsgiRow.rpsMax)} req/s, under that cap, and the hop floor did ${ratio(hopOverUwsgi)} uWSGI's req/s: on a machine this busy the req/s comparison is not decisive; the CPU figures are.`,
    `wsgi-host's front end spent ${us(hostNode)} per request (cap about ${rate(hostCap)} req/s) and its Python processes ${us(hostPython)};`,
    `it did ${rate(hostRow.rps)} req/s, ${ratio(pairedRatio(host, hop))} the hop floor's. What it spends beyond the floor is the environ,`,
    `the WSGI protocol, routing, logging and supervision.`,
  );
  return out;
}

/** uWSGI's keep-alive mode: the rate the issue calls the long-run aim, and its starvation. */
function keepAliveText(v: View): string[] {
  const out: string[] = [];
  for (const name of ['hello', 'flask'] as const) {
    const w = v.workload(name);
    const http11 = v.server(w, 'uwsgi-http11');
    const host = v.server(w, 'wsgi-host');
    const starved = v.starved(http11);
    if (w === undefined || http11 === undefined || host === undefined || starved === null) continue;
    out.push(
      `- ${name}: uWSGI \`--http11-socket\` (keep-alive) did ${rate(v.row(w, http11).rps)} req/s (${ratio(pairedRatio(http11, host))} wsgi-host), ` +
        `and ${starved.starved} of its ${starved.of} connections got no response in the ${v.run.settings.fairnessSeconds} s per-connection pass.`,
    );
  }
  if (out.length === 0) return [];
  return ['**uWSGI with keep-alive.** Its req/s counts only the connections it serves:', '', ...out];
}

/** The io workload's peers: latency spread and starvation, which the target compares against. */
function ioPeersText(v: View): string[] {
  const w = v.workload('io');
  if (w === undefined) return [];
  const parts: string[] = [];
  for (const s of w.servers) {
    if (s.server === 'wsgi-host' || v.server(w, s.server) === undefined) continue;
    const row = v.row(w, s);
    const spread = row.p50Ms !== null && row.p99Ms !== null && row.p50Ms > 0 ? row.p99Ms / row.p50Ms : null;
    const starved = v.starved(s);
    parts.push(`${s.server} ${rate(row.rps)} req/s, p99 ${ratio(spread)} p50, ${starved === null ? 'per-connection pass not run' : `${starved.starved} of ${starved.of} connections starved`}`);
  }
  return parts.length === 0 ? [] : [`**io, the peers:** ${parts.join('; ')}.`];
}

/** How much of the machine other processes took during the rounds: the caveat on every req/s. */
function noiseText(run: RunResult): string {
  const other = run.workloads.flatMap((w) => w.servers.flatMap((s) => s.rounds)).filter((r) => r.machine.totalTicks > 0).map((r) => (100 * r.machine.otherTicks) / r.machine.totalTicks);
  const m = median(other);
  if (m === null) return '';
  return `Processes outside the benchmark took a median ${fixed(m, 0)}% of the machine's CPU during the rounds (max ${fixed(Math.max(...other), 0)}%): the higher that is, the more req/s moves from round to round, while CPU per request moves less.`;
}

export function readingTheResults(run: RunResult): string[] {
  const v = new View(run);
  const rows = [...throughputRows(v, 'hello'), ...throughputRows(v, 'flask'), ...ioRows(v), ...bodyRows(v), ...memoryRows(v)];
  if (rows.length === 0) return [];
  const out = ['## Reading the results', ''];
  out.push(
    'The targets of issue 4 against this run (ratios are the paired per-round medians of the tables below; the verdicts',
    `are computed by \`bench/reading.ts\`). ${noiseText(run)}`,
    '',
    '| target | this run | verdict |',
    '| :-- | :-- | :-- |',
    ...rows,
  );
  for (const block of [hopFloorText(v), keepAliveText(v), ioPeersText(v), memoryText(v)]) if (block.length > 0) out.push('', ...block);
  return out;
}
