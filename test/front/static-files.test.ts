import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { errorPageBody } from '../../src/front/error-page';
import type { RequestRecord } from '../../src/front/request-record';
import { parseTarget } from '../../src/front/request-path';
import { serveStatic, type StaticOptions } from '../../src/front/static-files';

/*
 * Real HTTP through a small node:http server that builds a RequestRecord and calls serveStatic.
 * Headers steer it: x-variant picks the options, x-relative-path (base64 of a JSON string) passes
 * a relative path as it is, to try what a careless caller could hand over.
 */

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'static-files-'));
const root = path.join(tmp, 'root');
const outside = path.join(tmp, 'outside');
const PAST = new Date('2020-01-02T03:04:05Z');
const PAST_LM = 'Thu, 02 Jan 2020 03:04:05 GMT';
const DIGITS = '0123456789'.repeat(10);
const BIG_SIZE = 4 * 1024 * 1024;

function write(relative: string, content: string | Buffer): void {
  const file = path.join(root, relative);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

function bigContent(): Buffer {
  const buffer = Buffer.alloc(BIG_SIZE);
  for (let i = 0; i < BIG_SIZE; i++) buffer[i] = (i * 31 + (i >> 12)) & 0xff;
  return buffer;
}

function makeFixtures(): void {
  fs.mkdirSync(root);
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'secret.txt'), 'TOP SECRET\n');
  write('hello.txt', 'Hello, world!\n');
  write('page.html', '<!DOCTYPE html><title>p</title>\n');
  write('style.css', 'body {}\n');
  write('data.json', '{}\n');
  write('blob.xyzzy', 'blob\n');
  write('UPPER.FOO', 'upper\n');
  write('digits.txt', DIGITS);
  write('big.bin', bigContent());
  write('a b.txt', 'space\n');
  write('a%20b.txt', 'percent\n');
  write('é.txt', 'accent\n');
  write('%2e%2e', 'literal dots\n');
  write('.hidden', 'dot\n');
  write('.htaccess', 'Require all denied\n');
  write('.htpasswd', 'user:hash\n');
  write('dir/index.html', 'dir index\n');
  write('dir/index.htm', 'the other index\n');
  write('dir/sub/file.txt', 'sub file\n');
  write('htm-only/index.htm', 'htm only\n');
  write('my dir/index.html', 'spaced dir\n');
  fs.mkdirSync(path.join(root, 'empty'));
  for (const name of ['b.txt', 'a.txt', 'Z.txt', 'a b.txt', 'x&y<z>.txt', 'café.txt', '.secret']) write(`listing/${name}`, name);
  fs.mkdirSync(path.join(root, 'listing', 'sub'));
  fs.symlinkSync('../hello.txt', path.join(root, 'listing', 'link-in'));
  fs.symlinkSync('../dir', path.join(root, 'listing', 'link-dir'));
  fs.symlinkSync(path.join(tmp, 'nowhere'), path.join(root, 'listing', 'dangling'));
  fs.symlinkSync('hello.txt', path.join(root, 'link-in.txt'));
  fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(root, 'link-out.txt'));
  fs.symlinkSync(outside, path.join(root, 'link-out-dir'));
  fs.symlinkSync(path.join(tmp, 'nowhere'), path.join(root, 'dangling'));
  fs.mkdirSync(path.join(root, 'dir-linkindex'));
  fs.symlinkSync('../hello.txt', path.join(root, 'dir-linkindex', 'index.html'));
  // Old enough for strong ETags, and a Last-Modified the tests can name.
  const stamp = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isSymbolicLink()) continue;
      if (entry.isDirectory()) stamp(full);
      fs.utimesSync(full, PAST, PAST);
    }
  };
  stamp(root);
}

const baseOptions: StaticOptions = {
  root,
  indexes: true,
  followSymlinks: false,
  directoryIndex: ['index.html', 'index.htm'],
  mimeTypes: { css: 'text/x-custom-css', foo: 'application/x-foo' },
};

function optionsFor(variant: string, urlPath: string): { options: StaticOptions; relative: string } {
  if (urlPath === '/alias' || urlPath.startsWith('/alias/')) {
    return { options: { ...baseOptions, root: path.join(root, 'listing') }, relative: urlPath.slice('/alias'.length) || '/' };
  }
  if (urlPath === '/robots.txt' || urlPath.startsWith('/robots.txt/')) {
    return { options: { ...baseOptions, root: path.join(root, 'hello.txt') }, relative: urlPath.slice('/robots.txt'.length) || '/' };
  }
  if (variant === 'noindexes') return { options: { ...baseOptions, indexes: false }, relative: urlPath };
  if (variant === 'follow') return { options: { ...baseOptions, followSymlinks: true }, relative: urlPath };
  return { options: baseOptions, relative: urlPath };
}

interface Served {
  record: RequestRecord;
  doneCount: number;
  whenDone: Promise<void>;
}

const served = new Map<string, Served>();
let server: http.Server;
let port = 0;
let requestCounter = 0;

function startServer(): Promise<void> {
  server = http.createServer((req, res) => {
    const id = String(req.headers['x-test-id'] ?? `anon-${++requestCounter}`);
    const record: RequestRecord = {
      req,
      res,
      connection: { localAddress: '127.0.0.1', localPort: port, remoteAddress: '127.0.0.1', remotePort: req.socket.remotePort ?? 0, scheme: 'http', id: 'c1' },
      id,
      startMicros: Date.now() * 1000,
      status: 200,
      bytesSent: 0,
      remoteUser: null,
      authType: null,
      env: {},
      timing: null,
    };
    let resolveDone!: () => void;
    const entry: Served = { record, doneCount: 0, whenDone: new Promise((resolve) => (resolveDone = resolve)) };
    served.set(id, entry);
    const target = parseTarget(req.url ?? '/');
    if (!target.ok) {
      res.on('close', resolveDone);
      res.writeHead(target.status);
      res.end();
      return;
    }
    const chosen = optionsFor(String(req.headers['x-variant'] ?? ''), target.path);
    const override = req.headers['x-relative-path'];
    const relative = typeof override === 'string' ? (JSON.parse(Buffer.from(override, 'base64').toString('utf8')) as string) : chosen.relative;
    serveStatic(record, relative, chosen.options, () => {
      entry.doneCount++;
      resolveDone();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      port = (server.address() as AddressInfo).port;
      resolve();
    });
  });
}

interface Result {
  status: number;
  statusMessage: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
  record: RequestRecord;
  doneCount: number;
}

interface Options {
  method?: string;
  headers?: Record<string, string>;
  variant?: string;
  relativePath?: string;
}

let idCounter = 0;

async function fetch(target: string, options: Options = {}): Promise<Result> {
  const id = `t${++idCounter}`;
  const headers: Record<string, string> = { 'x-test-id': id, ...options.headers };
  if (options.variant !== undefined) headers['x-variant'] = options.variant;
  if (options.relativePath !== undefined) headers['x-relative-path'] = Buffer.from(JSON.stringify(options.relativePath)).toString('base64');
  const response = await new Promise<{ res: http.IncomingMessage; body: Buffer }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, method: options.method ?? 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ res, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  const entry = served.get(id);
  assert.ok(entry, `the server saw request ${id}`);
  await entry.whenDone;
  await new Promise((resolve) => setImmediate(resolve));
  return {
    status: response.res.statusCode ?? 0,
    statusMessage: response.res.statusMessage ?? '',
    headers: response.res.headers,
    body: response.body,
    text: response.body.toString('utf8'),
    record: entry.record,
    doneCount: entry.doneCount,
  };
}

function strongEtag(size: number, mtime: Date): string {
  return `"${size.toString(16)}-${(mtime.getTime() * 1000).toString(16)}"`;
}

/** The answer's status reached the record, done ran once, and the body is the server's error page. */
function assertErrorPage(result: Result, status: number): void {
  assert.equal(result.status, status);
  assert.equal(result.record.status, status);
  assert.equal(result.doneCount, 1);
  assert.equal(result.headers['content-type'], 'text/html; charset=iso-8859-1');
  assert.equal(result.text, errorPageBody(status));
  assert.equal(result.record.bytesSent, result.body.length);
}

describe('static files', () => {
  before(async () => {
    makeFixtures();
    await startServer();
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('files', () => {
    it('serves a file with Apache headers and records status and bytes', async () => {
      const r = await fetch('/hello.txt');
      assert.equal(r.status, 200);
      assert.equal(r.text, 'Hello, world!\n');
      assert.equal(r.headers['content-type'], 'text/plain');
      assert.equal(r.headers['content-length'], '14');
      assert.equal(r.headers['accept-ranges'], 'bytes');
      assert.equal(r.headers['etag'], strongEtag(14, PAST));
      assert.equal(r.headers['last-modified'], PAST_LM);
      assert.equal(r.headers['cache-control'], undefined);
      assert.equal(r.record.status, 200);
      assert.equal(r.record.bytesSent, 14);
      assert.equal(r.doneCount, 1);
    });

    it('answers HEAD with the same headers and no body', async () => {
      const r = await fetch('/hello.txt', { method: 'HEAD' });
      assert.equal(r.status, 200);
      assert.equal(r.body.length, 0);
      assert.equal(r.headers['content-length'], '14');
      assert.equal(r.headers['content-type'], 'text/plain');
      assert.equal(r.headers['etag'], strongEtag(14, PAST));
      assert.equal(r.record.status, 200);
      assert.equal(r.record.bytesSent, 0);
      assert.equal(r.doneCount, 1);
    });

    it('takes the media type from AddType first, then the library table without its charset, else octet-stream', async () => {
      assert.equal((await fetch('/page.html')).headers['content-type'], 'text/html');
      assert.equal((await fetch('/data.json')).headers['content-type'], 'application/json');
      assert.equal((await fetch('/style.css')).headers['content-type'], 'text/x-custom-css');
      assert.equal((await fetch('/UPPER.FOO')).headers['content-type'], 'application/x-foo');
      assert.equal((await fetch('/blob.xyzzy')).headers['content-type'], 'application/octet-stream');
    });

    it('streams a large file whole, and counts what was sent', async () => {
      const r = await fetch('/big.bin');
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-length'], String(BIG_SIZE));
      assert.equal(createHash('sha256').update(r.body).digest('hex'), createHash('sha256').update(bigContent()).digest('hex'));
      assert.equal(r.record.bytesSent, BIG_SIZE);
    });

    it('calls done once when the client goes away in the middle of a file', async () => {
      const id = `abort-${++idCounter}`;
      await new Promise<void>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, path: '/big.bin', headers: { 'x-test-id': id }, agent: false }, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', () => {});
        req.on('close', () => resolve());
        setTimeout(() => reject(new Error('no data')), 5000).unref();
        req.end();
      });
      const entry = served.get(id)!;
      await entry.whenDone;
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(entry.doneCount, 1);
      assert.equal(entry.record.status, 200);
      assert.ok(entry.record.bytesSent > 0 && entry.record.bytesSent <= BIG_SIZE, `bytesSent ${entry.record.bytesSent}`);
    });

    it('makes the ETag weak for a file changed within the last second, as Apache does', async () => {
      write('fresh.txt', 'fresh\n');
      const r = await fetch('/fresh.txt');
      assert.equal(r.status, 200);
      assert.match(String(r.headers['etag']), /^W\/"6-[0-9a-f]+"$/);
      fs.rmSync(path.join(root, 'fresh.txt'));
    });

    it('never sends a Last-Modified later than the request', async () => {
      write('future.txt', 'future\n');
      const future = new Date('2100-01-01T00:00:00Z');
      fs.utimesSync(path.join(root, 'future.txt'), future, future);
      const before = Date.now();
      const r = await fetch('/future.txt');
      const lastModified = Date.parse(String(r.headers['last-modified']));
      assert.ok(lastModified <= Date.now() && lastModified >= before - 2000, String(r.headers['last-modified']));
      fs.rmSync(path.join(root, 'future.txt'));
    });
  });

  describe('conditional requests', () => {
    const etag = strongEtag(14, PAST);

    it('answers If-None-Match with the current ETag with 304 and no body', async () => {
      const r = await fetch('/hello.txt', { headers: { 'If-None-Match': etag } });
      assert.equal(r.status, 304);
      assert.equal(r.body.length, 0);
      assert.equal(r.headers['etag'], etag);
      assert.equal(r.headers['content-type'], undefined);
      assert.equal(r.record.status, 304);
      assert.equal(r.record.bytesSent, 0);
      assert.equal(r.doneCount, 1);
      assert.equal((await fetch('/hello.txt', { headers: { 'If-None-Match': '"other"' } })).status, 200);
      assert.equal((await fetch('/hello.txt', { headers: { 'If-None-Match': '*' } })).status, 304);
    });

    it('answers If-Modified-Since with 304 unless the file is newer', async () => {
      assert.equal((await fetch('/hello.txt', { headers: { 'If-Modified-Since': PAST_LM } })).status, 304);
      assert.equal((await fetch('/hello.txt', { headers: { 'If-Modified-Since': 'Wed, 01 Jan 2020 00:00:00 GMT' } })).status, 200);
    });

    it('answers a failed If-Match or If-Unmodified-Since with 412', async () => {
      const r = await fetch('/hello.txt', { headers: { 'If-Match': '"other"' } });
      assert.equal(r.status, 412);
      assert.equal(r.statusMessage, 'Precondition Failed');
      assert.equal(r.headers['content-type'], 'text/html; charset=iso-8859-1');
      assert.equal(r.headers['etag'], undefined);
      assert.match(r.text, /<title>412 Precondition Failed<\/title>/);
      assert.equal(r.record.status, 412);
      assert.equal(r.record.bytesSent, r.body.length);
      assert.equal(r.doneCount, 1);
      assert.equal((await fetch('/hello.txt', { headers: { 'If-Match': etag } })).status, 200);
      assert.equal((await fetch('/hello.txt', { headers: { 'If-Unmodified-Since': 'Wed, 01 Jan 2020 00:00:00 GMT' } })).status, 412);
      assert.equal((await fetch('/hello.txt', { headers: { 'If-Unmodified-Since': PAST_LM } })).status, 200);
    });
  });

  describe('ranges', () => {
    it('serves one range with 206 and Content-Range', async () => {
      const r = await fetch('/digits.txt', { headers: { Range: 'bytes=0-4' } });
      assert.equal(r.status, 206);
      assert.equal(r.text, '01234');
      assert.equal(r.headers['content-range'], 'bytes 0-4/100');
      assert.equal(r.headers['content-length'], '5');
      assert.equal(r.record.status, 206);
      assert.equal(r.record.bytesSent, 5);
      const suffix = await fetch('/digits.txt', { headers: { Range: 'bytes=-3' } });
      assert.equal(suffix.text, '789');
      assert.equal(suffix.headers['content-range'], 'bytes 97-99/100');
      const open = await fetch('/digits.txt', { headers: { Range: 'bytes=95-' } });
      assert.equal(open.text, '56789');
      assert.equal(open.headers['content-range'], 'bytes 95-99/100');
    });

    it('answers HEAD with a range with 206 and no body', async () => {
      const r = await fetch('/digits.txt', { method: 'HEAD', headers: { Range: 'bytes=10-19' } });
      assert.equal(r.status, 206);
      assert.equal(r.body.length, 0);
      assert.equal(r.headers['content-range'], 'bytes 10-19/100');
      assert.equal(r.headers['content-length'], '10');
      assert.equal(r.record.bytesSent, 0);
    });

    it('answers an unsatisfiable range with 416 and the length', async () => {
      const r = await fetch('/digits.txt', { headers: { Range: 'bytes=200-300' } });
      assert.equal(r.status, 416);
      assert.equal(r.statusMessage, 'Range Not Satisfiable');
      assert.equal(r.headers['content-range'], 'bytes */100');
      assert.equal(r.headers['content-type'], 'text/html; charset=iso-8859-1');
      assert.match(r.text, /<title>416 Range Not Satisfiable<\/title>/);
      assert.equal(r.record.status, 416);
      assert.equal(r.doneCount, 1);
    });

    it('honours If-Range: the range only while the validator still matches', async () => {
      const etag = strongEtag(100, PAST);
      const same = await fetch('/digits.txt', { headers: { Range: 'bytes=0-1', 'If-Range': etag } });
      assert.equal(same.status, 206);
      assert.equal(same.text, '01');
      const stale = await fetch('/digits.txt', { headers: { Range: 'bytes=0-1', 'If-Range': '"stale"' } });
      assert.equal(stale.status, 200);
      assert.equal(stale.text, DIGITS);
      const byDate = await fetch('/digits.txt', { headers: { Range: 'bytes=2-3', 'If-Range': PAST_LM } });
      assert.equal(byDate.status, 206);
      assert.equal(byDate.text, '23');
      const oldDate = await fetch('/digits.txt', { headers: { Range: 'bytes=2-3', 'If-Range': 'Wed, 01 Jan 2020 00:00:00 GMT' } });
      assert.equal(oldDate.status, 200);
    });

    it('sends the whole file for several ranges (no multipart)', async () => {
      const r = await fetch('/digits.txt', { headers: { Range: 'bytes=0-1,5-6' } });
      assert.equal(r.status, 200);
      assert.equal(r.text, DIGITS);
      assert.equal(r.headers['content-range'], undefined);
    });
  });

  describe('methods', () => {
    it('refuses POST to a file with 405 and Allow', async () => {
      const r = await fetch('/hello.txt', { method: 'POST', headers: { 'Content-Length': '0' } });
      assertErrorPage(r, 405);
      assert.equal(r.headers['allow'], 'GET, HEAD, OPTIONS');
    });

    it('refuses other methods with 405, and answers a missing file as Apache does', async () => {
      assert.equal((await fetch('/hello.txt', { method: 'DELETE' })).status, 405);
      assert.equal((await fetch('/hello.txt', { method: 'PUT', headers: { 'Content-Length': '0' } })).status, 405);
      assertErrorPage(await fetch('/missing.txt', { method: 'POST', headers: { 'Content-Length': '0' } }), 404);
      const put = await fetch('/missing.txt', { method: 'PUT', headers: { 'Content-Length': '0' } });
      assertErrorPage(put, 405);
      assert.equal(put.headers['allow'], 'GET, HEAD, OPTIONS');
      assert.equal((await fetch('/dir/sub/', { method: 'DELETE' })).status, 405);
    });

    it('answers OPTIONS with 200, Allow and an empty body', async () => {
      for (const target of ['/hello.txt', '/missing.txt', '/dir/']) {
        const r = await fetch(target, { method: 'OPTIONS' });
        assert.equal(r.status, 200, target);
        assert.equal(r.headers['allow'], 'GET, HEAD, OPTIONS');
        assert.equal(r.headers['content-length'], '0');
        assert.equal(r.body.length, 0);
        assert.equal(r.record.status, 200);
        assert.equal(r.doneCount, 1);
      }
    });
  });

  describe('directories', () => {
    it('redirects a directory without its slash with 301, keeping the query', async () => {
      const r = await fetch('/dir');
      assert.equal(r.status, 301);
      assert.equal(r.headers['location'], `http://127.0.0.1:${port}/dir/`);
      assert.equal(r.headers['content-type'], 'text/html; charset=iso-8859-1');
      assert.match(r.text, new RegExp(`<a href="http://127\\.0\\.0\\.1:${port}/dir/">here</a>`));
      assert.equal(r.record.status, 301);
      assert.equal(r.record.bytesSent, r.body.length);
      assert.equal((await fetch('/dir?x=1&y=%20')).headers['location'], `http://127.0.0.1:${port}/dir/?x=1&y=%20`);
      assert.equal((await fetch('/my%20dir')).headers['location'], `http://127.0.0.1:${port}/my%20dir/`);
      assert.equal((await fetch('/dir/sub', { method: 'POST', headers: { 'Content-Length': '0' } })).status, 301);
    });

    it('serves the first DirectoryIndex file that exists', async () => {
      const r = await fetch('/dir/');
      assert.equal(r.status, 200);
      assert.equal(r.text, 'dir index\n');
      assert.equal(r.headers['content-type'], 'text/html');
      assert.equal(r.headers['etag'], strongEtag(10, PAST));
      assert.equal(r.record.bytesSent, 10);
      assert.equal((await fetch('/htm-only/')).text, 'htm only\n');
      assert.equal((await fetch('/my%20dir/')).text, 'spaced dir\n');
      assertErrorPage(await fetch('/dir/', { method: 'POST', headers: { 'Content-Length': '0' } }), 405);
    });

    it('lists a directory without an index as mod_autoindex does', async () => {
      const r = await fetch('/listing/');
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'text/html;charset=UTF-8');
      assert.equal(r.headers['content-length'], String(r.body.length));
      assert.equal(
        r.text,
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n' +
          '<html>\n <head>\n  <title>Index of /listing</title>\n </head>\n <body>\n' +
          '<h1>Index of /listing</h1>\n' +
          '<ul><li><a href="/"> Parent Directory</a></li>\n' +
          '<li><a href="Z.txt"> Z.txt</a></li>\n' +
          '<li><a href="a%20b.txt"> a b.txt</a></li>\n' +
          '<li><a href="a.txt"> a.txt</a></li>\n' +
          '<li><a href="b.txt"> b.txt</a></li>\n' +
          '<li><a href="caf%C3%A9.txt"> café.txt</a></li>\n' +
          '<li><a href="sub/"> sub/</a></li>\n' +
          '<li><a href="x%26y%3Cz%3E.txt"> x&amp;y&lt;z&gt;.txt</a></li>\n' +
          '</ul>\n</body></html>\n',
      );
      assert.equal(r.record.status, 200);
      assert.equal(r.record.bytesSent, r.body.length);
      assert.equal(r.doneCount, 1);
      const head = await fetch('/listing/', { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
      assert.equal(head.headers['content-length'], String(r.body.length));
      assert.equal(head.record.bytesSent, 0);
    });

    it('follows the links of a listing with FollowSymLinks, leaving out dangling ones', async () => {
      const r = await fetch('/listing/', { variant: 'follow' });
      assert.match(r.text, /<li><a href="link-dir\/"> link-dir\/<\/a><\/li>\n<li><a href="link-in"> link-in<\/a><\/li>\n<li><a href="sub\/">/);
      assert.doesNotMatch(r.text, /dangling/);
    });

    it('lists an empty directory and the links in a listing lead to the files', async () => {
      const empty = await fetch('/empty/');
      assert.match(empty.text, /<ul><li><a href="\/"> Parent Directory<\/a><\/li>\n<\/ul>/);
      assert.equal((await fetch('/listing/a%20b.txt')).text, 'a b.txt');
      assert.equal((await fetch('/listing/x%26y%3Cz%3E.txt')).text, 'x&y<z>.txt');
      assert.equal((await fetch('/listing/caf%C3%A9.txt')).text, 'café.txt');
      const nested = await fetch('/dir/sub/');
      assert.match(nested.text, /<title>Index of \/dir\/sub<\/title>/);
      assert.match(nested.text, /<ul><li><a href="\/dir\/"> Parent Directory<\/a><\/li>\n<li><a href="file.txt"> file.txt<\/a><\/li>\n<\/ul>/);
    });

    it('has no Parent Directory at the root', async () => {
      const r = await fetch('/');
      assert.equal(r.status, 200);
      assert.match(r.text, /<title>Index of \/<\/title>/);
      assert.doesNotMatch(r.text, /Parent Directory/);
      assert.match(r.text, /<li><a href="%252e%252e"> %2e%2e<\/a><\/li>/);
      assert.doesNotMatch(r.text, /hidden|htaccess|link-in\.txt/);
    });

    it('refuses a listing with 403 when Indexes is off', async () => {
      assertErrorPage(await fetch('/listing/', { variant: 'noindexes' }), 403);
      assert.equal((await fetch('/dir/', { variant: 'noindexes' })).text, 'dir index\n');
    });
  });

  describe('names', () => {
    it('does not decode the path twice', async () => {
      assert.equal((await fetch('/a%20b.txt')).text, 'space\n');
      assert.equal((await fetch('/a%2520b.txt')).text, 'percent\n');
      assert.equal((await fetch('/%252e%252e')).text, 'literal dots\n');
    });

    it('reads the URL bytes as UTF-8 file names', async () => {
      assert.equal((await fetch('/%C3%A9.txt')).text, 'accent\n');
      assertErrorPage(await fetch('/%E9.txt'), 404);
    });

    it('serves dot files but refuses .ht* with 403, even when missing', async () => {
      const hidden = await fetch('/.hidden');
      assert.equal(hidden.status, 200);
      assert.equal(hidden.text, 'dot\n');
      assertErrorPage(await fetch('/.htaccess'), 403);
      assertErrorPage(await fetch('/.htpasswd'), 403);
      assertErrorPage(await fetch('/.htnothing'), 403);
      assertErrorPage(await fetch('/nodir/.htaccess'), 404);
    });

    it('answers 404 for a missing file and for a file followed by more path', async () => {
      assertErrorPage(await fetch('/missing.txt'), 404);
      assertErrorPage(await fetch('/hello.txt/extra'), 404);
      assertErrorPage(await fetch('/hello.txt/'), 404);
      assertErrorPage(await fetch('/dir/missing/deeper'), 404);
      const head = await fetch('/missing.txt', { method: 'HEAD' });
      assert.equal(head.status, 404);
      assert.equal(head.body.length, 0);
      assert.equal(head.record.bytesSent, 0);
    });
  });

  describe('traversal', () => {
    const via = (relativePath: string, variant?: string): Promise<Result> => fetch('/hello.txt', { relativePath, ...(variant ? { variant } : {}) });

    it('answers a climb above the root with 400', async () => {
      assertErrorPage(await via('/../outside/secret.txt'), 400);
      assertErrorPage(await via('/dir/../../outside/secret.txt'), 400);
      assertErrorPage(await via('/..'), 400);
      assertErrorPage(await via('relative/path'), 400);
    });

    it('resolves dot segments that slipped through inside the root', async () => {
      assert.equal((await via('/dir/../hello.txt')).text, 'Hello, world!\n');
      assert.equal((await via('//hello.txt')).text, 'Hello, world!\n');
      assertErrorPage(await via('//etc/passwd'), 404);
    });

    it('takes backslashes, encoded dots and encoded slashes as name characters', async () => {
      assertErrorPage(await via('/..\\..\\outside\\secret.txt'), 404);
      assertErrorPage(await via('/..\\..\\..\\..\\etc\\passwd'), 404);
      assertErrorPage(await via('/%2e%2e/%2e%2e/outside/secret.txt'), 404);
      assertErrorPage(await via('/..%2f..%2foutside%2fsecret.txt'), 404);
      assert.equal((await via('/%2e%2e')).text, 'literal dots\n');
    });

    it('refuses NUL bytes and characters that are not bytes', async () => {
      assertErrorPage(await via('/hello.txt\0.png'), 404);
      assertErrorPage(await via('/\0'), 404);
      assertErrorPage(await via('/\u0100.txt'), 404);
    });

    it('refuses what the request parser refuses (encoded dot segments)', async () => {
      // Through the whole path: %2e%2e decodes to ".." before the dot segments are resolved.
      assert.equal((await fetch('/%2e%2e/outside/secret.txt')).status, 400);
      assert.equal((await fetch('/dir/%2e%2e/%2e%2e/outside/secret.txt')).status, 400);
    });
  });

  describe('symbolic links', () => {
    it('refuses every link on the path with 403 without FollowSymLinks', async () => {
      assertErrorPage(await fetch('/link-in.txt'), 403);
      assertErrorPage(await fetch('/link-out.txt'), 403);
      assertErrorPage(await fetch('/link-out-dir/secret.txt'), 403);
      assertErrorPage(await fetch('/link-out-dir/'), 403);
      assertErrorPage(await fetch('/listing/link-in'), 403);
      assertErrorPage(await fetch('/dangling'), 403);
    });

    it('refuses an index file that is a link with 403 rather than listing', async () => {
      assertErrorPage(await fetch('/dir-linkindex/'), 403);
    });

    it('follows links wherever they point with FollowSymLinks, but not dangling ones', async () => {
      assert.equal((await fetch('/link-in.txt', { variant: 'follow' })).text, 'Hello, world!\n');
      assert.equal((await fetch('/link-out.txt', { variant: 'follow' })).text, 'TOP SECRET\n');
      assert.equal((await fetch('/link-out-dir/secret.txt', { variant: 'follow' })).text, 'TOP SECRET\n');
      assert.equal((await fetch('/listing/link-dir/', { variant: 'follow' })).text, 'dir index\n');
      assert.equal((await fetch('/dir-linkindex/', { variant: 'follow' })).text, 'Hello, world!\n');
      assertErrorPage(await fetch('/dangling', { variant: 'follow' }), 403);
    });
  });

  describe('aliases', () => {
    it('redirects and lists at an Alias with the URL path, not the file path', async () => {
      const bare = await fetch('/alias');
      assert.equal(bare.status, 301);
      assert.equal(bare.headers['location'], `http://127.0.0.1:${port}/alias/`);
      const listing = await fetch('/alias/');
      assert.equal(listing.status, 200);
      assert.match(listing.text, /<title>Index of \/alias<\/title>/);
      assert.match(listing.text, /<ul><li><a href="\/"> Parent Directory<\/a><\/li>\n<li><a href="Z.txt"> Z.txt<\/a><\/li>/);
      assert.equal((await fetch('/alias/a.txt')).text, 'a.txt');
      assert.equal((await fetch('/alias/sub')).headers['location'], `http://127.0.0.1:${port}/alias/sub/`);
    });

    it('serves an Alias of a single file only at its exact URL', async () => {
      const r = await fetch('/robots.txt');
      assert.equal(r.status, 200);
      assert.equal(r.text, 'Hello, world!\n');
      assert.equal(r.headers['content-type'], 'text/plain');
      assertErrorPage(await fetch('/robots.txt/'), 404);
      assertErrorPage(await fetch('/robots.txt/more'), 404);
    });
  });
});
