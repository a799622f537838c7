import type { RoundResult, ServerResult } from './results';

export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Successful responses per second of one run: wrk's count minus HTTP errors (status >= 400),
 *  so a server answering fast with errors does not look fast. */
export function okRate(round: RoundResult): number | null {
  const s = round.wrk.summary;
  if (s === null || s.durationUs <= 0) return null;
  return (s.requests - s.errors.status) / (s.durationUs / 1e6);
}

/** The numbers in one table row. */
export interface Row {
  server: string;
  rps: number | null;
  rpsMin: number | null;
  rpsMax: number | null;
  vsApache: number | null;
  vsWsgiHost: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  cpuUsPerRequest: number | null;
  rssMiB: number | null;
  pssMiB: number | null;
  processes: number | null;
  httpErrors: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  /** Per-connection pass: fewest and median successful responses on one connection. */
  minPerConnection: number | null;
  medianPerConnection: number | null;
  connectionsCounted: number;
  perConnectionNon2xx: number;
  wrongBodies: number;
  status: string | null;
}

/**
 * The median over rounds of this server's rate divided by the reference's rate in the same
 * round: pairing by round cancels the drift of a noisy machine better than a ratio of medians.
 */
export function pairedRatio(server: ServerResult, reference: ServerResult | undefined): number | null {
  if (reference === undefined || reference === server) return reference === server ? 1 : null;
  const ratios: number[] = [];
  for (const round of server.rounds) {
    const other = reference.rounds.find((r) => r.round === round.round);
    if (other === undefined) continue;
    const a = okRate(round);
    const b = okRate(other);
    if (a !== null && b !== null && b > 0) ratios.push(a / b);
  }
  return median(ratios);
}

export function summarize(server: ServerResult, all: ServerResult[], ticksPerSecond: number): Row {
  const rates = server.rounds.map(okRate).filter((r): r is number => r !== null);
  const summaries = server.rounds.map((r) => r.wrk.summary).filter((s) => s !== null);
  const latency = (key: 'p50' | 'p99'): number | null => median(summaries.map((s) => s.latencyUs[key]).filter((v): v is number => v !== null).map((us) => us / 1000));
  const requests = summaries.reduce((n, s) => n + s.requests, 0);
  const ticks = server.rounds.reduce((n, r) => n + r.cpuTicks, 0);
  const pc = server.perConnection?.summary ?? null;
  const served = pc?.served ?? [];
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  return {
    server: server.server,
    rps: median(rates),
    rpsMin: rates.length > 0 ? Math.min(...rates) : null,
    rpsMax: rates.length > 0 ? Math.max(...rates) : null,
    vsApache: pairedRatio(server, all.find((s) => s.server === 'apache' && s.rounds.length > 0)),
    vsWsgiHost: pairedRatio(server, all.find((s) => s.server === 'wsgi-host' && s.rounds.length > 0)),
    p50Ms: latency('p50'),
    p99Ms: latency('p99'),
    // Summed over all rounds: CPU time is sampled in 10 ms ticks, too coarse for one round alone.
    cpuUsPerRequest: requests > 0 ? ((ticks / ticksPerSecond) * 1e6) / requests : null,
    rssMiB: server.memory !== null ? server.memory.rssKb / 1024 : null,
    pssMiB: server.memory !== null ? server.memory.pssKb / 1024 : null,
    processes: server.memory?.processes ?? null,
    httpErrors: sum(summaries.map((s) => s.errors.status)),
    socketErrors: {
      connect: sum(summaries.map((s) => s.errors.connect)),
      read: sum(summaries.map((s) => s.errors.read)),
      write: sum(summaries.map((s) => s.errors.write)),
      timeout: sum(summaries.map((s) => s.errors.timeout)),
    },
    minPerConnection: served.length > 0 ? Math.min(...served) : null,
    medianPerConnection: median(served),
    connectionsCounted: served.length,
    perConnectionNon2xx: sum(pc?.non2xx ?? []),
    wrongBodies: sum(pc?.wrongBody ?? []),
    status: server.skipped !== null ? `skipped: ${server.skipped}` : server.failed !== null ? `FAILED: ${server.failed.split('\n')[0]}` : null,
  };
}
