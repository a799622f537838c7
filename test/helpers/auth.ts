import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { APPS, freePort, request, sleep, startServe, type Response, type RunningServer } from './server';

/** A client's side of HTTP authentication, computed independently of the server's code. */

export function basic(user: string, password: string): string {
  return 'Basic ' + Buffer.from(`${user}:${password}`, 'latin1').toString('base64');
}

export function md5(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

/** The parameters of a `WWW-Authenticate: Digest ...` challenge. */
export function parseChallenge(header: string | string[] | undefined): Record<string, string> {
  const text = Array.isArray(header) ? header[0]! : (header ?? '');
  assert(text.startsWith('Digest '), `not a Digest challenge: ${text}`);
  const params: Record<string, string> = {};
  for (const match of text.slice(7).matchAll(/([a-zA-Z]+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))/g)) params[match[1]!.toLowerCase()] = match[2] ?? match[3]!;
  return params;
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

export interface DigestOptions {
  user: string;
  password?: string;
  /** The hash to use as HA1 instead of md5(user:realm:password). */
  ha1?: string;
  realm: string;
  nonce: string;
  method: string;
  uri: string;
  /** 'auth', or null for the RFC 2069 form. */
  qop?: string | null;
  nc?: string;
  cnonce?: string;
  extra?: string;
}

/** The Authorization header a Digest client sends (RFC 2617). */
export function digestAuthorization(o: DigestOptions): string {
  const ha1 = o.ha1 ?? md5(`${o.user}:${o.realm}:${o.password ?? ''}`);
  const ha2 = md5(`${o.method}:${o.uri}`);
  const qop = o.qop === undefined ? 'auth' : o.qop;
  const nc = o.nc ?? '00000001';
  const cnonce = o.cnonce ?? 'a1b2c3d4';
  const response = qop === null ? md5(`${ha1}:${o.nonce}:${ha2}`) : md5(`${ha1}:${o.nonce}:${nc}:${cnonce}:${qop}:${ha2}`);
  return (
    `Digest username="${o.user}", realm="${o.realm}", nonce="${o.nonce}", uri="${o.uri}", algorithm=MD5, response="${response}"` +
    (qop !== null ? `, qop=${qop}, nc=${nc}, cnonce="${cnonce}"` : '') +
    (o.extra ?? '')
  );
}

/** rspauth of Authentication-Info, as the client checks it. */
export function expectedRspauth(o: DigestOptions): string {
  const ha1 = o.ha1 ?? md5(`${o.user}:${o.realm}:${o.password ?? ''}`);
  return md5(`${ha1}:${o.nonce}:${o.nc ?? '00000001'}:${o.cnonce ?? 'a1b2c3d4'}:${o.qop ?? 'auth'}:${md5(`:${o.uri}`)}`);
}

/** A site served with `wsgi-host serve -f`, from a configuration written by the test. */
export interface Site {
  dir: string;
  server: RunningServer;
  url: string;
  errorLog: string;
  accessLog: string;
  get(urlPath: string, headers?: Record<string, string>, method?: string): Promise<Response>;
  /** Waits for an error log line matching `pattern` (after `from` bytes); returns it. */
  waitForLog(pattern: RegExp, from?: number): Promise<string>;
  /** The error log's current size, to look only at what comes after. */
  logMark(): number;
  stop(): Promise<void>;
}

/**
 * Writes `config` (with {{ROOT}}, {{PORT}}, {{APPS}} filled in) into a fresh directory and
 * serves it. The configuration should log to {{ROOT}}/error_log and {{ROOT}}/access_log.
 */
export async function serveSite(config: string, files: Record<string, string> = {}): Promise<Site> {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-auth-')));
  const port = await freePort();
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  const file = path.join(dir, 'httpd.conf');
  fs.writeFileSync(file, config.replaceAll('{{ROOT}}', dir).replaceAll('{{PORT}}', String(port)).replaceAll('{{APPS}}', APPS));
  const server = await startServe(file);
  const url = `http://127.0.0.1:${server.port}`;
  const errorLog = path.join(dir, 'error_log');
  const read = (): string => (fs.existsSync(errorLog) ? fs.readFileSync(errorLog, 'utf8') : '');
  return {
    dir,
    server,
    url,
    errorLog,
    accessLog: path.join(dir, 'access_log'),
    get: (urlPath, headers = {}, method = 'GET') => request(url + urlPath, { headers, method }),
    logMark: () => Buffer.byteLength(read()),
    waitForLog: async (pattern, from = 0) => {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const text = Buffer.from(read()).subarray(from).toString('utf8');
        const line = text.split('\n').find((l) => pattern.test(l));
        if (line !== undefined) return line;
        if (Date.now() > deadline) throw new Error(`no line matching ${pattern} in ${errorLog}:\n${text}`);
        await sleep(50);
      }
    },
    stop: async () => {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
