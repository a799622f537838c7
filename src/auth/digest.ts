import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { quoteValue } from './basic';

/**
 * HTTP Digest authentication (RFC 2617, RFC 7616 with MD5) as mod_auth_digest does it: the
 * server issues nonces it can check without keeping state (a timestamp and a keyed hash of it
 * and the realm), accepts qop=auth only (as Apache 2.4 does now: RFC 7616 dropped the RFC 2069
 * form without qop), and reports an
 * expired nonce with stale=true so the client retries without asking the user again.
 */

/** The fields of an `Authorization: Digest ...` header. */
export interface DigestResponse {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm: string | null;
  cnonce: string | null;
  opaque: string | null;
  qop: string | null;
  nc: string | null;
}

export type DigestCredentials =
  | { kind: 'none' }
  | { kind: 'wrong-scheme'; scheme: string }
  | { kind: 'invalid' }
  | { kind: 'ok'; response: DigestResponse };

/** Parses the header as mod_auth_digest's get_digest_rec does (key=value or key="quoted", comma separated). */
export function parseDigest(header: string | undefined): DigestCredentials {
  if (header === undefined) return { kind: 'none' };
  const schemeEnd = header.search(/\s|$/);
  const scheme = header.slice(0, schemeEnd);
  if (scheme.toLowerCase() !== 'digest') return { kind: 'wrong-scheme', scheme };
  const fields = new Map<string, string>();
  let i = schemeEnd;
  const n = header.length;
  while (i < n) {
    while (i < n && /\s/.test(header[i]!)) i++;
    let key = '';
    while (i < n && header[i] !== '=' && header[i] !== ',' && !/\s/.test(header[i]!)) key += header[i++];
    while (i < n && /\s/.test(header[i]!)) i++;
    let value = '';
    if (header[i] === '=') {
      i++;
      while (i < n && /\s/.test(header[i]!)) i++;
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i++];
        }
        if (i < n) i++;
      } else {
        while (i < n && header[i] !== ',' && !/\s/.test(header[i]!)) value += header[i++];
      }
    }
    while (i < n && header[i] !== ',') i++;
    if (i < n) i++;
    if (key !== '') fields.set(key.toLowerCase(), value);
  }
  const get = (name: string): string | null => fields.get(name) ?? null;
  const response: DigestResponse = {
    username: get('username') ?? '',
    realm: get('realm') ?? '',
    nonce: get('nonce') ?? '',
    uri: get('uri') ?? '',
    response: get('response') ?? '',
    algorithm: get('algorithm'),
    cnonce: get('cnonce'),
    opaque: get('opaque'),
    qop: get('qop'),
    nc: get('nc'),
  };
  for (const required of ['username', 'realm', 'nonce', 'uri', 'response']) if (!fields.has(required)) return { kind: 'invalid' };
  if (response.qop !== null && (response.cnonce === null || response.nc === null)) return { kind: 'invalid' };
  return { kind: 'ok', response };
}

export function md5Hex(text: string): string {
  return createHash('md5').update(text, 'latin1').digest('hex');
}

/** The response a client that knows the password sends with qop=auth (RFC 7616 section 3.4.1). */
export function expectedDigest(ha1: string, method: string, r: DigestResponse): string {
  const ha2 = md5Hex(`${method}:${r.uri}`);
  return md5Hex(`${ha1}:${r.nonce}:${r.nc ?? ''}:${r.cnonce ?? ''}:${r.qop ?? ''}:${ha2}`);
}

/** Authentication-Info for a successful request: proves the server knows the password too. */
export function authenticationInfo(ha1: string, r: DigestResponse, nextNonce: string | null): string {
  const next = nextNonce !== null ? `, nextnonce="${nextNonce}"` : '';
  const rspauth = md5Hex(`${ha1}:${r.nonce}:${r.nc ?? ''}:${r.cnonce ?? ''}:${r.qop}:${md5Hex(`:${r.uri}`)}`);
  return `rspauth="${rspauth}"${next}, cnonce="${quoteValue(r.cnonce ?? '')}", nc=${r.nc ?? ''}, qop=${r.qop}`;
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'latin1');
  const y = Buffer.from(b, 'latin1');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Base64 of an 8-byte time: 12 characters, the last one '=' (as mod_auth_digest's). */
const TIME_LENGTH = 12;
const HASH_LENGTH = 40;
export const NONCE_LENGTH = TIME_LENGTH + HASH_LENGTH;

export type NonceCheck = { ok: true; issuedMicros: number } | { ok: false; reason: 'format' | 'hash' };

/**
 * Stateless nonces: base64 of the issue time in microseconds, then an HMAC of that time and the
 * realm under a secret made when the server starts (a restarted server's nonces are stale).
 */
export class DigestNonces {
  private readonly secret = randomBytes(32);

  issue(realm: string, nowMicros: number): string {
    const time = Buffer.alloc(8);
    time.writeBigUInt64BE(BigInt(Math.floor(nowMicros)));
    const stamp = time.toString('base64');
    return stamp + this.hash(realm, stamp);
  }

  check(nonce: string, realm: string): NonceCheck {
    if (nonce.length !== NONCE_LENGTH || nonce[TIME_LENGTH - 1] !== '=') return { ok: false, reason: 'format' };
    const stamp = nonce.slice(0, TIME_LENGTH);
    if (!safeEqual(this.hash(realm, stamp), nonce.slice(TIME_LENGTH))) return { ok: false, reason: 'hash' };
    const time = Buffer.from(stamp, 'base64');
    if (time.length !== 8) return { ok: false, reason: 'format' };
    return { ok: true, issuedMicros: Number(time.readBigUInt64BE()) };
  }

  private hash(realm: string, stamp: string): string {
    return createHmac('sha1', this.secret).update(`${realm}\0${stamp}`, 'latin1').digest('hex');
  }
}

export interface ChallengeOptions {
  realm: string;
  nonce: string;
  domain: string[] | null;
  stale: boolean;
}

export function digestChallenge(o: ChallengeOptions): string {
  return (
    `Digest realm="${quoteValue(o.realm)}", nonce="${o.nonce}", algorithm=MD5` +
    (o.domain !== null ? `, domain="${o.domain.join(' ')}"` : '') +
    (o.stale ? ', stale=true' : '') +
    ', qop="auth"'
  );
}

/**
 * Whether the digest's uri names the request, as mod_auth_digest allows: the request target
 * as sent, or the same scheme-less path and query once unescaped (a proxy may have rewritten
 * one of them), with a host and port, if given, that are the request's. Null: not a URI at all.
 */
export function digestUriMatches(digestUri: string, requestUri: string, host: string, port: number): boolean | null {
  if (digestUri === requestUri) return true;
  let d: URL;
  let r: URL;
  try {
    d = new URL(digestUri, 'http://request.invalid');
    r = new URL(requestUri, 'http://request.invalid');
  } catch {
    return null;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(digestUri)) {
    if (d.hostname.toLowerCase() !== host.toLowerCase()) return false;
    const dPort = d.port === '' ? (d.protocol === 'https:' ? 443 : 80) : Number(d.port);
    if (dPort !== port) return false;
  }
  return unescape(d.pathname) === unescape(r.pathname) && unescape(d.search) === unescape(r.search);
}

function unescape(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
