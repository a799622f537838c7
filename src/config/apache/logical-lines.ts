/**
 * Turns file text into logical lines the way Apache's ap_cfg_getline does: a physical line whose
 * very last character (before LF or CRLF) is a backslash is joined to the next one, and the result
 * is trimmed of C-locale whitespace. Comment and blank lines are dropped here because Apache drops
 * them before ${VAR} substitution, so nothing in them can produce a warning.
 */

export interface LogicalLine {
  /** Trimmed text with continuation backslashes removed. */
  text: string;
  /** 1-based line of the first physical line, where a reader looks for the directive. */
  line: number;
}

/** Apache uses apr_isspace (C locale); JS trim() would also eat NBSP and friends, which Apache keeps. */
export function isConfigSpace(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\v' || ch === '\f';
}

export function trimConfigSpace(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isConfigSpace(s[start])) start++;
  while (end > start && isConfigSpace(s[end - 1])) end--;
  return s.slice(start, end);
}

export function logicalLines(text: string): LogicalLine[] {
  // A UTF-8 byte order mark would otherwise glue itself to the first directive's name.
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  const physical = text.split('\n');
  const last = physical.length - 1; // physical[last] is the text after the final LF ('' if none)
  const out: LogicalLine[] = [];
  let i = 0;
  while (i <= last) {
    if (i === last && physical[i] === '') break;
    const firstLine = i + 1;
    let joined = '';
    for (;;) {
      const piece = physical[i]!;
      // Only a line that really ended with a newline can continue: Apache keeps a trailing
      // backslash on the last line of a file that has no final newline.
      if (i < last) {
        const body = piece.endsWith('\r') ? piece.slice(0, -1) : piece;
        i++;
        if (body.endsWith('\\')) {
          joined += body.slice(0, -1);
          if (i === last && physical[i] === '') break; // continued into end of file
          continue;
        }
        joined += body;
      } else {
        joined += piece;
        i++;
      }
      break;
    }
    const trimmed = trimConfigSpace(joined);
    // Apache tests for '#' after joining, so a comment ending in '\' swallows the next line too.
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    out.push({ text: trimmed, line: firstLine });
  }
  return out;
}
