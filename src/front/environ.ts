import type { IncomingMessage } from 'node:http';
import { FRAME_HEADER_SIZE, ToWorker, writeFrameHeader } from '../protocol/frames';
import { MarshalWriter } from '../protocol/marshal';

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
  scriptName: string;
  pathInfo: string;
  query: string;
  processGroup: string;
  applicationGroup: string;
  callableObject: string;
  passAuthorization: boolean;
  /** WSGIMapHEADToGET On. */
  mapHeadToGet: boolean;
  requestId: string;
  /** Epoch seconds. */
  requestStart: number;
  queueStart: number;
  /** Variables from SetEnv/PassEnv: they come first, so the CGI keys win over them (as in Apache). */
  extra?: Record<string, string>;
}

/**
 * HTTP_* names for header names, cached because the same few dozen names arrive on every
 * request. Names holding anything but letters, digits and '-' map to null: mod_wsgi drops such
 * headers so that "X_Foo" cannot pose as "X-Foo".
 */
const headerKeys = new Map<string, string | null>();
const MAX_CACHED_HEADER_NAMES = 2000;
const VALID_HEADER_NAME = /^[A-Za-z0-9-]+$/;

function environKey(name: string): string | null {
  let key = headerKeys.get(name);
  if (key !== undefined) return key;
  const lower = name.toLowerCase();
  if (!VALID_HEADER_NAME.test(name) || lower === 'proxy') key = null;
  else if (lower === 'content-type') key = 'CONTENT_TYPE';
  else if (lower === 'content-length') key = 'CONTENT_LENGTH';
  else key = 'HTTP_' + name.toUpperCase().replace(/-/g, '_');
  if (headerKeys.size < MAX_CACHED_HEADER_NAMES) headerKeys.set(name, key);
  return key;
}

const AUTHORIZATION_KEYS = new Set(['HTTP_AUTHORIZATION', 'HTTP_PROXY_AUTHORIZATION']);

/**
 * Encodes the head frame of a request: a marshal tuple (flags, environ) in which environ holds
 * the CGI variables mod_wsgi 6 sets and the mod_wsgi.* keys the front end knows. The worker adds
 * the wsgi.* objects and its own timing keys.
 */
export function encodeRequestHead(req: IncomingMessage, ctx: EnvironContext, flags: number): Buffer {
  const w = new MarshalWriter(1024);
  const headerAt = w.skip(FRAME_HEADER_SIZE);
  w.smallTuple(2);
  w.int(flags);
  w.beginDict();
  if (ctx.extra !== undefined) {
    for (const key in ctx.extra) {
      w.text(key);
      w.text(ctx.extra[key]!);
    }
  }

  const raw = req.rawHeaders;
  // Repeated headers are joined with ", " as Apache joins them; most requests repeat none.
  let merged: Map<string, string> | null = null;
  const keys: string[] = [];
  const values: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const key = environKey(raw[i]!);
    if (key === null) continue;
    if (!ctx.passAuthorization && AUTHORIZATION_KEYS.has(key)) continue;
    if (key === 'HTTP_PROXY_AUTHORIZATION') continue;
    const value = raw[i + 1]!;
    if (keys.includes(key)) {
      merged ??= new Map();
      merged.set(key, (merged.get(key) ?? values[keys.indexOf(key)]!) + ', ' + value);
      continue;
    }
    keys.push(key);
    values.push(value);
  }
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    w.latin1(key);
    w.text(merged?.get(key) ?? values[i]!);
  }

  const conn = ctx.connection;
  // WSGIMapHEADToGET On shows HEAD to the application as GET; Auto maps only when an output
  // filter needs the whole body, and wsgi-host has none, so Auto leaves HEAD alone.
  w.entry('REQUEST_METHOD', ctx.mapHeadToGet && req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET'));
  w.latin1('SCRIPT_NAME');
  w.text(ctx.scriptName);
  w.latin1('PATH_INFO');
  w.text(ctx.pathInfo);
  w.entry('QUERY_STRING', ctx.query);
  w.latin1('REQUEST_URI');
  w.text(req.url ?? '');
  w.entry('SERVER_PROTOCOL', `HTTP/${req.httpVersion}`);
  w.entry('SERVER_SOFTWARE', ctx.serverSoftware);
  w.latin1('SERVER_NAME');
  w.text(ctx.requestHost);
  w.entry('SERVER_ADDR', conn.localAddress);
  w.entry('SERVER_PORT', String(ctx.requestPort));
  w.entry('REMOTE_ADDR', conn.remoteAddress);
  w.entry('REMOTE_PORT', String(conn.remotePort));
  w.entry('REQUEST_SCHEME', conn.scheme);
  w.latin1('DOCUMENT_ROOT');
  w.unicode(ctx.documentRoot);
  w.entry('CONTEXT_PREFIX', '');
  w.latin1('CONTEXT_DOCUMENT_ROOT');
  w.unicode(ctx.documentRoot);
  if (ctx.serverAdmin !== null) {
    w.latin1('SERVER_ADMIN');
    w.text(ctx.serverAdmin);
  }
  w.latin1('SCRIPT_FILENAME');
  w.unicode(ctx.scriptFilename);
  w.entry('wsgi.url_scheme', conn.scheme);

  w.latin1('mod_wsgi.process_group');
  w.text(ctx.processGroup);
  w.latin1('mod_wsgi.application_group');
  w.text(ctx.applicationGroup);
  w.latin1('mod_wsgi.callable_object');
  w.text(ctx.callableObject);
  w.entry('mod_wsgi.request_handler', 'wsgi-script');
  w.latin1('mod_wsgi.handler_script');
  w.unicode(ctx.handlerScript);
  w.latin1('mod_wsgi.script_name');
  w.text(ctx.scriptName);
  w.latin1('mod_wsgi.path_info');
  w.text(ctx.pathInfo);
  w.entry('mod_wsgi.listener_host', conn.localAddress);
  w.entry('mod_wsgi.listener_port', String(conn.localPort));
  w.entry('mod_wsgi.server_pid', String(process.pid));
  w.entry('mod_wsgi.request_id', ctx.requestId);
  w.entry('mod_wsgi.connection_id', conn.id);
  w.latin1('mod_wsgi.request_start');
  w.float(ctx.requestStart);
  w.latin1('mod_wsgi.queue_start');
  w.float(ctx.queueStart);
  w.endDict();

  writeFrameHeader(w.buffer, headerAt, ToWorker.Head, w.length - FRAME_HEADER_SIZE);
  return w.result();
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
