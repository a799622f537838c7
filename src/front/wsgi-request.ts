import { EMBEDDED_GROUP, type ResolvedSettings, type ServerConfig, type VirtualHostConfig } from '../config/model';
import type { ProcessGroup } from '../groups/process-group';
import type { ErrorLog } from '../log/error-log';
import { nowMicros } from '../log/apache-time';
import { HeadFlags } from '../protocol/frames';
import type { BodyBudget } from './body-budget';
import { RequestBodyReader } from './body-spool';
import { encodeRequestHead, expandApplicationGroup } from './environ';
import { proxyEnviron } from './proxy-headers';
import type { RequestRecord } from './request-record';
import { WsgiExchange, type BodyPlan, type ExchangeContext } from './wsgi-exchange';

/** What the front end knows about a request when it routes it to a WSGI script. */
export interface RoutedRequest {
  record: RequestRecord;
  vhost: VirtualHostConfig;
  errorLog: ErrorLog;
  settings: ResolvedSettings;
  query: string;
  requestHost: string;
  requestPort: number;
  expectContinue: boolean;
  /** The Content-Length and Transfer-Encoding header values, if any. */
  contentLength: string | undefined;
  transferEncoding: string | undefined;
  hooks: BodyHooks;
  fail: Failure;
}

/** Which script serves the request, and the options its directive gave. */
export interface WsgiTarget {
  /** SCRIPT_FILENAME: the WSGI script, or for a WSGIHandlerScript the file the URL names. */
  scriptPath: string;
  /** The WSGIHandlerScript whose code serves the request, if any. */
  handlerScript: string | null;
  scriptName: string;
  pathInfo: string;
  /** Options given on the WSGIScriptAlias / WSGIHandlerScript, which win over per-directory settings. */
  processGroup: string | null;
  applicationGroup: string | null;
  callableObject: string | null;
  passAuthorization: boolean | null;
  /** mod_wsgi.request_handler: Apache's handler name (wsgi-script, or a WSGIHandlerScript's name). */
  requestHandler: string;
  /** CONTEXT_PREFIX and CONTEXT_DOCUMENT_ROOT: the Alias the file came through ('' and DocumentRoot otherwise). */
  contextPrefix: string;
  contextDocumentRoot: string;
}

/** Hooks the front end gives for the request's connection. */
export interface BodyHooks {
  /** Registers what to do if the parser rejects the body being read (null: the body is complete). */
  onBodyFailure(handler: ((status: number) => void) | null): void;
}

export type Failure = (status: number, why: string, level?: 'info' | 'error') => void;

/**
 * Starts a WSGI request: picks the process group, checks the body framing and limits, encodes
 * the environ and hands the exchange to the group's dispatcher. With WSGIRequestBodySpooling On
 * (and a directory for spool files), a body the front end would otherwise stream to the
 * application as it reads (larger than the in-memory buffer, chunked, or awaiting 100 Continue)
 * is first read whole, so no worker thread waits on the client.
 */
export function startWsgiRequest(
  r: RoutedRequest,
  t: WsgiTarget,
  config: ServerConfig,
  groups: { group(name: string): ProcessGroup | undefined },
  serverSoftware: string,
  spoolDirectory: string | null = null,
  bodyBudget: BodyBudget | null = null,
): void {
  const { record, settings, vhost, hooks, fail } = r;
  const req = record.req;
  const groupName = expandGroupName(t.processGroup ?? settings.processGroup, record);
  if (groupName === EMBEDDED_GROUP && config.python.restrictEmbedded) {
    return fail(500, `WSGI0143: Embedded mode of mod_wsgi disabled by runtime configuration: ${t.scriptPath}`, 'error');
  }
  const group = groups.group(groupName);
  if (group === undefined) {
    return fail(500, `WSGI0150: No WSGI daemon process called '${groupName}' has been configured: ${t.scriptPath}`, 'error');
  }
  if (group.config.scope !== null && group.config.scope !== vhost.serverName) {
    return fail(500, `WSGI0152: Daemon process called '${groupName}' cannot be accessed by this WSGI application: ${t.scriptPath}`, 'error');
  }
  if (settings.restrictProcess !== null && !settings.restrictProcess.includes(groupName)) {
    return fail(500, `WSGI0151: Daemon process called '${groupName}' cannot be accessed by this WSGI application: ${t.scriptPath}`, 'error');
  }

  if (group.stats !== null) record.timing = group.stats.startTiming();

  const transferEncoding = r.transferEncoding;
  const contentLengthHeader = r.contentLength;
  let body: BodyPlan;
  /** The body is read whole before dispatch: its declared length, or -1 for chunked; null: it is not. */
  let readFirst: number | null = null;
  if (transferEncoding !== undefined) {
    if (!settings.chunkedRequest) {
      return fail(411, `WSGI0139: Request body with chunked transfer encoding is not allowed (WSGIChunkedRequest Off): ${t.scriptPath}`);
    }
    if (spoolDirectory !== null && settings.requestBodySpooling) {
      readFirst = -1;
      // The client is told to go ahead at once: the front end reads the body, not the application.
      if (r.expectContinue) record.res.writeContinue();
    }
    body = { kind: 'on-demand', expectContinue: r.expectContinue };
  } else if (contentLengthHeader !== undefined && contentLengthHeader !== '0') {
    const length = Number(contentLengthHeader);
    if (settings.limitRequestBody > 0 && length > settings.limitRequestBody) {
      return fail(413, `Requested content-length of ${length} is larger than the configured limit of ${settings.limitRequestBody}`);
    }
    if (!r.expectContinue && length <= config.limits.bufferedBodySize) {
      body = { kind: 'buffered', pieces: [], length: 0 };
    } else if (spoolDirectory !== null && settings.requestBodySpooling) {
      if (r.expectContinue) record.res.writeContinue();
      if (length > config.limits.bufferedBodySize) readFirst = length;
      body = { kind: 'buffered', pieces: [], length: 0 };
    } else {
      body = { kind: 'on-demand', expectContinue: r.expectContinue };
    }
  } else {
    body = { kind: 'none' };
    // Nothing to read, but say so if the client waits for permission to send nothing.
    if (r.expectContinue) record.res.writeContinue();
  }

  const applicationGroup = expandApplicationGroup(t.applicationGroup ?? settings.applicationGroup, {
    serverName: vhost.serverName,
    requestHost: r.requestHost,
    requestPort: r.requestPort,
    scriptName: t.scriptName,
    env: (name) => record.env[name],
  });
  const context = exchangeContext(group, r.errorLog, settings.errorOverride, config.timeouts.socket, spoolDirectory !== null ? settings.responseSpoolLimit : 0, spoolDirectory);
  if (readFirst !== null) {
    return readBodyFirst(r, t, serverSoftware, groupName, applicationGroup, group, context, readFirst, config.limits.bufferedBodySize, spoolDirectory!, bodyBudget);
  }
  const head = encodeHead(r, t, serverSoftware, groupName, applicationGroup, body, record.startMicros / 1e6);

  if (body.kind === 'buffered') {
    // Bodies up to the limit are read whole first: the worker thread then never waits on a slow
    // client, and head and body reach it in one write.
    const buffered = body;
    const ticket = bodyBudget?.track(req);
    if (ticket !== undefined) {
      buffered.ticket = ticket;
      // Whatever becomes of the request (run, failed, client gone), its body stops counting.
      record.res.once('close', () => ticket.release());
    }
    hooks.onBodyFailure((status) => fail(status, 'The request body was malformed or cut short; the request was not run.'));
    req.on('data', (chunk: Buffer) => {
      buffered.pieces.push(chunk);
      buffered.length += chunk.length;
      ticket?.received(chunk.length);
    });
    req.on('end', () => {
      hooks.onBodyFailure(null);
      ticket?.finishedReading();
      if (record.res.destroyed) return;
      group.submit(new WsgiExchange(context, record, head, buffered, applicationGroup));
    });
    return;
  }
  const exchange = new WsgiExchange(context, record, head, body, applicationGroup);
  if (body.kind !== 'none') {
    hooks.onBodyFailure((status) => exchange.bodyFailed(status));
    req.once('end', () => hooks.onBodyFailure(null));
  }
  group.submit(exchange);
}

/** The request head for the worker: the environ, and how the body will come. */
function encodeHead(r: RoutedRequest, t: WsgiTarget, serverSoftware: string, groupName: string, applicationGroup: string, body: BodyPlan, queueStart: number): Buffer {
  const { record, settings, vhost } = r;
  const req = record.req;
  const connection = record.connection;
  return encodeRequestHead(
    req,
    {
      connection,
      serverName: vhost.serverName,
      serverAdmin: vhost.serverAdmin,
      serverSoftware,
      documentRoot: vhost.documentRoot,
      requestHost: r.requestHost,
      requestPort: r.requestPort,
      scriptFilename: t.scriptPath,
      handlerScript: t.handlerScript ?? '',
      requestHandler: t.requestHandler,
      contextPrefix: t.contextPrefix,
      contextDocumentRoot: t.contextDocumentRoot,
      scriptName: t.scriptName,
      pathInfo: t.pathInfo,
      query: r.query,
      processGroup: groupName === EMBEDDED_GROUP ? '' : groupName,
      applicationGroup,
      callableObject: t.callableObject ?? settings.callableObject,
      passAuthorization: t.passAuthorization ?? settings.passAuthorization,
      remoteUser: record.remoteUser,
      authType: record.authType,
      mapHeadToGet: settings.mapHeadToGet === 'on',
      requestId: record.id,
      requestStart: record.startMicros / 1e6,
      queueStart,
      extra: record.env,
      proxied: settings.trustedProxyHeaders.length > 0 ? proxyEnviron(req.rawHeaders, settings.trustedProxyHeaders, settings.trustedProxies, connection.remoteAddress, connection.scheme) : null,
    },
    (body.kind === 'on-demand' || body.kind === 'spooled' ? HeadFlags.BodyOnRequest : 0) | (settings.scriptReloading ? HeadFlags.ScriptReloading : 0) | (settings.enableSendfile ? HeadFlags.Sendfile : 0),
    body.kind === 'none',
  );
}

/**
 * WSGIRequestBodySpooling: reads the whole body (into memory up to the buffer size, else into a
 * spool file) while RequestReadTimeout's body stage and LimitRequestBody govern the client, and
 * only then queues the request for a thread. A body that fails (too large, too slow, malformed)
 * or a client that leaves drops the request before any thread sees it.
 */
function readBodyFirst(
  r: RoutedRequest,
  t: WsgiTarget,
  serverSoftware: string,
  groupName: string,
  applicationGroup: string,
  group: ProcessGroup,
  context: ExchangeContext,
  declaredLength: number,
  memoryLimit: number,
  directory: string,
  bodyBudget: BodyBudget | null,
): void {
  const { record, hooks, fail } = r;
  const ticket = bodyBudget?.trackSpillable();
  // Whatever becomes of the request, its body stops counting.
  if (ticket !== undefined) record.res.once('close', () => ticket.release());
  const reader = new RequestBodyReader(
    record.req,
    { memoryLimit, declaredLength, directory, budget: ticket },
    (read) => {
      hooks.onBodyFailure(null);
      record.onClientClose = undefined;
      if (record.res.destroyed) {
        if (read.kind === 'spooled') read.spool.close();
        return;
      }
      if (read.kind === 'spooled' || read.length === 0) ticket?.release();
      const body: BodyPlan = read.kind === 'spooled' ? read : read.length === 0 ? { kind: 'none' } : { kind: 'buffered', pieces: read.pieces, length: read.length, ticket };
      const head = encodeHead(r, t, serverSoftware, groupName, applicationGroup, body, nowMicros() / 1e6);
      group.submit(new WsgiExchange(context, record, head, body, applicationGroup));
    },
    (err) => {
      hooks.onBodyFailure(null);
      record.onClientClose = undefined;
      // The rest of the body is not read: the connection cannot carry another request.
      record.res.shouldKeepAlive = false;
      fail(500, `Could not spool the request body to ${directory} (${err.message}); the request was not run. Free space there, move WSGISocketPrefix (--socket-prefix) to a larger filesystem, or turn WSGIRequestBodySpooling off.`, 'error');
    },
  );
  hooks.onBodyFailure((status) => {
    reader.abort();
    fail(status, 'The request body was malformed, too large or too slow; the request was not run.');
  });
  record.onClientClose = () => reader.abort();
}

/** Exchange contexts depend on the group, the virtual host's log and three settings: made once each. */
const contexts = new WeakMap<ProcessGroup, Map<ErrorLog, Map<string, ExchangeContext>>>();

function exchangeContext(group: ProcessGroup, errorLog: ErrorLog, errorOverride: boolean, socketTimeout: number, responseSpoolLimit: number, spoolDirectory: string | null): ExchangeContext {
  let byLog = contexts.get(group);
  if (byLog === undefined) {
    byLog = new Map();
    contexts.set(group, byLog);
  }
  let byOptions = byLog.get(errorLog);
  if (byOptions === undefined) {
    byOptions = new Map();
    byLog.set(errorLog, byOptions);
  }
  const key = `${errorOverride ? 1 : 0}|${socketTimeout}|${responseSpoolLimit}`;
  let context = byOptions.get(key);
  if (context === undefined) {
    const groupConfig = group.config;
    context = {
      errorLog,
      groupName: groupConfig.name,
      errorOverride,
      withdrawn: () => group.dispatcher.noteWithdrawn(),
      resubmit: (exchange) => group.dispatcher.resubmit(exchange),
      headerTimeoutMs: (groupConfig.socketTimeout > 0 ? groupConfig.socketTimeout : socketTimeout) * 1000,
      requestTimeoutMs: groupConfig.requestTimeout * 1000,
      interruptTimeoutMs: groupConfig.interruptTimeout * 1000,
      requestTimedOut: (slot) => group.requestTimedOut(slot),
      deadlines: group.deadlines,
      responseCounts: group.responseCounts,
      responseBufferBytes: groupConfig.responseBufferSize,
      responseSpool: responseSpoolLimit > 0 && spoolDirectory !== null ? { directory: spoolDirectory, limit: responseSpoolLimit } : null,
    };
    byOptions.set(key, context);
  }
  return context;
}

/** WSGIProcessGroup %{ENV:NAME} is looked up in the request's environment, then the server's. */
function expandGroupName(spec: string, record: RequestRecord): string {
  const env = /^%\{ENV:(.+)\}$/.exec(spec);
  if (env === null) return spec;
  return record.env[env[1]!] ?? process.env[env[1]!] ?? spec;
}
