/** Nice values as Linux accepts them, for WSGIFrontEndPriority and --front-end-priority. */
export const NICE_MIN = -20;
export const NICE_MAX = 19;

/** The nice value `text` names (a whole number from NICE_MIN to NICE_MAX), or null. */
export function niceValueNamed(text: string): number | null {
  const t = text.trim();
  if (!/^[+-]?\d{1,3}$/.test(t)) return null;
  const n = Number(t);
  return n >= NICE_MIN && n <= NICE_MAX ? n : null;
}
