/**
 * Python marshal items written as latin-1 strings (one character per byte), so a whole environ
 * is assembled by string concatenation, which V8 does cheaply, and copied into a Buffer with a
 * single write. Constant parts are built once and reused as strings.
 *
 * Strings whose characters are all below U+0100 use marshal's one-byte string types, which
 * CPython decodes byte for byte as latin-1 (the worker checks this at start-up); others are
 * written as UTF-8 ('u').
 */

const NON_LATIN1 = /[^\u0000-\u00ff]/;

function u32le(n: number): string {
  return String.fromCharCode(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
}

/** A str item. */
export function mStr(value: string): string {
  if (NON_LATIN1.test(value)) {
    const utf8 = Buffer.from(value, 'utf8').toString('latin1');
    return 'u' + u32le(utf8.length) + utf8;
  }
  const n = value.length;
  return n < 256 ? 'z' + String.fromCharCode(n) + value : 'a' + u32le(n) + value;
}

/** A str item for a value known to be latin-1 (from the HTTP request: Node decodes it so). */
export function mLatin1(value: string): string {
  const n = value.length;
  return n < 256 ? 'z' + String.fromCharCode(n) + value : 'a' + u32le(n) + value;
}

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);

/** A float item ('g': little-endian IEEE double). */
export function mFloat(value: number): string {
  f64[0] = value;
  return 'g' + String.fromCharCode(f64Bytes[0]!, f64Bytes[1]!, f64Bytes[2]!, f64Bytes[3]!, f64Bytes[4]!, f64Bytes[5]!, f64Bytes[6]!, f64Bytes[7]!);
}

/** An int item ('i': int32). */
export function mInt(value: number): string {
  return 'i' + u32le(value >>> 0);
}

/** Dict entry: key and value, both str. */
export function mEntry(key: string, value: string): string {
  return mStr(key) + mStr(value);
}

export const M_DICT_START = '{';
export const M_DICT_END = '0';
/** A small tuple of `count` items follows. */
export function mSmallTuple(count: number): string {
  return ')' + String.fromCharCode(count);
}
