/**
 * Splits the arguments of mod_wsgi's own directives (WSGIDaemonProcess, WSGIScriptAlias, ...),
 * which mod_wsgi reads itself rather than through Apache's word splitter: a word may be quoted
 * as a whole ("/srv/my app") and an option's value may be quoted after its '='
 * (home="/srv/my app"). Quotes are removed; a backslash escapes the quote inside them.
 */
export function splitModWsgiArgs(raw: string): string[] | { error: string } {
  const words: string[] = [];
  let i = 0;
  const n = raw.length;
  while (i < n) {
    while (i < n && /\s/.test(raw[i]!)) i++;
    if (i >= n) break;
    let word = '';
    while (i < n && !/\s/.test(raw[i]!)) {
      const ch = raw[i]!;
      if (ch === '"' || ch === "'") {
        const close = findClosingQuote(raw, i + 1, ch);
        if (close < 0) return { error: `unterminated ${ch} quote in: ${raw.slice(i)}` };
        word += raw.slice(i + 1, close).replace(new RegExp(`\\\\(${ch}|\\\\)`, 'g'), '$1');
        i = close + 1;
        continue;
      }
      word += ch;
      i++;
    }
    words.push(word);
  }
  return words;
}

function findClosingQuote(text: string, from: number, quote: string): number {
  for (let i = from; i < text.length; i++) {
    if (text[i] === '\\') {
      i++;
      continue;
    }
    if (text[i] === quote) return i;
  }
  return -1;
}
