import type { IncomingMessage } from 'node:http';
import { FRAME_HEADER_SIZE, ToWorker, writeFrameHeader } from '../protocol/frames';
import { M_DICT_END, M_DICT_START, mFloat, mInt, mLatin1, mSmallTuple, mStr } from '../protocol/marshal-text';
import { SlabPool } from '../util/slab-pool';

/** The connection a request came in on. */
export interface ConnectionInfo {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  scheme: 'http' | 'https';
  /** Apache's connection log id. */
  id: string;
}

/** Everything the environ needs beyond the request itself. */
export interface EnvironContext {
  connection: ConnectionInfo;
  /** ServerName of the virtual host (Apache's r->server->server_hostname). */
  serverName: string;
  serverAdmin: string | null;
  serverSoftware: string;
  documentRoot: string;
  /** SERVER_NAME and SERVER_PORT as UseCanonicalName Off gives them (from the Host header). */
  requestHost: string;
  requestPort: number;
  scriptFilename: string;
  /** mod_wsgi.handler_script: the WSGIHandlerScript to run ('' for a plain WSGI script). */
  handlerScript: string;
  /** mod_wsgi.request_handler: Apache's handler name for the request. */
  requestHandler: string;
  /** CONTEXT_PREFIX and CONTEXT_DOCUMENT_ROOT: an Alias's URL prefix and directory, else '' and DocumentRoot. */
  contextPrefix: string;
  contextDocumentRoot: string;
  scriptName: string;
  pathInfo: string;
  query: string;
  processGroup: string;
  applicationGroup: string;
  callableObject: string;
  passAuthorization: boolean;
  /** REMOTE_USER and AUTH_TYPE, when the server authenticated the request (bytes as latin-1 strings). */
  remoteUser: string | null;
  authType: string | null;
  /** WSGIMapHEADToGET On. */
  mapHeadToGet: boolean;
  requestId: string;
  /** Epoch seconds. */
  requestStart: number;
  queueStart: number;
  /** Variables from SetEnv/PassEnv: they come first, so the CGI keys win over them (as in Apache). */
  extra?: Record<string, string>;
  /** WSGITrustedProxyHeaders' work: the header fields to pass, and entries that replace CGI keys. */
  proxied?: { rawHeaders: readonly string[]; overrides: string } | null;
}

/**
 * HTTP_* names for header names, cached (with their marshal encoding) because the same few
 * dozen names arrive on every request. Names holding anything but letters, digits and '-' map
 * to null: mod_wsgi drops such headers so that "X_Foo" cannot pose as "X-Foo".
 */
const headerKeys = new Map<string, { key: string; encoded: string } | null>();
const MAX_CACHED_HEADER_NAMES = 2000;
const VALID_HEADER_NAME = /^[A-Za-z0-9-]+$/;

function environKey(name: string): { key: string; encoded: string } | null {
  let entry = headerKeys.get(name);
  if (entry !== undefined) return entry;
  const lower = name.toLowerCase();
  let key: string | null;
  if (!VALID_HEADER_NAME.test(name) || lower === 'proxy' || lower === 'proxy-authorization') key = null;
  else if (lower === 'content-type') key = 'CONTENT_TYPE';
  else if (lower === 'content-length') key = 'CONTENT_LENGTH';
  else key = 'HTTP_' + name.toUpperCase().replace(/-/g, '_');
  entry = key === null ? null : { key, encoded: mLatin1(key) };
  if (headerKeys.size < MAX_CACHED_HEADER_NAMES) headerKeys.set(name, entry);
  return entry;
}

/** Encoded dict keys. */
const K = Object.fromEntries(
  [
    'REQUEST_METHOD', 'SCRIPT_NAME', 'PATH_INFO', 'QUERY_STRING', 'REQUEST_URI', 'SERVER_PROTOCOL', 'SERVER_SOFTWARE',
    'SERVER_NAME', 'SERVER_ADDR', 'SERVER_PORT', 'REMOTE_ADDR', 'REMOTE_PORT', 'REQUEST_SCHEME', 'DOCUMENT_ROOT',
    'CONTEXT_PREFIX', 'CONTEXT_DOCUMENT_ROOT', 'SERVER_ADMIN', 'SCRIPT_FILENAME', 'wsgi.url_scheme',
    'mod_wsgi.process_group', 'mod_wsgi.application_group', 'mod_wsgi.callable_object', 'mod_wsgi.request_handler',
    'mod_wsgi.handler_script', 'mod_wsgi.script_name', 'mod_wsgi.path_info', 'mod_wsgi.listener_host',
    'mod_wsgi.listener_port', 'mod_wsgi.server_pid', 'mod_wsgi.request_id', 'mod_wsgi.connection_id',
    'mod_wsgi.request_start', 'mod_wsgi.queue_start', 'REMOTE_USER', 'AUTH_TYPE',
  ].map((k) => [k, mLatin1(k)]),
) as Record<string, string>;

/**
 * The environ entries every request over one connection shares, encoded once: copying bytes costs
 * less than joining them into the rest of the head's text and flattening it again per request.
 */
const connectionParts = new WeakMap<ConnectionInfo, Buffer>();

function connectionPart(conn: ConnectionInfo): Buffer {
  let part = connectionParts.get(conn);
  if (part === undefined) {
    const text =
      K['SERVER_ADDR'] + mLatin1(conn.localAddress) +
      K['REMOTE_ADDR'] + mLatin1(conn.remoteAddress) +
      K['REMOTE_PORT'] + mLatin1(String(conn.remotePort)) +
      K['REQUEST_SCHEME'] + mLatin1(conn.scheme) +
      K['wsgi.url_scheme'] + mLatin1(conn.scheme) +
      K['mod_wsgi.listener_host'] + mLatin1(conn.localAddress) +
      K['mod_wsgi.listener_port'] + mLatin1(String(conn.localPort)) +
      K['mod_wsgi.connection_id'] + mLatin1(conn.id);
    part = Buffer.from(text, 'latin1');
    connectionParts.set(conn, part);
  }
  return part;
}

/** The environ entries every request to one script with one set of settings shares, encoded once. */
const routeParts = new Map<string, Buffer>();
const MAX_ROUTE_PARTS = 5000;

function routePart(ctx: EnvironContext): Buffer {
  const key = `${ctx.scriptFilename}\0${ctx.handlerScript}\0${ctx.processGroup}\0${ctx.applicationGroup}\0${ctx.callableObject}\0${ctx.documentRoot}\0${ctx.serverAdmin ?? ''}\0${ctx.serverSoftware}\0${ctx.requestHandler}\0${ctx.contextPrefix}\0${ctx.contextDocumentRoot}`;
  let part = routeParts.get(key);
  if (part === undefined) {
    const text =
      K['SERVER_SOFTWARE'] + mStr(ctx.serverSoftware) +
      K['DOCUMENT_ROOT'] + mStr(ctx.documentRoot) +
      K['CONTEXT_PREFIX'] + mStr(ctx.contextPrefix) +
      K['CONTEXT_DOCUMENT_ROOT'] + mStr(ctx.contextDocumentRoot) +
      (ctx.serverAdmin !== null ? K['SERVER_ADMIN'] + mStr(ctx.serverAdmin) : '') +
      K['SCRIPT_FILENAME'] + mStr(ctx.scriptFilename) +
      K['mod_wsgi.process_group'] + mStr(ctx.processGroup) +
      K['mod_wsgi.application_group'] + mStr(ctx.applicationGroup) +
      K['mod_wsgi.callable_object'] + mStr(ctx.callableObject) +
      K['mod_wsgi.request_handler'] + mStr(ctx.requestHandler) +
      K['mod_wsgi.handler_script'] + mStr(ctx.handlerScript) +
      K['mod_wsgi.server_pid'] + mLatin1(String(process.pid));
    part = Buffer.from(text, 'latin1');
    if (routeParts.size >= MAX_ROUTE_PARTS) routeParts.clear();
    routeParts.set(key, part);
  }
  return part;
}

/** SetEnv/PassEnv variables, encoded once per settings object. */
const extraParts = new WeakMap<Record<string, string>, string>();

function extraPart(extra: Record<string, string> | undefined): string {
  if (extra === undefined) return '';
  let part = extraParts.get(extra);
  if (part === undefined) {
    part = '';
    for (const key in extra) part += mStr(key) + mStr(extra[key]!);
    extraParts.set(extra, part);
  }
  return part;
}

/** Encodes the request's header fields as HTTP_* entries; repeated fields are joined with ", " as Apache joins them. */
function headersPart(raw: readonly string[], passAuthorization: boolean): string {
  // Parallel arrays: a request has few fields, and the encoded keys come from the cache, so the
  // repeat check compares references.
  const keys: string[] = [];
  const values: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const entry = environKey(raw[i]!);
    if (entry === null) continue;
    if (!passAuthorization && entry.key === 'HTTP_AUTHORIZATION') continue;
    const at = keys.indexOf(entry.encoded);
    if (at >= 0) values[at] = `${values[at]!}, ${raw[i + 1]!}`;
    else {
      keys.push(entry.encoded);
      values.push(raw[i + 1]!);
    }
  }
  let part = '';
  for (let i = 0; i < keys.length; i++) part += keys[i]! + mLatin1(values[i]!);
  return part;
}

/**
 * Request heads are built in recycled buffers. A fresh buffer per head is memory V8 frees only
 * at its next scavenge: under load thousands of them piled up between two, and the front end's
 * malloc heap stayed at that high-water mark (measured under hello load: 14 to 20 MiB, against
 * 3 to 4 MiB with the heads recycled). A head longer than a buffer is a one-off.
 */
const REQUEST_HEAD_BYTES = 4096;
/** Enough for every request in flight on a busy server; the rest are left to the garbage collector. */
const MAX_FREE_REQUEST_HEADS = 128;
const requestHeads = new SlabPool(REQUEST_HEAD_BYTES, MAX_FREE_REQUEST_HEADS, 0);

/**
 * Gives a head from encodeRequestHead back for reuse. Only once the worker has read it (its
 * response is complete): until then the head may still wait in the socket's write queue, and be
 * sent again if the thread is lost. The caller must not touch it afterwards.
 */
export function recycleRequestHead(head: Buffer): void {
  requestHeads.give(head);
}

/** How many request heads were built in a recycled buffer, since the front end started. */
export function requestHeadReuses(): number {
  return requestHeads.reuses;
}

/**
 * Encodes the head frame of a request: a marshal tuple (flags, environ) in which environ holds
 * the CGI variables mod_wsgi 6 sets and the mod_wsgi.* keys the front end knows. The worker adds
 * the wsgi.* objects and its own timing keys. With `bodyEnd` the frame that ends the (empty)
 * request body follows in the same buffer, so the request goes out in one write.
 */
export function encodeRequestHead(req: IncomingMessage, ctx: EnvironContext, flags: number, bodyEnd = false): Buffer {
  const conn = ctx.connection;
  // WSGIMapHEADToGET On shows HEAD to the application as GET; Auto maps only when an output
  // filter needs the whole body, and wsgi-host has none, so Auto leaves HEAD alone.
  const method = ctx.mapHeadToGet && req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
  // SetEnv values come first so the CGI keys win over them, as in Apache. Entries shared by the
  // connection and by the route are ready-made bytes between the request's own two stretches.
  const before =
    mSmallTuple(2) + mInt(flags) + M_DICT_START +
    extraPart(ctx.extra) +
    headersPart(ctx.proxied != null ? ctx.proxied.rawHeaders : req.rawHeaders, ctx.passAuthorization) +
    (ctx.remoteUser !== null ? K['REMOTE_USER'] + mLatin1(ctx.remoteUser) + K['AUTH_TYPE'] + mLatin1(ctx.authType ?? '') : '') +
    K['REQUEST_METHOD'] + mLatin1(method) +
    K['SCRIPT_NAME'] + mStr(ctx.scriptName) +
    K['PATH_INFO'] + mStr(ctx.pathInfo) +
    K['QUERY_STRING'] + mLatin1(ctx.query) +
    K['REQUEST_URI'] + mLatin1(req.url ?? '') +
    K['SERVER_PROTOCOL'] + mLatin1(`HTTP/${req.httpVersion}`) +
    K['SERVER_NAME'] + mStr(ctx.requestHost) +
    K['SERVER_PORT'] + mLatin1(String(ctx.requestPort));
  const connection = connectionPart(conn);
  const route = routePart(ctx);
  const after =
    K['mod_wsgi.script_name'] + mStr(ctx.scriptName) +
    K['mod_wsgi.path_info'] + mStr(ctx.pathInfo) +
    K['mod_wsgi.request_id'] + mLatin1(ctx.requestId) +
    K['mod_wsgi.request_start'] + mFloat(ctx.requestStart) +
    K['mod_wsgi.queue_start'] + mFloat(ctx.queueStart) +
    (ctx.proxied != null ? ctx.proxied.overrides : '') +
    M_DICT_END;
  const length = before.length + connection.length + route.length + after.length;
  const out = requestHeads.take(FRAME_HEADER_SIZE + length + (bodyEnd ? FRAME_HEADER_SIZE : 0));
  writeFrameHeader(out, 0, ToWorker.Head, length);
  let at = FRAME_HEADER_SIZE;
  at += out.write(before, at, 'latin1');
  at += connection.copy(out, at);
  at += route.copy(out, at);
  at += out.write(after, at, 'latin1');
  if (bodyEnd) writeFrameHeader(out, at, ToWorker.BodyEnd, 0);
  return out;
}

/**
 * Sets or clears one of the flags in a head frame from encodeRequestHead: the frame header, then
 * the marshal tuple's opening (2 bytes) and the int's type byte, then the flags as a little-endian
 * int (the flags all fit in its first byte).
 */
export function setHeadFlag(head: Buffer, flag: number, on: boolean): void {
  const at = FRAME_HEADER_SIZE + 3;
  head[at] = on ? head[at]! | flag : head[at]! & ~flag;
}

/**
 * Expands an application group name for a request as mod_wsgi does: %{GLOBAL} is "", %{SERVER}
 * is ServerName[:port], %{HOST} the same from the Host header, %{RESOURCE} adds "|SCRIPT_NAME",
 * %{ENV:NAME} comes from the request's environment or the server's; anything else is literal.
 */
export function expandApplicationGroup(
  spec: string,
  ctx: { serverName: string; requestHost: string; requestPort: number; scriptName: string; env?: (name: string) => string | undefined },
): string {
  if (!spec.startsWith('%')) return spec;
  const withPort = (host: string): string => (ctx.requestPort === 80 || ctx.requestPort === 443 ? host : `${host}:${ctx.requestPort}`);
  switch (spec) {
    case '%{GLOBAL}':
      return '';
    case '%{RESOURCE}':
      return `${withPort(ctx.serverName)}|${ctx.scriptName}`;
    case '%{SERVER}':
      return withPort(ctx.serverName);
    case '%{HOST}':
      return withPort(ctx.requestHost || ctx.serverName);
  }
  const env = /^%\{ENV:(.+)\}$/.exec(spec);
  if (env !== null) {
    const value = ctx.env?.(env[1]!) ?? process.env[env[1]!];
    if (value !== undefined) {
      if (value.startsWith('%') && !value.startsWith('%{ENV:')) return expandApplicationGroup(value, ctx);
      return value;
    }
  }
  return spec;
}
