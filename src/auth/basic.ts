/** HTTP Basic authentication (RFC 7617) as mod_auth_basic reads it. */

export type BasicCredentials = { kind: 'none' } | { kind: 'wrong-scheme' } | { kind: 'ok'; user: string; password: string };

/**
 * Reads the Authorization header. The user and password are the decoded bytes as a latin-1
 * string (what Apache passes on as r->user and to providers); the user ends at the first ':'.
 */
export function parseBasic(header: string | undefined): BasicCredentials {
  if (header === undefined) return { kind: 'none' };
  const space = header.indexOf(' ');
  const scheme = space < 0 ? header : header.slice(0, space);
  if (scheme.toLowerCase() !== 'basic') return { kind: 'wrong-scheme' };
  const encoded = space < 0 ? '' : header.slice(space + 1).replace(/^[ \t]+/, '');
  const decoded = Buffer.from(encoded, 'base64').toString('latin1');
  const colon = decoded.indexOf(':');
  return colon < 0 ? { kind: 'ok', user: decoded, password: '' } : { kind: 'ok', user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export function basicChallenge(realm: string): string {
  return `Basic realm="${quoteValue(realm)}"`;
}

/** Escapes a value for a quoted-string, as ap_escape_quotes does for AuthName. */
export function quoteValue(value: string): string {
  return value.replace(/(["\\])/g, '\\$1');
}
