import type { ReadTimeoutStage, RequestReadTimeouts } from './model';

const STAGES = ['handshake', 'header', 'body'] as const;

/**
 * Reads RequestReadTimeout's arguments (mod_reqtimeout): `stage=timeout[-maxtimeout][,MinRate=rate]`
 * for the stages handshake, header and body. A timeout of 0 turns the stage off; stages not
 * named keep what `base` has (mod_reqtimeout's defaults). Returns the reason for a bad argument.
 */
export function parseRequestReadTimeout(args: readonly string[], base: RequestReadTimeouts): RequestReadTimeouts | { error: string } {
  const result: RequestReadTimeouts = { ...base };
  for (const arg of args) {
    const eq = arg.indexOf('=');
    const stage = (eq > 0 ? arg.slice(0, eq) : arg).toLowerCase() as (typeof STAGES)[number];
    if (eq <= 0 || !STAGES.includes(stage)) return { error: `unknown parameter "${arg}": use handshake=, header= or body=, e.g. header=20-40,MinRate=500` };
    const match = /^(\d+)(?:-(\d+))?(?:,minrate=(\d+))?$/i.exec(arg.slice(eq + 1));
    if (match === null) return { error: `"${arg}" is not of the form ${stage}=SECONDS[-MAXSECONDS][,MinRate=BYTES]` };
    const timeout = Number(match[1]);
    const maxTimeout = match[2] === undefined ? 0 : Number(match[2]);
    const minRate = match[3] === undefined ? 0 : Number(match[3]);
    if (match[2] !== undefined && maxTimeout <= timeout) return { error: `"${arg}": the maximum timeout must be larger than the initial timeout` };
    if (match[2] !== undefined && minRate === 0) return { error: `"${arg}": a timeout range needs MinRate=BYTES (the rate that earns more time)` };
    if (match[3] !== undefined && minRate === 0) return { error: `"${arg}": MinRate must be at least 1` };
    result[stage] = timeout === 0 ? null : ({ timeout, maxTimeout, minRate } satisfies ReadTimeoutStage);
  }
  return result;
}

/** The directive's arguments for a setting, for --setup-only. */
export function formatRequestReadTimeout(timeouts: RequestReadTimeouts): string {
  return STAGES.map((stage) => {
    const s = timeouts[stage];
    if (s === null) return `${stage}=0`;
    return `${stage}=${s.timeout}${s.maxTimeout > 0 ? `-${s.maxTimeout}` : ''}${s.minRate > 0 ? `,MinRate=${s.minRate}` : ''}`;
  }).join(' ');
}
