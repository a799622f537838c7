import * as fs from 'node:fs';
import * as path from 'node:path';
import type sendModule from 'send';
import { decodeUtf8, escapeHtml, escapePath, readListing, renderListing } from './directory-listing';
import { cutResponse, endConnectionAfter, sendErrorPage } from './error-page';
import type { RequestRecord } from './request-record';
import { mergeSlashes, parseTarget, removeDotSegments } from './request-path';

/**
 * Static files for DocumentRoot and Alias, as Apache's core default handler, mod_dir and
 * mod_autoindex serve them. The bytes go out through `send` (conditional requests, ranges,
 * streaming); what Apache decides before its handler runs (the path walk, symbolic links,
 * `.ht*` files, directory slashes, index files, listings, methods) is decided here.
 *
 * Choices, where Apache leaves room or where this differs from it:
 * - Methods: GET and HEAD are served. OPTIONS answers 200 with `Allow: GET, HEAD, OPTIONS`. Other
 *   methods get 405 with the same Allow (Apache lists POST and TRACE too, though it refuses POST to a
 *   static file with 405). As in Apache, a missing file answers GET, HEAD and POST with 404 and
 *   other methods with 405; a directory without an index answers methods other than GET, HEAD and
 *   OPTIONS with 405 (Apache: 404 for POST, an accident of its default handler).
 * - Content-Type: AddType (`mimeTypes`) first, then send's table (mime-db) without the
 *   `charset=utf-8` that table adds to text types, since Apache names no charset (AddDefaultCharset
 *   Off) and a charset in the header would override a page's own <meta charset>. An unknown
 *   extension gets `application/octet-stream` (Apache 2.4 sends no Content-Type at all, leaving
 *   clients to sniff; RFC 9110 section 8.3 says to treat that as application/octet-stream anyway,
 *   and naming it keeps browsers from sniffing HTML out of uploaded files). Only the last extension
 *   counts (mod_mime would also read `a.html.en`'s earlier ones).
 * - ETag as Apache's `FileETag MTime Size`: "size-mtime" in hex, mtime in microseconds, weak when the
 *   file changed less than a second before the request. Last-Modified is never later than the request.
 *   No Cache-Control (Apache sends none).
 * - Ranges: one range gives 206; several that do not merge into one give the whole file with 200
 *   (Apache would send multipart/byteranges, which RFC 9110 does not require).
 * - FollowSymLinks on: links are followed wherever they point, as Apache does (the option is a
 *   statement that the tree's links are trusted). Off: any link below `root` on the way to the file
 *   (the file itself included) gives 403, and links are left out of listings. A dangling link is
 *   403 either way (Apache's "link target not accessible"). `root` itself may be a link.
 * - Only components below `root` are checked for links: Apache would check the directories above
 *   it by their own <Directory> Options, which this module does not know.
 * - The 301 for a directory without its slash has an absolute Location built from the Host header
 *   (as UseCanonicalName Off), or a path when the request had no usable Host.
 * - Listings are UTF-8 (Apache labels them ISO-8859-1 on Unix); file names that are not valid UTF-8
 *   are neither listed nor served, since send opens files by string path.
 * - A file whose name send takes for a climb (`..` next to a backslash, as in `..\x`) answers 403
 *   from send even though on POSIX it is an ordinary name inside the root; such a name that does
 *   not exist answers 404, as in Apache.
 * - Neither FIFOs, sockets nor devices are served (403): reading one could block for ever.
 * - The conditions are send's: If-Match and If-Range compare ETags weakly (RFC 9110 wants strong
 *   comparison there), an If-Range date matches when the file is not newer than it, and a request
 *   with `Cache-Control: no-cache` never gets 304.
 * - As in Apache, the walk and the open are separate steps: someone who can write inside `root`
 *   could swap a checked directory for a link in between.
 */

export interface StaticOptions {
  /** The directory the URL maps into (DocumentRoot or an Alias target). Nothing outside it is ever served. */
  root: string;
  /** Options Indexes: list a directory that has no index file; otherwise 403. */
  indexes: boolean;
  /** Options FollowSymLinks: follow symbolic links; otherwise any symlink on the path gives 403 (Apache's rule). */
  followSymlinks: boolean;
  /** DirectoryIndex, in order, e.g. ['index.html', 'index.htm']. */
  directoryIndex: string[];
  /** AddType: lower-case extension without the dot -> media type; wins over the library's own table. */
  mimeTypes: Record<string, string>;
  /**
   * Serves a directory's index file by its URL path through the whole request walk (mod_dir's
   * subrequest: its own access rules and handler); without it the file is served as a static file.
   */
  serveIndex?: (urlPath: string) => void;
}

/** The Allow header of static resources (405 and OPTIONS answers). */
export const STATIC_ALLOW = 'GET, HEAD, OPTIONS';

/** `<Files ".ht*"> Require all denied </Files>` from Apache's default configuration. */
const HT_FILES = /^\.ht/;

/**
 * Serves `relativePath` (decoded, '/'-separated, starting with '/', already normalized) from `options.root`
 * as Apache's default handler would, updating record.status and record.bytesSent. Calls `done()` when the
 * response has finished or failed (exactly once).
 */
export function serveStatic(record: RequestRecord, relativePath: string, options: StaticOptions, done: () => void): void {
  const res = record.res;
  let called = false;
  const finish = (): void => {
    if (called) return;
    called = true;
    done();
  };
  if (res.destroyed || (res as { closed?: boolean }).closed === true) {
    process.nextTick(finish);
    return;
  }
  res.once('close', finish);
  // Whatever path the answer took, the log gets the status that went out.
  res.once('finish', () => {
    record.status = res.statusCode;
  });
  // As ap_discard_request_body: a static resource never reads a request body.
  record.req.resume();
  run(record, relativePath, options).catch(() => fail(record, 500));
}

type PathCheck = { ok: true; segments: string[]; trailingSlash: boolean } | { ok: false; status: 400 | 404 };

/**
 * The path's components as file names. The path should arrive normalized; what slipped through is
 * handled as Apache would: dot segments are resolved, and a climb above the root is 400.
 */
function checkPath(relativePath: string): PathCheck {
  const raw = relativePath === '' ? '/' : relativePath;
  if (raw[0] !== '/') return { ok: false, status: 400 };
  // One latin-1 character per byte: anything else is not a decoded URL path.
  if (/[^\x00-\xff]/.test(raw)) return { ok: false, status: 404 };
  // An encoded NUL is 404 in Apache; no file name can hold one.
  if (raw.includes('\0')) return { ok: false, status: 404 };
  const normalized = removeDotSegments(mergeSlashes(raw));
  if (normalized === null) return { ok: false, status: 400 };
  const text = decodeUtf8(Buffer.from(normalized, 'latin1'));
  if (text === null) return { ok: false, status: 404 };
  const segments = text.split('/').slice(1);
  const trailingSlash = segments[segments.length - 1] === '';
  if (trailingSlash) segments.pop();
  for (const segment of segments) {
    if (segment === '' || segment === '.' || segment === '..') return { ok: false, status: 400 };
    // On Windows a backslash or a drive colon would be a separator; on POSIX they are name characters.
    if (path.sep === '\\' && /[\\:]/.test(segment)) return { ok: false, status: 404 };
  }
  return { ok: true, segments, trailingSlash };
}

type Walk =
  /** A regular file: `dir` holds it under `name`. */
  | { kind: 'file'; dir: string; name: string; stopName: string }
  | { kind: 'directory'; dir: string; stopName: string | null }
  /** Nothing there, or a file followed by more path (PATH_INFO, refused for static files). */
  | { kind: 'missing'; stopName: string }
  | { kind: 'denied' };

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/**
 * Apache's directory walk, one component at a time with lstat. `stopName` is the component the
 * walk ended on (r->filename's last part), which the `.ht*` rule is matched against.
 */
async function walk(root: string, segments: string[], slash: boolean, followSymlinks: boolean): Promise<Walk> {
  let rootStat: fs.Stats;
  try {
    rootStat = await fs.promises.stat(root);
  } catch (err) {
    return errorCode(err) === 'ENOENT' || errorCode(err) === 'ENOTDIR' ? { kind: 'missing', stopName: '' } : { kind: 'denied' };
  }
  if (rootStat.isFile()) {
    // An Alias of a single file: the URL must name it exactly.
    const name = path.basename(root);
    if (segments.length > 0 || slash) return { kind: 'missing', stopName: name };
    return { kind: 'file', dir: path.dirname(root), name, stopName: name };
  }
  if (!rootStat.isDirectory()) return { kind: 'denied' };

  let current = root;
  for (let i = 0; i < segments.length; i++) {
    const name = segments[i]!;
    const fsPath = path.join(current, name);
    let stat: fs.Stats;
    try {
      stat = await fs.promises.lstat(fsPath);
    } catch (err) {
      // ENOENT ends the walk; anything else (EACCES, ENAMETOOLONG, ...) is 403, as in Apache.
      return errorCode(err) === 'ENOENT' ? { kind: 'missing', stopName: name } : { kind: 'denied' };
    }
    if (stat.isSymbolicLink()) {
      if (!followSymlinks) return { kind: 'denied' };
      try {
        stat = await fs.promises.stat(fsPath);
      } catch {
        return { kind: 'denied' };
      }
    }
    if (stat.isDirectory()) {
      current = fsPath;
      continue;
    }
    if (!stat.isFile()) return { kind: 'denied' };
    if (i < segments.length - 1 || slash) return { kind: 'missing', stopName: name };
    return { kind: 'file', dir: current, name, stopName: name };
  }
  return { kind: 'directory', dir: current, stopName: segments.length > 0 && !slash ? segments[segments.length - 1]! : null };
}

type IndexLookup = { kind: 'file'; name: string } | { kind: 'none'; denied: boolean };

/**
 * mod_dir: the first DirectoryIndex name that is a regular file (through a link only with
 * FollowSymLinks). A candidate that exists but is refused makes the answer 403 rather than a
 * listing, as mod_dir returns the last error its subrequests met.
 */
async function findIndex(dir: string, options: StaticOptions): Promise<IndexLookup> {
  let denied = false;
  for (const name of options.directoryIndex) {
    // Only plain names: an index given as a URL elsewhere (/cgi-bin/index.py) is not supported.
    if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) continue;
    // Refused by name whether or not it exists, as <Files ".ht*"> refuses the subrequest.
    if (HT_FILES.test(name)) {
      denied = true;
      continue;
    }
    const fsPath = path.join(dir, name);
    let stat: fs.Stats;
    try {
      stat = await fs.promises.lstat(fsPath);
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') denied = true;
      continue;
    }
    if (stat.isSymbolicLink()) {
      if (!options.followSymlinks) {
        denied = true;
        continue;
      }
      try {
        stat = await fs.promises.stat(fsPath);
      } catch {
        denied = true;
        continue;
      }
    }
    if (stat.isFile()) return { kind: 'file', name };
  }
  return { kind: 'none', denied };
}

/** What the request line says about the URL: the decoded path, the raw query, the host. */
function requestUrl(record: RequestRecord, relativePath: string): { path: string; query: string; host: string | null } {
  const req = record.req;
  const target = parseTarget(req.url ?? '/');
  const hostHeader = req.headers.host ?? null;
  if (target.ok && target.path !== '*') return { path: target.path, query: target.query, host: target.hostFromTarget ?? hostHeader };
  return { path: relativePath === '' ? '/' : relativePath, query: '', host: hostHeader };
}

async function run(record: RequestRecord, relativePath: string, options: StaticOptions): Promise<void> {
  const method = record.req.method ?? 'GET';
  const checked = checkPath(relativePath);
  if (!checked.ok) return fail(record, checked.status);
  const url = requestUrl(record, relativePath);
  // At the mount's own root only the URL can tell whether the client wrote the slash.
  const slash = checked.segments.length === 0 ? url.path.endsWith('/') : checked.trailingSlash;
  const found = await walk(path.resolve(options.root), checked.segments, slash, options.followSymlinks);
  if (found.kind === 'denied') return fail(record, 403);
  if (found.stopName !== null && HT_FILES.test(found.stopName)) return fail(record, 403);

  switch (found.kind) {
    case 'missing':
      if (method === 'OPTIONS') return answerOptions(record);
      if (method === 'GET' || method === 'HEAD' || method === 'POST') return fail(record, 404);
      return fail(record, 405, { Allow: STATIC_ALLOW });
    case 'file':
      return serveFile(record, found.dir, found.name, options);
    case 'directory': {
      if (!slash) return redirect(record, url.path + '/', url.query, url.host);
      const index = await findIndex(found.dir, options);
      if (index.kind === 'file') {
        if (options.serveIndex !== undefined) return options.serveIndex(url.path + index.name);
        return serveFile(record, found.dir, index.name, options);
      }
      if (method === 'OPTIONS') return answerOptions(record);
      if (method !== 'GET' && method !== 'HEAD') return fail(record, 405, { Allow: STATIC_ALLOW });
      if (index.denied || !options.indexes) return fail(record, 403);
      let entries;
      try {
        entries = await readListing(found.dir, options.followSymlinks);
      } catch {
        return fail(record, 403);
      }
      const body = Buffer.from(renderListing(url.path, entries), 'utf8');
      return writeWhole(record, 200, 'OK', { 'Content-Type': 'text/html;charset=UTF-8' }, body);
    }
  }
}

type SendError = Error & { status?: number; statusCode?: number; code?: string; headers?: Record<string, string> };

/** Hands a regular file to send, which streams it with its validators, conditions and ranges. */
let sendLibrary: typeof sendModule | undefined;

/**
 * `send` is loaded on the first static file: with its MIME table it adds about 8 MB to the front
 * end's memory, which a server that only runs WSGI applications never needs.
 */
function send(...args: Parameters<typeof sendModule>): ReturnType<typeof sendModule> {
  sendLibrary ??= require('send') as typeof sendModule;
  return sendLibrary(...args);
}

function serveFile(record: RequestRecord, dir: string, name: string, options: StaticOptions): void {
  const method = record.req.method ?? 'GET';
  if (method === 'OPTIONS') return answerOptions(record);
  if (method !== 'GET' && method !== 'HEAD') return fail(record, 405, { Allow: STATIC_ALLOW });
  const res = record.res;
  if (res.destroyed) return;

  // send decodes its path argument (decodeURIComponent), so the name is encoded once here: a file
  // called "a%20b.txt" stays that name. The root is the file's own directory, so send sees one name.
  const stream = send(record.req, '/' + encodeURIComponent(name), {
    root: dir,
    index: false,
    dotfiles: 'allow',
    cacheControl: false,
    etag: true,
    lastModified: true,
    acceptRanges: true,
  });

  stream.on('headers', (_res: unknown, _file: string, stat: fs.Stats) => {
    // Set before send's own: it keeps an ETag or Last-Modified already there.
    const requestMicros = record.startMicros;
    const mtimeMicros = Math.floor(stat.mtimeMs * 1000);
    const weak = requestMicros - mtimeMicros <= 1_000_000;
    res.setHeader('ETag', `${weak ? 'W/' : ''}"${stat.size.toString(16)}-${mtimeMicros.toString(16)}"`);
    res.setHeader('Last-Modified', new Date(Math.min(stat.mtimeMs, requestMicros / 1000)).toUTCString());
  });

  const libraryType = stream.type.bind(stream);
  stream.type = (file: string): void => {
    if (res.getHeader('Content-Type') !== undefined) return;
    const extension = path.extname(file).slice(1).toLowerCase();
    if (extension !== '' && Object.hasOwn(options.mimeTypes, extension)) {
      res.setHeader('Content-Type', options.mimeTypes[extension]!);
      return;
    }
    libraryType(file);
    const chosen = res.getHeader('Content-Type');
    if (typeof chosen === 'string') res.setHeader('Content-Type', chosen.replace(/;\s*charset=utf-8$/i, ''));
  };

  stream.on('stream', (file: fs.ReadStream) => {
    record.status = res.statusCode;
    record.bytesSent = 0;
    file.on('data', (chunk: Buffer | string) => {
      record.bytesSent += chunk.length;
    });
    file.on('end', () => {
      // The file shrank while it was read: the client was promised more than it got, so the
      // connection closes after it (RFC 9112 section 6.3), as Apache aborts it.
      const declared = Number(res.getHeader('Content-Length'));
      if (record.req.method !== 'HEAD' && Number.isFinite(declared) && record.bytesSent < declared) endConnectionAfter(res);
    });
  });

  // The file turned into a directory between the walk and send's own stat.
  stream.on('directory', () => fail(record, 404));

  stream.on('error', (err: SendError) => {
    let status = err.status ?? err.statusCode ?? 500;
    if (err.code === 'EACCES' || err.code === 'EPERM') status = 403; // "file permissions deny server access"
    const headers: Record<string, string> = {};
    if (!res.headersSent) {
      // Drop the validators and type send set for the file: they do not describe an error page.
      for (const header of res.getHeaderNames()) res.removeHeader(header);
      const contentRange = err.headers?.['Content-Range'];
      if (status === 416 && contentRange !== undefined) headers['Content-Range'] = contentRange;
    }
    fail(record, status, headers);
  });

  stream.pipe(res);
}

function fail(record: RequestRecord, status: number, headers: Record<string, string> = {}): void {
  if (record.res.destroyed) return;
  sendErrorPage(record, status, headers);
}

/** mod_dir's DirectorySlash: 301 to the same URL with '/' added, the query kept. */
function redirect(record: RequestRecord, urlPath: string, query: string, host: string | null): void {
  const pathPart = escapePath(Buffer.from(urlPath, 'latin1'), true) + (query !== '' ? '?' + query : '');
  const usableHost = host !== null && /^(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/.test(host);
  const location = usableHost ? `${record.connection.scheme}://${host}${pathPart}` : pathPart;
  const body = Buffer.from(
    `<!DOCTYPE html>\n<html><head>\n<title>301 Moved Permanently</title>\n</head><body>\n<h1>Moved Permanently</h1>\n<p>The document has moved <a href="${escapeHtml(location)}">here</a>.</p>\n</body></html>\n`,
    'latin1',
  );
  writeWhole(record, 301, 'Moved Permanently', { Location: location, 'Content-Type': 'text/html; charset=iso-8859-1' }, body);
}

function answerOptions(record: RequestRecord): void {
  writeWhole(record, 200, 'OK', { Allow: STATIC_ALLOW }, Buffer.alloc(0));
}

/** A complete answer with a body known in advance (none goes out for HEAD). */
function writeWhole(record: RequestRecord, status: number, reason: string, headers: Record<string, string>, body: Buffer): void {
  const res = record.res;
  if (res.destroyed) return;
  if (res.headersSent) {
    cutResponse(res);
    return;
  }
  const head = record.req.method === 'HEAD';
  record.status = status;
  record.bytesSent = head ? 0 : body.length;
  res.writeHead(status, reason, { ...headers, 'Content-Length': String(body.length) });
  res.end(head ? undefined : body);
}
