import { createHash } from 'node:crypto';
// serveSite lives with the other server helpers; the auth tests import it from here too.
export { serveSite, type Site } from './server';

/** A client's side of HTTP authentication, computed independently of the server's code. */

export function basic(user: string, password: string): string {
  return 'Basic ' + Buffer.from(`${user}:${password}`, 'latin1').toString('base64');
}

export function md5(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

/** The parameters of a `WWW-Authenticate: Digest ...` challenge. */
export function parseChallenge(header: string | string[] | undefined): Record<string, string> {
  const text = Array.isArray(header) ? header[0]! : (header ?? '');
  assert(text.startsWith('Digest '), `not a Digest challenge: ${text}`);
  const params: Record<string, string> = {};
  for (const match of text.slice(7).matchAll(/([a-zA-Z]+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))/g)) params[match[1]!.toLowerCase()] = match[2] ?? match[3]!;
  return params;
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

export interface DigestOptions {
  user: string;
  password?: string;
  /** The hash to use as HA1 instead of md5(user:realm:password). */
  ha1?: string;
  realm: string;
  nonce: string;
  method: string;
  uri: string;
  /** 'auth', or null for the RFC 2069 form. */
  qop?: string | null;
  nc?: string;
  cnonce?: string;
  extra?: string;
}

/** The Authorization header a Digest client sends (RFC 2617). */
export function digestAuthorization(o: DigestOptions): string {
  const ha1 = o.ha1 ?? md5(`${o.user}:${o.realm}:${o.password ?? ''}`);
  const ha2 = md5(`${o.method}:${o.uri}`);
  const qop = o.qop === undefined ? 'auth' : o.qop;
  const nc = o.nc ?? '00000001';
  const cnonce = o.cnonce ?? 'a1b2c3d4';
  const response = qop === null ? md5(`${ha1}:${o.nonce}:${ha2}`) : md5(`${ha1}:${o.nonce}:${nc}:${cnonce}:${qop}:${ha2}`);
  return (
    `Digest username="${o.user}", realm="${o.realm}", nonce="${o.nonce}", uri="${o.uri}", algorithm=MD5, response="${response}"` +
    (qop !== null ? `, qop=${qop}, nc=${nc}, cnonce="${cnonce}"` : '') +
    (o.extra ?? '')
  );
}

/** rspauth of Authentication-Info, as the client checks it. */
export function expectedRspauth(o: DigestOptions): string {
  const ha1 = o.ha1 ?? md5(`${o.user}:${o.realm}:${o.password ?? ''}`);
  return md5(`${ha1}:${o.nonce}:${o.nc ?? '00000001'}:${o.cnonce ?? 'a1b2c3d4'}:${o.qop ?? 'auth'}:${md5(`:${o.uri}`)}`);
}

