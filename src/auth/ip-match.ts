import { isIPv4, isIPv6 } from 'node:net';

/**
 * `Require ip` entries as Apache's apr_ipsubnet_create reads them: a full address
 * (192.168.1.7, 2001:db8::1), a partial IPv4 address meaning its network (10, 172.20,
 * 192.168.2), and a network with a prefix length (10.1.0.0/16, 2001:db8::/32) or an IPv4
 * netmask (10.1.0.0/255.255.0.0).
 */
export interface IpSubnet {
  family: 4 | 6;
  network: Uint8Array;
  mask: Uint8Array;
}

export function parseIpSubnet(entry: string): IpSubnet | null {
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const maskText = slash < 0 ? null : entry.slice(slash + 1);
  let family: 4 | 6;
  let network: Uint8Array;
  let mask: Uint8Array;
  if (address.includes(':')) {
    if (!isIPv6(address)) return null;
    family = 6;
    network = ipv6Bytes(address);
    mask = prefixMask(16, 128);
  } else {
    const parts = address.split('.');
    if (parts.length > 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return null;
    family = 4;
    network = new Uint8Array(4);
    parts.forEach((p, i) => (network[i] = Number(p)));
    mask = prefixMask(4, parts.length * 8);
  }
  if (maskText !== null) {
    if (/^\d+$/.test(maskText)) {
      const bits = Number(maskText);
      if (bits > (family === 4 ? 32 : 128)) return null;
      mask = prefixMask(family === 4 ? 4 : 16, bits);
    } else if (family === 4 && isIPv4(maskText)) {
      mask = Uint8Array.from(maskText.split('.').map(Number));
    } else {
      return null;
    }
  }
  for (let i = 0; i < network.length; i++) network[i]! &= mask[i]!;
  return { family, network, mask };
}

/** Whether a client address (as Node reports it) is in one of the subnets. */
export function matchesAny(subnets: readonly IpSubnet[], address: string): boolean {
  const plain = address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
  const family = isIPv4(plain) ? 4 : isIPv6(plain) ? 6 : 0;
  if (family === 0) return false;
  const bytes = family === 4 ? Uint8Array.from(plain.split('.').map(Number)) : ipv6Bytes(plain);
  outer: for (const subnet of subnets) {
    if (subnet.family !== family) continue;
    for (let i = 0; i < bytes.length; i++) if ((bytes[i]! & subnet.mask[i]!) !== subnet.network[i]) continue outer;
    return true;
  }
  return false;
}

function prefixMask(length: number, bits: number): Uint8Array {
  const mask = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const take = Math.max(0, Math.min(8, bits - i * 8));
    mask[i] = take === 0 ? 0 : (0xff << (8 - take)) & 0xff;
  }
  return mask;
}

function ipv6Bytes(address: string): Uint8Array {
  let text = address;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4 !== null) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, v4.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, null];
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === null || tail === '' ? [] : tail.split(':');
  const groups = tail === null ? headGroups : [...headGroups, ...new Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    const value = parseInt(g, 16);
    bytes[i * 2] = value >> 8;
    bytes[i * 2 + 1] = value & 0xff;
  });
  return bytes;
}
