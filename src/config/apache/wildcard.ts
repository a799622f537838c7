/**
 * The subset of apr_fnmatch that Include uses: one path component, `*`, `?`, `[...]` (with `!`
 * or `^` negation and ranges), backslash escapes, and APR_FNM_PERIOD (a leading dot must be
 * written literally, so `*.conf` does not pick up editor leftovers like `.#x.conf`).
 * Matching is done with a linear backtracking loop instead of a RegExp so that no pattern can
 * make it slow.
 */

type Token =
  | { t: 'lit'; c: string }
  | { t: 'any' }
  | { t: 'star' }
  | { t: 'set'; negate: boolean; chars: string[]; ranges: Array<[string, string]> };

/** apr_fnmatch_test: is there anything to expand? A `[` counts only if a `]` follows it. */
export function hasWildcard(pattern: string): boolean {
  let openBrackets = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '?' || c === '*') return true;
    if (c === '\\') {
      if (++i >= pattern.length) return false;
    } else if (c === '[') {
      openBrackets++;
    } else if (c === ']' && openBrackets > 0) {
      return true;
    }
  }
  return false;
}

export function matchesWildcard(pattern: string, name: string): boolean {
  const tokens = tokenize(Array.from(pattern));
  const chars = Array.from(name);
  let p = 0;
  let s = 0;
  if (chars[0] === '.') {
    const first = tokens[0];
    if (!first || first.t !== 'lit' || first.c !== '.') return false;
    p = 1;
    s = 1;
  }
  let starP = -1;
  let starS = 0;
  while (s < chars.length) {
    const tok = tokens[p];
    if (tok?.t === 'star') {
      starP = p++;
      starS = s;
    } else if (tok && matchesOne(tok, chars[s]!)) {
      p++;
      s++;
    } else if (starP >= 0) {
      // Let the last '*' swallow one more character and retry from there.
      p = starP + 1;
      s = ++starS;
    } else {
      return false;
    }
  }
  while (tokens[p]?.t === 'star') p++;
  return p === tokens.length;
}

function matchesOne(tok: Token, c: string): boolean {
  switch (tok.t) {
    case 'lit':
      return tok.c === c;
    case 'any':
      return true;
    case 'star':
      return false;
    case 'set': {
      const hit = tok.chars.includes(c) || tok.ranges.some(([lo, hi]) => c >= lo && c <= hi);
      return hit !== tok.negate;
    }
  }
}

function tokenize(p: string[]): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\' && i + 1 < p.length) {
      tokens.push({ t: 'lit', c: p[++i]! });
    } else if (c === '?') {
      tokens.push({ t: 'any' });
    } else if (c === '*') {
      if (tokens[tokens.length - 1]?.t !== 'star') tokens.push({ t: 'star' });
    } else if (c === '[') {
      const set = parseBracket(p, i);
      if (set) {
        tokens.push(set.token);
        i = set.end - 1;
      } else {
        tokens.push({ t: 'lit', c }); // an unbalanced '[' is an ordinary character
      }
    } else {
      tokens.push({ t: 'lit', c });
    }
  }
  return tokens;
}

/** Parses `[...]` starting at p[open] === '['; undefined when it is not a balanced expression. */
function parseBracket(p: string[], open: number): { token: Token; end: number } | undefined {
  let i = open + 1;
  const negate = p[i] === '!' || p[i] === '^';
  if (negate) i++;
  const chars: string[] = [];
  const ranges: Array<[string, string]> = [];
  let first = true;
  while (i < p.length) {
    if (p[i] === ']' && !first) {
      return { token: { t: 'set', negate, chars, ranges }, end: i + 1 };
    }
    first = false;
    if (p[i] === '\\') {
      i++;
      if (i >= p.length) return undefined;
    }
    const lo = p[i]!;
    if (p[i + 1] === '-' && p[i + 2] !== undefined && p[i + 2] !== ']') {
      let hiAt = i + 2;
      if (p[hiAt] === '\\') hiAt++;
      const hi = p[hiAt];
      if (hi === undefined) return undefined;
      ranges.push([lo, hi]);
      i = hiAt + 1;
    } else {
      chars.push(lo);
      i++;
    }
  }
  return undefined;
}
