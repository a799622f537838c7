import { promises as dns } from 'node:dns';
import type { ConnectionInfo } from '../front/environ';

/**
 * The client's host name for `Require host`, found as Apache's double-reverse lookup finds it:
 * the name the address maps back to, accepted only if that name maps forward to the address
 * again. Null if there is none. Looked up once per connection, as Apache does.
 */
const cache = new WeakMap<ConnectionInfo, Promise<string | null>>();

export function remoteHostName(connection: ConnectionInfo): Promise<string | null> {
  let pending = cache.get(connection);
  if (pending === undefined) {
    pending = doubleReverse(connection.remoteAddress);
    cache.set(connection, pending);
  }
  return pending;
}

async function doubleReverse(address: string): Promise<string | null> {
  try {
    const { hostname } = await dns.lookupService(address, 0);
    const forward = await dns.lookup(hostname, { all: true });
    return forward.some((entry) => entry.address === address) ? hostname : null;
  } catch {
    return null;
  }
}

/** Apache's in_domain: `domain` is the whole name, or a whole-label suffix of it (good.com is not in nogood.com). */
export function inDomain(domain: string, name: string): boolean {
  const d = domain.toLowerCase();
  const n = name.toLowerCase();
  if (!n.endsWith(d)) return false;
  if (n.length === d.length) return true;
  return d.startsWith('.') || n[n.length - d.length - 1] === '.';
}
