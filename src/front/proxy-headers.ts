/**
 * WSGITrustedProxyHeaders / WSGITrustedProxies, with mod_wsgi 6's rules: only the headers the
 * administrator lists are believed, and only from a trusted peer; every synonym of a listed
 * header's category is removed from the environ, except the one that was applied, so a client
 * cannot slip a spoofed value past the proxy under another name.
 */
import { isIP } from 'node:net';
import { mLatin1, mStr } from '../protocol/marshal-text';
import { trustedProxiesFor, type TrustedProxies } from './trusted-proxies';

type Category = 'client' | 'host' | 'server' | 'port' | 'script-name' | 'scheme';
type Apply = 'forwarded-for' | 'verbatim' | 'scheme-string' | 'scheme-flag';

/** The headers mod_wsgi knows, by environ name. */
const REGISTRY: Record<string, { category: Category; apply: Apply; target: string }> = {
  HTTP_X_FORWARDED_FOR: { category: 'client', apply: 'forwarded-for', target: 'REMOTE_ADDR' },
  HTTP_X_CLIENT_IP: { category: 'client', apply: 'verbatim', target: 'REMOTE_ADDR' },
  HTTP_X_REAL_IP: { category: 'client', apply: 'verbatim', target: 'REMOTE_ADDR' },
  HTTP_X_FORWARDED_HOST: { category: 'host', apply: 'verbatim', target: 'HTTP_HOST' },
  HTTP_X_HOST: { category: 'host', apply: 'verbatim', target: 'HTTP_HOST' },
  HTTP_X_FORWARDED_SERVER: { category: 'server', apply: 'verbatim', target: 'SERVER_NAME' },
  HTTP_X_FORWARDED_PORT: { category: 'port', apply: 'verbatim', target: 'SERVER_PORT' },
  HTTP_X_SCRIPT_NAME: { category: 'script-name', apply: 'verbatim', target: 'SCRIPT_NAME' },
  HTTP_X_FORWARDED_SCRIPT_NAME: { category: 'script-name', apply: 'verbatim', target: 'SCRIPT_NAME' },
  HTTP_X_FORWARDED_PROTO: { category: 'scheme', apply: 'scheme-string', target: 'wsgi.url_scheme' },
  HTTP_X_FORWARDED_SCHEME: { category: 'scheme', apply: 'scheme-string', target: 'wsgi.url_scheme' },
  HTTP_X_SCHEME: { category: 'scheme', apply: 'scheme-string', target: 'wsgi.url_scheme' },
  HTTP_X_FORWARDED_HTTPS: { category: 'scheme', apply: 'scheme-flag', target: 'wsgi.url_scheme' },
  HTTP_X_FORWARDED_SSL: { category: 'scheme', apply: 'scheme-flag', target: 'wsgi.url_scheme' },
  HTTP_X_HTTPS: { category: 'scheme', apply: 'scheme-flag', target: 'wsgi.url_scheme' },
};

/** What the environ gets instead of the plain request: header fields to encode, and entries that win over the CGI keys. */
export interface ProxyEnviron {
  /** rawHeaders without the stripped fields (and with X-Forwarded-For rewritten). */
  rawHeaders: string[];
  /** Marshal-encoded dict entries, written last so they replace what came before. */
  overrides: string;
}

/** The environ name of a header field name, as mod_wsgi forms it. */
function environName(field: string): string {
  return 'HTTP_' + field.toUpperCase().replace(/-/g, '_');
}

/**
 * Applies the trusted proxy headers to one request. `listed` holds the HTTP_* names from
 * WSGITrustedProxyHeaders; `proxies` the WSGITrustedProxies entries (empty: every peer is
 * trusted, as in mod_wsgi). `scheme` is the connection's own scheme.
 */
export function proxyEnviron(raw: readonly string[], listed: readonly string[], proxies: readonly string[], peer: string, scheme: 'http' | 'https'): ProxyEnviron {
  const matcher = proxies.length > 0 ? trustedProxiesFor(proxies) : null;
  const trustedPeer = matcher === null || matcher.trusts(peer);
  // Values as the environ shows them: repeated fields joined with ", ".
  const values = new Map<string, string>();
  for (let i = 0; i < raw.length; i += 2) {
    const name = environName(raw[i]!);
    if (REGISTRY[name] === undefined) continue;
    const previous = values.get(name);
    values.set(name, previous === undefined ? raw[i + 1]! : `${previous}, ${raw[i + 1]!}`);
  }

  const matched = new Set<Category>();
  const kept = new Map<Category, string>();
  const set = new Map<string, string>();
  let forwardedFor: string | null = null;
  let https: boolean | null = null;
  for (const name of listed) {
    const entry = REGISTRY[name];
    if (entry === undefined) continue;
    matched.add(entry.category);
    if (!trustedPeer) continue;
    const value = values.get(name);
    if (value === undefined) continue;
    switch (entry.apply) {
      case 'forwarded-for': {
        const result = walkForwardedFor(value, matcher);
        if (result.remoteAddr !== null) set.set('REMOTE_ADDR', result.remoteAddr);
        forwardedFor = result.header;
        break;
      }
      case 'verbatim':
        set.set(entry.target, value);
        if (entry.target === 'SCRIPT_NAME') set.set('mod_wsgi.mount_point', value);
        break;
      case 'scheme-string':
        if (value.toLowerCase() === 'https') https = true;
        else if (value.toLowerCase() === 'http') https = false;
        break;
      case 'scheme-flag': {
        const flag = value.toLowerCase();
        if (flag === 'on' || flag === 'true' || flag === '1') https = true;
        else if (flag === 'off' || flag === 'false' || flag === '0') https = false;
        break;
      }
    }
    kept.set(entry.category, name);
  }
  if (https !== null) set.set('wsgi.url_scheme', https ? 'https' : 'http');
  else if (kept.has('scheme')) set.set('wsgi.url_scheme', scheme);

  const rawHeaders: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = environName(raw[i]!);
    const entry = REGISTRY[name];
    if (entry !== undefined && matched.has(entry.category)) {
      if (kept.get(entry.category) !== name) continue;
      if (name === 'HTTP_X_FORWARDED_FOR' && forwardedFor !== null) continue;
    }
    rawHeaders.push(raw[i]!, raw[i + 1]!);
  }
  if (forwardedFor !== null) rawHeaders.push('X-Forwarded-For', forwardedFor);

  let overrides = '';
  for (const [key, value] of set) overrides += mLatin1(key) + mStr(value);
  return { rawHeaders, overrides };
}

/**
 * X-Forwarded-For. Without WSGITrustedProxies: the first non-empty element is the client, the
 * header stays as sent. With it: walking from the right past the trusted proxies, the element
 * just before the leftmost trusted one is the client and the header is cut to start there; if
 * the rightmost element is not a trusted proxy, it is the client and the header holds only it.
 */
function walkForwardedFor(value: string, matcher: TrustedProxies | null): { remoteAddr: string | null; header: string | null } {
  const items = value.split(',').map((item) => item.trim()).filter((item) => item !== '');
  if (items.length === 0) return { remoteAddr: null, header: null };
  if (matcher === null) return { remoteAddr: items[0]!, header: null };
  let first = -1;
  for (let i = items.length - 1; i >= 0; i--) {
    if (isIP(items[i]!) === 0 || !matcher.trusts(items[i]!)) break;
    first = i;
  }
  if (first < 0) return { remoteAddr: items[items.length - 1]!, header: items[items.length - 1]! };
  const start = Math.max(first - 1, 0);
  return { remoteAddr: items[start]!, header: items.slice(start).join(', ') };
}
