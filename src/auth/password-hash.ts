import { createHash, randomBytes } from 'node:crypto';
import type bcryptModule from 'bcryptjs';

/**
 * Password hashes as htpasswd writes them and Apache's apr_password_validate checks them:
 * bcrypt ($2y$, htpasswd -B), APR's MD5-crypt ($apr1$, the default) and its glibc twin ($1$),
 * SHA-256 and SHA-512 crypt ($5$, $6$, htpasswd -2 and -5) and unsalted SHA-1 ({SHA}, -s).
 * Traditional DES crypt (htpasswd -d) is not checked: it keeps only 8 characters of a password.
 *
 * These hashes are made to be slow (SHA-crypt's 5000 rounds take tens of milliseconds), and the
 * front end's event loop serves every connection: the rounds yield to it as they go, and a
 * password that matched is remembered for a few minutes (keyed by a keyed hash of the password
 * and the stored hash), so a client sending the same credentials with every request pays once.
 */

export type HashCheck = 'match' | 'mismatch' | 'unsupported';

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

const REMEMBER_MS = 5 * 60 * 1000;
const REMEMBER_MAX = 1000;
const rememberKey = randomBytes(32);
const remembered = new Map<string, number>();

let bcrypt: typeof bcryptModule | null = null;

export async function checkPasswordHash(password: string, hash: string): Promise<HashCheck> {
  const key = createHash('sha256').update(rememberKey).update(hash, 'latin1').update('\0').update(password, 'latin1').digest('base64');
  const until = remembered.get(key);
  if (until !== undefined && until > Date.now()) return 'match';
  const result = await computeCheck(password, hash);
  if (result === 'match') {
    if (remembered.size >= REMEMBER_MAX) remembered.delete(remembered.keys().next().value!);
    remembered.set(key, Date.now() + REMEMBER_MS);
  }
  return result;
}

/** Lets the event loop serve others between chunks of a slow hash's rounds. */
function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function computeCheck(password: string, hash: string): Promise<HashCheck> {
  const pw = Buffer.from(password, 'latin1');
  let computed: string;
  if (/^\$2[aby]\$\d\d\$/.test(hash)) {
    // bcryptjs hashes a string's UTF-8 bytes; a password whose bytes are not UTF-8 cannot be given to it.
    const text = pw.toString('utf8');
    if (!Buffer.from(text, 'utf8').equals(pw)) return 'mismatch';
    // Loaded at the first bcrypt hash: most sites never check one.
    bcrypt ??= require('bcryptjs') as typeof bcryptModule;
    return (await bcrypt.compare(text, hash)) ? 'match' : 'mismatch';
  }
  if (hash.startsWith('$apr1$')) computed = await md5Crypt(pw, hash, '$apr1$');
  else if (hash.startsWith('$1$')) computed = await md5Crypt(pw, hash, '$1$');
  else if (hash.startsWith('$5$')) computed = await shaCrypt(pw, hash, 'sha256');
  else if (hash.startsWith('$6$')) computed = await shaCrypt(pw, hash, 'sha512');
  else if (hash.startsWith('{SHA}')) computed = '{SHA}' + createHash('sha1').update(pw).digest('base64');
  else return 'unsupported';
  return computed === hash ? 'match' : 'mismatch';
}

/** Appends `count` characters of crypt's base-64 for the low bits of `value`. */
function to64(value: number, count: number): string {
  let out = '';
  for (let i = 0; i < count; i++) {
    out += ITOA64[value & 0x3f];
    value >>>= 6;
  }
  return out;
}

/** Poul-Henning Kamp's MD5-crypt, as APR ($apr1$) and glibc ($1$) compute it. */
async function md5Crypt(pw: Buffer, setting: string, magic: string): Promise<string> {
  const rest = setting.slice(magic.length);
  const salt = Buffer.from(rest.slice(0, Math.min(8, rest.includes('$') ? rest.indexOf('$') : rest.length)), 'latin1');
  const md5 = (...parts: Buffer[]): Buffer => {
    const h = createHash('md5');
    for (const p of parts) h.update(p);
    return h.digest();
  };
  const alternate = md5(pw, salt, pw);
  const ctx = createHash('md5');
  ctx.update(pw);
  ctx.update(magic, 'latin1');
  ctx.update(salt);
  for (let left = pw.length; left > 0; left -= 16) ctx.update(alternate.subarray(0, Math.min(16, left)));
  for (let bits = pw.length; bits > 0; bits >>>= 1) ctx.update((bits & 1) !== 0 ? Buffer.from([0]) : pw.subarray(0, 1));
  let final = ctx.digest();
  for (let i = 0; i < 1000; i++) {
    if (i % 250 === 249) await yieldToLoop();
    const round = createHash('md5');
    round.update((i & 1) !== 0 ? pw : final);
    if (i % 3 !== 0) round.update(salt);
    if (i % 7 !== 0) round.update(pw);
    round.update((i & 1) !== 0 ? final : pw);
    final = round.digest();
  }
  const f = final;
  const encoded =
    to64((f[0]! << 16) | (f[6]! << 8) | f[12]!, 4) +
    to64((f[1]! << 16) | (f[7]! << 8) | f[13]!, 4) +
    to64((f[2]! << 16) | (f[8]! << 8) | f[14]!, 4) +
    to64((f[3]! << 16) | (f[9]! << 8) | f[15]!, 4) +
    to64((f[4]! << 16) | (f[10]! << 8) | f[5]!, 4) +
    to64(f[11]!, 2);
  return `${magic}${salt.toString('latin1')}$${encoded}`;
}

/** The byte order SHA-crypt encodes its digest in (Drepper's specification). */
const SHA256_ORDER = [[0, 10, 20], [21, 1, 11], [12, 22, 2], [3, 13, 23], [24, 4, 14], [15, 25, 5], [6, 16, 26], [27, 7, 17], [18, 28, 8], [9, 19, 29]];
const SHA512_ORDER = [
  [0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48], [28, 49, 7], [50, 8, 29], [9, 30, 51], [31, 52, 10],
  [53, 11, 32], [12, 33, 54], [34, 55, 13], [56, 14, 35], [15, 36, 57], [37, 58, 16], [59, 17, 38], [18, 39, 60], [40, 61, 19], [62, 20, 41],
];

/** Ulrich Drepper's SHA-256/SHA-512 crypt ($5$, $6$). */
async function shaCrypt(pw: Buffer, setting: string, algorithm: 'sha256' | 'sha512'): Promise<string> {
  const id = algorithm === 'sha256' ? '$5$' : '$6$';
  const size = algorithm === 'sha256' ? 32 : 64;
  let rest = setting.slice(3);
  let rounds = 5000;
  let customRounds = false;
  const roundsMatch = /^rounds=(\d+)\$/.exec(rest);
  if (roundsMatch !== null) {
    rounds = Math.min(999_999_999, Math.max(1000, Number(roundsMatch[1])));
    customRounds = true;
    rest = rest.slice(roundsMatch[0].length);
  }
  const end = rest.indexOf('$');
  const salt = Buffer.from(rest.slice(0, Math.min(16, end < 0 ? rest.length : end)), 'latin1');
  const hash = (...parts: Buffer[]): Buffer => {
    const h = createHash(algorithm);
    for (const p of parts) h.update(p);
    return h.digest();
  };
  const b = hash(pw, salt, pw);
  const ctxA = createHash(algorithm);
  ctxA.update(pw);
  ctxA.update(salt);
  let count = pw.length;
  for (; count > size; count -= size) ctxA.update(b);
  ctxA.update(b.subarray(0, count));
  for (let bits = pw.length; bits > 0; bits >>>= 1) ctxA.update((bits & 1) !== 0 ? b : pw);
  const a = ctxA.digest();
  const repeatTo = (digest: Buffer, length: number): Buffer => {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i += size) digest.copy(out, i, 0, Math.min(size, length - i));
    return out;
  };
  const dpCtx = createHash(algorithm);
  for (let i = 0; i < pw.length; i++) dpCtx.update(pw);
  const p = repeatTo(dpCtx.digest(), pw.length);
  const dsCtx = createHash(algorithm);
  for (let i = 0; i < 16 + a[0]!; i++) dsCtx.update(salt);
  const s = repeatTo(dsCtx.digest(), salt.length);
  let c = a;
  for (let i = 0; i < rounds; i++) {
    if (i % 250 === 249) await yieldToLoop();
    const round = createHash(algorithm);
    round.update((i & 1) !== 0 ? p : c);
    if (i % 3 !== 0) round.update(s);
    if (i % 7 !== 0) round.update(p);
    round.update((i & 1) !== 0 ? c : p);
    c = round.digest();
  }
  let encoded = '';
  for (const [x, y, z] of algorithm === 'sha256' ? SHA256_ORDER : SHA512_ORDER) encoded += to64((c[x!]! << 16) | (c[y!]! << 8) | c[z!]!, 4);
  encoded += algorithm === 'sha256' ? to64((c[31]! << 8) | c[30]!, 3) : to64(c[63]!, 2);
  return `${id}${customRounds ? `rounds=${rounds}$` : ''}${salt.toString('latin1')}$${encoded}`;
}
