import { request, sleep, type Response } from '../helpers/server';
import type { StatusSnapshot } from '../../src/ops/status-report';

/** Parses mod_status's machine format: the first line is the server name, then "Key: value" lines. */
export function parseAuto(text: string): { name: string; values: Map<string, string> } {
  const lines = text.split('\n').filter((l) => l !== '');
  const values = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const at = line.indexOf(': ');
    if (at < 0) throw new Error(`not a "Key: value" line: ${JSON.stringify(line)}`);
    values.set(line.slice(0, at), line.slice(at + 2));
  }
  return { name: lines[0] ?? '', values };
}

export async function statusJson(base: string, path = '/server-status'): Promise<StatusSnapshot> {
  const res = await request(`${base}${path}?json`);
  if (res.status !== 200) throw new Error(`${path}?json: ${res.status}\n${res.text}`);
  return JSON.parse(res.body.toString('utf8')) as StatusSnapshot;
}

/** Polls `probe` until it returns something other than undefined, for at most `timeoutMs`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = undefined;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last !== undefined ? `: ${String(last)}` : ''}`);
    await sleep(100);
  }
}

/** The value of a Prometheus sample whose name and labels match exactly; undefined if absent. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (match[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) found[pair[1]!] = pair[2]!;
    if (Object.keys(found).length !== Object.keys(labels).length) continue;
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[4]);
  }
  return undefined;
}

export function text(res: Response): string {
  return res.body.toString('utf8');
}
