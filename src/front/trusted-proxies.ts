/**
 * WSGITrustedProxies: which peers' proxy headers (and request ids) are believed. Entries are IP
 * addresses or CIDR subnets, IPv4 or IPv6, as mod_wsgi accepts them.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** A parsed entry, or the reason it is not one. */
export type ProxyEntry = { ok: true; address: string; prefix: number; family: 'ipv4' | 'ipv6' } | { ok: false; reason: string };

export function parseProxyEntry(entry: string): ProxyEntry {
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : null;
  if (family === null) return { ok: false, reason: `"${entry}" is not an IP address or a subnet such as 10.0.0.0/8 or fd00::/8` };
  const max = family === 'ipv4' ? 32 : 128;
  if (slash < 0) return { ok: true, address, prefix: max, family };
  const text = entry.slice(slash + 1);
  const prefix = Number(text);
  if (!/^\d{1,3}$/.test(text) || prefix > max) return { ok: false, reason: `"${entry}" has a bad prefix length: use 0 to ${max} for an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} subnet` };
  return { ok: true, address, prefix, family };
}

/** Node reports IPv4 peers of dual-stack listeners as ::ffff:a.b.c.d; proxies are listed as a.b.c.d. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

export class TrustedProxies {
  private readonly list = new BlockList();

  /** `entries` were checked when the configuration was read; bad ones are skipped here. */
  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const parsed = parseProxyEntry(entry);
      if (!parsed.ok) continue;
      if (parsed.prefix === (parsed.family === 'ipv4' ? 32 : 128)) this.list.addAddress(parsed.address, parsed.family);
      else this.list.addSubnet(parsed.address, parsed.prefix, parsed.family);
    }
  }

  trusts(address: string | undefined): boolean {
    if (address === undefined || address === '') return false;
    const plain = plainAddress(address);
    if (isIPv4(plain)) return this.list.check(plain, 'ipv4');
    if (isIPv6(plain)) return this.list.check(plain, 'ipv6');
    return false;
  }
}

const cache = new WeakMap<readonly string[], TrustedProxies>();

/** The matcher for a resolved settings list, built once per list (settings are cached objects). */
export function trustedProxiesFor(entries: readonly string[]): TrustedProxies {
  let matcher = cache.get(entries);
  if (matcher === undefined) {
    matcher = new TrustedProxies(entries);
    cache.set(entries, matcher);
  }
  return matcher;
}
