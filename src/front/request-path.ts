/**
 * The request target as Apache reads it: the path is percent-decoded (to latin-1 characters,
 * one per byte), dot segments are resolved, runs of slashes merged; the query string stays raw.
 */

export type ParsedTarget =
  | { ok: true; path: string; query: string; rawPath: string; hostFromTarget: string | null }
  | { ok: false; status: 400 | 404; reason: string };

const HEX = /^[0-9A-Fa-f]{2}$/;

/** Splits and decodes a request-target (origin-form, absolute-form or "*"). */
export function parseTarget(target: string): ParsedTarget {
  // Most paths need no decoding or normalising: a few scans decide, without the full parse.
  if (target.charCodeAt(0) === 47) {
    const q = target.indexOf('?');
    const rawPath = q >= 0 ? target.slice(0, q) : target;
    if (!rawPath.includes('%') && !rawPath.includes('/.') && !rawPath.includes('//') && !target.includes('#')) {
      return { ok: true, path: rawPath, query: q >= 0 ? target.slice(q + 1) : '', rawPath, hostFromTarget: null };
    }
  }
  let rest = target;
  let hostFromTarget: string | null = null;
  const absolute = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(rest);
  if (absolute !== null) {
    hostFromTarget = absolute[1]!.replace(/^[^@]*@/, '');
    rest = rest.slice(absolute[0].length);
    if (rest === '' || rest[0] === '?') rest = '/' + rest;
  }
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  const q = rest.indexOf('?');
  const rawPath = q >= 0 ? rest.slice(0, q) : rest;
  const query = q >= 0 ? rest.slice(q + 1) : '';
  if (rawPath === '*') return { ok: true, path: '*', query, rawPath, hostFromTarget };
  if (rawPath[0] !== '/') return { ok: false, status: 400, reason: `invalid URI in request: the path must start with '/'` };
  const decoded = percentDecode(rawPath);
  if (typeof decoded !== 'string') return decoded;
  const normalized = removeDotSegments(mergeSlashes(decoded));
  if (normalized === null) return { ok: false, status: 400, reason: `invalid URI path: it climbs above the root` };
  return { ok: true, path: normalized, query, rawPath, hostFromTarget };
}

/**
 * Decodes %XX escapes to the byte's latin-1 character. As Apache's ap_unescape_url: a malformed
 * escape is 400; an encoded "/" or NUL is 404 (AllowEncodedSlashes Off).
 */
export function percentDecode(raw: string): string | { ok: false; status: 400 | 404; reason: string } {
  if (!raw.includes('%')) return raw;
  let out = '';
  let forbidden = false;
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch !== '%') {
      out += ch;
      continue;
    }
    const hex = raw.slice(i + 1, i + 3);
    if (!HEX.test(hex)) return { ok: false, status: 400, reason: `invalid percent escape in the URL path` };
    const code = parseInt(hex, 16);
    if (code === 0 || code === 0x2f) forbidden = true;
    out += String.fromCharCode(code);
    i += 2;
  }
  if (forbidden) return { ok: false, status: 404, reason: `the URL path holds an encoded '/' or NUL` };
  return out;
}

/** Resolves "." and ".." segments; null if ".." would climb above the root. */
export function removeDotSegments(path: string): string | null {
  if (!path.includes('/.')) return path;
  const input = path.split('/');
  const output: string[] = [];
  for (let i = 1; i < input.length; i++) {
    const segment = input[i]!;
    const last = i === input.length - 1;
    if (segment === '.') {
      if (last) output.push('');
      continue;
    }
    if (segment === '..') {
      if (output.length === 0) return null;
      output.pop();
      if (last) output.push('');
      continue;
    }
    output.push(segment);
  }
  return '/' + output.join('/');
}

export function mergeSlashes(path: string): string {
  return path.includes('//') ? path.replace(/\/{2,}/g, '/') : path;
}
