import { readWord } from './words.js';

/**
 * Reads `<Name args...>` and `</Name>` lines. httpd strips the final '>' and hands the rest to
 * the section's handler, which cuts at the LAST '>' and silently drops anything after it; here
 * the '>' must end the line, so `<Directory /x> junk` is reported instead of half-ignored.
 */

export interface OpenTag {
  /** Section name as written, without '<' (and cut at a stray '>'). */
  name: string;
  /** Everything between the name and the final '>', unsplit (conditionals look at a leading '!'). */
  rawArgs: string;
  /** False when the line does not end with the one '>' that closes the tag. */
  wellFormed: boolean;
}

export function parseOpenTag(line: string): OpenTag {
  const endsWithGt = line.endsWith('>');
  const body = endsWithGt ? line.slice(0, -1) : line;
  const first = readWord(body, 0);
  let name = first.word.slice(1);
  let wellFormed = endsWithGt;
  const gt = name.indexOf('>');
  if (gt >= 0) {
    // `<Foo>bar>` or `<Foo>> `: the tag closed early and more text follows.
    name = name.slice(0, gt);
    wellFormed = false;
  }
  return { name, rawArgs: body.slice(first.end), wellFormed };
}

export interface CloseTag {
  name: string;
  /** False when the first word is not `</Name>` (no '>' right after the name). */
  wellFormed: boolean;
  /** Text after the tag, which httpd ignores. */
  trailing: string;
}

export function parseCloseTag(line: string): CloseTag {
  const first = readWord(line, 0);
  const wellFormed = first.word.endsWith('>');
  const name = wellFormed ? first.word.slice(2, -1) : first.word.slice(2);
  return { name, wellFormed, trailing: line.slice(first.end) };
}
