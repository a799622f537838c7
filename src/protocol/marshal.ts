/**
 * Writes values in CPython's marshal format, so a worker decodes a whole environ with one C-level
 * `marshal.loads` instead of a Python loop.
 *
 * Only the types the environ needs are written. Strings taken from the HTTP request are latin-1
 * (one byte per character, as PEP 3333 requires); they are written with marshal's one-byte
 * string types, which CPython decodes byte for byte as latin-1 (the worker checks this at
 * start-up). Other strings (file system paths, configuration) are written as UTF-8.
 */

const TYPE_DICT = 0x7b; // '{'
const TYPE_SMALL_TUPLE = 0x29; // ')': 1-byte length
const TYPE_NULL = 0x30; // '0' ends a dict
const TYPE_SHORT_ASCII = 0x7a; // 'z': 1-byte length
const TYPE_ASCII = 0x61; // 'a': 4-byte length
const TYPE_UNICODE = 0x75; // 'u': 4-byte length, UTF-8
const TYPE_INT = 0x69; // 'i': int32
const TYPE_FLOAT = 0x67; // 'g': binary double
const TYPE_TRUE = 0x54;
const TYPE_FALSE = 0x46;
const TYPE_NONE = 0x4e;

/** A growable byte buffer with marshal writers. */
export class MarshalWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialSize = 2048) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  get length(): number {
    return this.pos;
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const bigger = Buffer.allocUnsafe(size);
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  /** Reserves `n` raw bytes (e.g. a frame header to fill in later) and returns their offset. */
  skip(n: number): number {
    this.reserve(n);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  /** The bytes written so far, as a view (no copy). */
  result(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /** Direct access for callers that patch reserved bytes. */
  get buffer(): Buffer {
    return this.buf;
  }

  raw(bytes: Buffer): void {
    this.reserve(bytes.length);
    bytes.copy(this.buf, this.pos);
    this.pos += bytes.length;
  }

  /** Starts a tuple of `count` (< 256) items; write the items next. */
  smallTuple(count: number): void {
    this.reserve(2);
    this.buf[this.pos] = TYPE_SMALL_TUPLE;
    this.buf[this.pos + 1] = count;
    this.pos += 2;
  }

  beginDict(): void {
    this.reserve(1);
    this.buf[this.pos++] = TYPE_DICT;
  }

  endDict(): void {
    this.reserve(1);
    this.buf[this.pos++] = TYPE_NULL;
  }

  /** A str whose characters are all below U+0100, written one byte per character. */
  latin1(value: string): void {
    const n = value.length;
    if (n < 256) {
      this.reserve(2 + n);
      this.buf[this.pos] = TYPE_SHORT_ASCII;
      this.buf[this.pos + 1] = n;
      this.pos += 2;
    } else {
      this.reserve(5 + n);
      this.buf[this.pos] = TYPE_ASCII;
      this.buf.writeUInt32LE(n, this.pos + 1);
      this.pos += 5;
    }
    if (n > 0) this.pos += this.buf.write(value, this.pos, n, 'latin1');
  }

  /** Any str, UTF-8 encoded (for file system paths and configuration values). */
  unicode(value: string): void {
    const n = Buffer.byteLength(value, 'utf8');
    this.reserve(5 + n);
    this.buf[this.pos] = TYPE_UNICODE;
    this.buf.writeUInt32LE(n, this.pos + 1);
    this.pos += 5;
    if (n > 0) this.pos += this.buf.write(value, this.pos, n, 'utf8');
  }

  /** A str from the request when it may hold characters above U+00FF (it then cannot be latin-1). */
  text(value: string): void {
    if (isLatin1(value)) this.latin1(value);
    else this.unicode(value);
  }

  int(value: number): void {
    this.reserve(5);
    this.buf[this.pos] = TYPE_INT;
    this.buf.writeInt32LE(value, this.pos + 1);
    this.pos += 5;
  }

  float(value: number): void {
    this.reserve(9);
    this.buf[this.pos] = TYPE_FLOAT;
    this.buf.writeDoubleLE(value, this.pos + 1);
    this.pos += 9;
  }

  bool(value: boolean): void {
    this.reserve(1);
    this.buf[this.pos++] = value ? TYPE_TRUE : TYPE_FALSE;
  }

  none(): void {
    this.reserve(1);
    this.buf[this.pos++] = TYPE_NONE;
  }

  /** A dict entry whose value is a latin-1 str. */
  entry(key: string, value: string): void {
    this.latin1(key);
    this.latin1(value);
  }
}

const NON_LATIN1 = /[^\u0000-\u00ff]/;

export function isLatin1(value: string): boolean {
  return !NON_LATIN1.test(value);
}
