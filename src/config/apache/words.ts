import { isConfigSpace } from './logical-lines.js';

/**
 * Splits directive arguments exactly like Apache's ap_getword_conf, so that a configuration
 * means the same thing here as under httpd:
 *  - words are separated by whitespace;
 *  - a word that STARTS with " or ' runs to the next unescaped matching quote, and the quotes are
 *    removed; an unterminated quote takes the rest of the line (httpd does not complain);
 *  - a quote in the middle of a word is an ordinary character;
 *  - inside quotes `\<quote>` stands for the quote, and everywhere `\\` stands for one backslash
 *    (substring_conf); every other backslash is kept, so regexes like `\.php$` survive.
 */

export interface Word {
  word: string;
  /** Index just past the word and the whitespace after it. */
  end: number;
}

export function readWord(s: string, start: number): Word {
  let i = start;
  while (i < s.length && isConfigSpace(s[i])) i++;
  if (i >= s.length) return { word: '', end: i };

  const quote = s[i];
  let word: string;
  let j: number;
  if (quote === '"' || quote === "'") {
    j = i + 1;
    while (j < s.length && s[j] !== quote) {
      j += s[j] === '\\' && (s[j + 1] === quote || s[j + 1] === '\\') ? 2 : 1;
    }
    word = unescapeWord(s.slice(i + 1, j), quote);
    if (j < s.length) j++; // step over the closing quote
  } else {
    j = i;
    while (j < s.length && !isConfigSpace(s[j])) j++;
    word = unescapeWord(s.slice(i, j), undefined);
  }
  while (j < s.length && isConfigSpace(s[j])) j++;
  return { word, end: j };
}

/** All words of `s`; an empty quoted word ("") is a real, empty argument, as written. */
export function splitWords(s: string): string[] {
  const words: string[] = [];
  let pos = 0;
  while (pos < s.length && isConfigSpace(s[pos])) pos++;
  while (pos < s.length) {
    // readWord always advances here: pos is on a non-space character.
    const { word, end } = readWord(s, pos);
    words.push(word);
    pos = end;
  }
  return words;
}

function unescapeWord(raw: string, quote: string | undefined): string {
  if (!raw.includes('\\')) return raw;
  let out = '';
  for (let k = 0; k < raw.length; k++) {
    const next = raw[k + 1];
    if (raw[k] === '\\' && (next === '\\' || (quote !== undefined && next === quote))) {
      out += next;
      k++;
    } else {
      out += raw[k];
    }
  }
  return out;
}
