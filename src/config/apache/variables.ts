/**
 * ${NAME} substitution as Apache's ap_resolve_env does it: one left-to-right pass over the whole
 * line before it is split into words (so a value may contain spaces and become several words),
 * substituted text is never rescanned (no recursive expansion, no loops), `${` without a later
 * `}` is literal text, and an unknown name stays as written and is reported.
 */

export interface Expansion {
  text: string;
  /** Names that were neither Define'd with a value nor in the environment, in order of use. */
  undefinedNames: string[];
}

export function expandVariables(text: string, lookup: (name: string) => string | undefined): Expansion {
  if (!text.includes('${')) return { text, undefinedNames: [] };
  const undefinedNames: string[] = [];
  let out = '';
  let pos = 0;
  for (;;) {
    const start = text.indexOf('${', pos);
    if (start < 0) break;
    const close = text.indexOf('}', start + 2);
    if (close < 0) break; // Apache: a '$' with no closing brace is just text
    const name = text.slice(start + 2, close);
    const value = lookup(name);
    out += text.slice(pos, start);
    if (value !== undefined) {
      out += value;
    } else {
      out += text.slice(start, close + 1);
      // Names with ':' are left alone silently: that syntax belongs to RewriteMap and friends.
      if (!name.includes(':')) undefinedNames.push(name);
    }
    pos = close + 1;
  }
  return { text: out + text.slice(pos), undefinedNames };
}
