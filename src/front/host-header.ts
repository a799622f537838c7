/** The Host header (or an absolute-form target's authority) split as Apache splits it. */
export interface HostAndPort {
  /** Lower-cased, without a trailing dot; IPv6 literals keep their brackets. */
  hostname: string;
  port: number | null;
}

const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]*)(?::([0-9]*))?$/;

/** Host values repeat from request to request: parse each once. */
const cache = new Map<string, HostAndPort | null>();
const CACHE_LIMIT = 1000;

/** Returns null for a malformed host (Apache answers 400). */
export function parseHost(value: string): HostAndPort | null {
  let parsed = cache.get(value);
  if (parsed !== undefined) return parsed;
  parsed = parseHostUncached(value);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(value, parsed);
  return parsed;
}

function parseHostUncached(value: string): HostAndPort | null {
  const match = HOST.exec(value.trim());
  if (match === null) return null;
  let hostname = match[1]!.toLowerCase();
  if (hostname.endsWith('.')) hostname = hostname.slice(0, -1);
  const portText = match[2];
  let port: number | null = null;
  if (portText !== undefined && portText !== '') {
    port = Number(portText);
    if (!Number.isInteger(port) || port > 65535) return null;
  }
  return { hostname, port };
}
