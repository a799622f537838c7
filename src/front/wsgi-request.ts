import { EMBEDDED_GROUP, type ResolvedSettings, type ServerConfig, type VirtualHostConfig } from '../config/model';
import type { ProcessGroup } from '../groups/process-group';
import type { ErrorLog } from '../log/error-log';
import { HeadFlags } from '../protocol/frames';
import { encodeRequestHead, expandApplicationGroup, type ConnectionInfo } from './environ';
import type { RequestRecord } from './request-record';
import { WsgiExchange, type BodyPlan, type ExchangeContext } from './wsgi-exchange';

/** What the front end knows about a request once it is routed to a WSGI script. */
export interface WsgiTarget {
  record: RequestRecord;
  vhost: VirtualHostConfig;
  errorLog: ErrorLog;
  settings: ResolvedSettings;
  /** SCRIPT_FILENAME: the WSGI script, or for a WSGIHandlerScript the file the URL names. */
  scriptPath: string;
  /** The WSGIHandlerScript whose code serves the request, if any. */
  handlerScript: string | null;
  scriptName: string;
  pathInfo: string;
  query: string;
  requestHost: string;
  requestPort: number;
  expectContinue: boolean;
  /** Options given on the WSGIScriptAlias / WSGIHandlerScript, which win over per-directory settings. */
  processGroup: string | null;
  applicationGroup: string | null;
  callableObject: string | null;
  passAuthorization: boolean | null;
}

/** Hooks the front end gives for the request's connection. */
export interface BodyHooks {
  /** Registers what to do if the parser rejects the body being read (null: the body is complete). */
  onBodyFailure(handler: ((status: number) => void) | null): void;
}

export type Failure = (status: number, why: string, level?: 'info' | 'error') => void;

/**
 * Starts a WSGI request: picks the process group, checks the body framing and limits, encodes
 * the environ and hands the exchange to the group's dispatcher.
 */
export function startWsgiRequest(
  t: WsgiTarget,
  config: ServerConfig,
  groups: { group(name: string): ProcessGroup | undefined },
  serverSoftware: string,
  hooks: BodyHooks,
  fail: Failure,
): void {
  const { record, settings, vhost } = t;
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

  const transferEncoding = req.headers['transfer-encoding'];
  const contentLengthHeader = req.headers['content-length'];
  let body: BodyPlan;
  if (transferEncoding !== undefined) {
    if (!settings.chunkedRequest) {
      return fail(411, `WSGI0139: Request body with chunked transfer encoding is not allowed (WSGIChunkedRequest Off): ${t.scriptPath}`);
    }
    body = { kind: 'on-demand', expectContinue: t.expectContinue };
  } else if (contentLengthHeader !== undefined && contentLengthHeader !== '0') {
    const length = Number(contentLengthHeader);
    if (settings.limitRequestBody > 0 && length > settings.limitRequestBody) {
      return fail(413, `Requested content-length of ${length} is larger than the configured limit of ${settings.limitRequestBody}`);
    }
    if (!t.expectContinue && length <= config.limits.bufferedBodySize) body = { kind: 'buffered', body: Buffer.alloc(0) };
    else body = { kind: 'on-demand', expectContinue: t.expectContinue };
  } else {
    body = { kind: 'none' };
    // Nothing to read, but say so if the client waits for permission to send nothing.
    if (t.expectContinue) record.res.writeContinue();
  }

  const now = record.startMicros / 1e6;
  const connection: ConnectionInfo = record.connection;
  const head = encodeRequestHead(
    req,
    {
      connection,
      serverName: vhost.serverName,
      serverAdmin: vhost.serverAdmin,
      serverSoftware,
      documentRoot: vhost.documentRoot,
      requestHost: t.requestHost,
      requestPort: t.requestPort,
      scriptFilename: t.scriptPath,
      handlerScript: t.handlerScript ?? '',
      scriptName: t.scriptName,
      pathInfo: t.pathInfo,
      query: t.query,
      processGroup: groupName === EMBEDDED_GROUP ? '' : groupName,
      applicationGroup: expandApplicationGroup(t.applicationGroup ?? settings.applicationGroup, {
        serverName: vhost.serverName,
        requestHost: t.requestHost,
        requestPort: t.requestPort,
        scriptName: t.scriptName,
        env: (name) => record.env[name],
      }),
      callableObject: t.callableObject ?? settings.callableObject,
      passAuthorization: t.passAuthorization ?? settings.passAuthorization,
      mapHeadToGet: settings.mapHeadToGet === 'on',
      requestId: record.id,
      requestStart: now,
      queueStart: now,
      extra: record.env,
    },
    (body.kind === 'on-demand' ? HeadFlags.BodyOnRequest : 0) | (settings.scriptReloading ? HeadFlags.ScriptReloading : 0),
  );
  const groupConfig = group.config;
  const context: ExchangeContext = {
    errorLog: t.errorLog,
    groupName: groupConfig.name,
    errorOverride: settings.errorOverride,
    withdrawn: () => group.dispatcher.noteWithdrawn(),
    resubmit: (exchange) => group.dispatcher.resubmit(exchange),
    headerTimeoutMs: (groupConfig.socketTimeout > 0 ? groupConfig.socketTimeout : config.timeouts.socket) * 1000,
    requestTimeoutMs: groupConfig.requestTimeout * 1000,
    interruptTimeoutMs: groupConfig.interruptTimeout * 1000,
    requestTimedOut: (slot) => group.requestTimedOut(slot),
  };

  if (body.kind === 'buffered') {
    // Small bodies are read whole first: the worker thread then never waits on a slow client,
    // and head and body reach it in one write.
    const chunks: Buffer[] = [];
    hooks.onBodyFailure((status) => fail(status, 'The request body was malformed or cut short; the request was not run.'));
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      hooks.onBodyFailure(null);
      if (record.res.destroyed) return;
      group.submit(new WsgiExchange(context, record, head, { kind: 'buffered', body: Buffer.concat(chunks) }));
    });
    return;
  }
  const exchange = new WsgiExchange(context, record, head, body);
  if (body.kind !== 'none') {
    hooks.onBodyFailure((status) => exchange.bodyFailed(status));
    req.once('end', () => hooks.onBodyFailure(null));
  }
  group.submit(exchange);
}

/** WSGIProcessGroup %{ENV:NAME} is looked up in the request's environment, then the server's. */
function expandGroupName(spec: string, record: RequestRecord): string {
  const env = /^%\{ENV:(.+)\}$/.exec(spec);
  if (env === null) return spec;
  return record.env[env[1]!] ?? process.env[env[1]!] ?? spec;
}
