import * as http from 'node:http';
import * as https from 'node:https';
import type * as net from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ListenerConfig, ResolvedSettings, ServerConfig, VirtualHostConfig } from '../config/model';
import { resolveSettings } from '../config/settings';
import { accessRequestFor, type AccessControl } from '../auth/access-control';
import type { ProcessGroup } from '../groups/process-group';
import type { AccessLog } from '../log/access-log';
import { nowMicros } from '../log/apache-time';
import type { ErrorLog } from '../log/error-log';
import type { OpsMonitor } from '../ops/monitor';
import { adoptTrustedRequestId, ID_PREFIX } from '../ops/request-id';
import type { ConnectionInfo } from './environ';
import { errorPageBody, reasonPhrase, sendErrorPage } from './error-page';
import { frontEndBodyBudget } from './body-budget';
import { ClientReadTimeouts } from './client-timeouts';
import { ClientSendTimeout } from './client-send-timeout';
import { limitChunkedBody, transferCodingProblem } from './body-framing';
import { existingPrefix, handlerFor, type FoundPath } from './handlers';
import { httpsOnly } from './https-only';
import { sslEnvironment } from './ssl-environment';
import { tlsOptionsFor } from './tls';
import { parseHost } from './host-header';
import { clientOf, type RequestRecord } from './request-record';
import { scanHead } from './request-head';
import { parseTarget } from './request-path';
import { settingsLayers } from './sections';
import { serveStatic } from './static-files';
import { translate, type Translation } from './translate';
import { VirtualHostTable } from './virtual-hosts';
import { startWsgiRequest, type RoutedRequest, type WsgiTarget } from './wsgi-request';

/** The logs of one virtual host. */
export interface SiteLogs {
  errorLog: ErrorLog;
  accessLogs: AccessLog[];
}

export interface FrontEndOptions {
  config: ServerConfig;
  groups: { group(name: string): ProcessGroup | undefined };
  serverSoftware: string;
  /** The logs each virtual host writes to. */
  sites: { logsFor(vhost: VirtualHostConfig): SiteLogs };
  /** Runs Require, AuthType and the mod_wsgi auth hooks where the settings ask for them. */
  access: AccessControl;
  /** Where request bodies are spooled (WSGIRequestBodySpooling): the server's private socket directory; null: never. */
  spoolDirectory?: string | null;
}

/** A bound listener and the virtual hosts that answer on it. */
interface Listener {
  config: ListenerConfig;
  server: http.Server;
  /** The actual bound address (the port may have been chosen by the OS). */
  address: { host: string; port: number; tls: boolean } | null;
}

/** What a request's path walk needs besides the path: a RoutedRequest before its path's settings. */
type RequestScope = Omit<RoutedRequest, 'settings'>;

/** Per connection: requests not yet answered, and what to do when the parser rejects input. */
interface InFlight {
  /** Registers what to do if the parser rejects the body being read (null: the body is complete). */
  onBodyFailure(handler: ((status: number) => void) | null): void;
  count: number;
  /** The error answer for a rejected request, sent once the earlier answers are out. */
  pendingError: (() => void) | null;
  /** Set while a request's body is being read: the parser's rejection is then about that body. */
  bodyFailed: ((status: number) => void) | null;
  /** Pipelined requests not yet begun, in arrival order (counted in `count`). */
  waiting: (() => void)[];
  /** Reading from the client is paused because too many requests are waiting. */
  readingPaused: boolean;
}

/**
 * Pipelined requests waiting on one connection beyond which the front end stops reading from it
 * (they cost memory and produce no output, so node's own backpressure never starts): a client
 * that sends requests without reading the answers stalls only its own connection, as in Apache.
 * One read can still bring a few thousand small requests; the pause stops the next read.
 */
const WAITING_PAUSE_AT = 32;
const WAITING_RESUME_AT = 8;

let connectionCounter = 0;
let requestCounter = 0;
const idPrefix = ID_PREFIX;

/**
 * The HTTP front end: accepts connections, parses and checks requests, picks the virtual host
 * and the WSGI mount, and hands the request to its process group.
 */
export class FrontEnd {
  private readonly listeners: Listener[] = [];
  private readonly connections = new WeakMap<net.Socket, ConnectionInfo>();
  /** Per connection: requests not yet answered, and an error answer waiting for them. */
  private readonly inFlight = new WeakMap<net.Socket, InFlight>();
  private active = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly settingsCache = new Map<string, ResolvedSettings>();
  private readonly vhostSettings = new WeakMap<VirtualHostConfig, ResolvedSettings>();

  private config: ServerConfig;
  private vhostTable: VirtualHostTable;
  /** Status page, metrics, request statistics and the slow-request log; null when none is configured. */
  ops: OpsMonitor | null = null;
  private readonly readTimeouts: ClientReadTimeouts;
  private readonly sendTimeout: ClientSendTimeout;
  private lastDropLogged = 0;

  constructor(private readonly options: FrontEndOptions) {
    this.config = options.config;
    this.vhostTable = new VirtualHostTable(options.config.mainServer, options.config.virtualHosts);
    this.readTimeouts = new ClientReadTimeouts(options.config.timeouts.requestRead, {
      headerTimedOut: (socket, sentNothing) => this.headerTimedOut(socket, sentNothing),
      bodyTimedOut: (socket) => this.bodyTimedOut(socket),
    });
    this.sendTimeout = new ClientSendTimeout(options.config.timeouts.socket * 1000, (socket, seconds) =>
      this.options.sites
        .logsFor(this.config.mainServer)
        .errorLog.log('core', 'info', `The client took none of its response for ${seconds} seconds (Timeout); the connection is closed.`, { client: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}` }),
    );
  }

  /** Requests being served now. */
  get activeRequests(): number {
    return this.active;
  }

  get boundAddresses(): { host: string; port: number; tls: boolean }[] {
    return this.listeners.flatMap((l) => (l.address === null ? [] : [l.address]));
  }

  async listen(): Promise<void> {
    for (const listenerConfig of this.config.listeners) this.listeners.push(await this.openListener(listenerConfig, this.config));
  }

  /**
   * Switches to a new configuration (SIGHUP): listeners that stay are kept, new ones opened,
   * dropped ones closed; requests already running finish under the configuration they began
   * with. Throws, changing nothing, if a new listener cannot be opened.
   */
  async update(config: ServerConfig): Promise<void> {
    const key = (l: ListenerConfig): string => `${l.host}|${l.port}`;
    const existing = new Map(this.listeners.map((l) => [key(l.config), l]));
    const opened: Listener[] = [];
    try {
      for (const listenerConfig of config.listeners) {
        if (!existing.has(key(listenerConfig)) || listenerConfig.port === 0) opened.push(await this.openListener(listenerConfig, config));
      }
    } catch (err) {
      for (const listener of opened) listener.server.close();
      throw err;
    }
    const wanted = new Set(config.listeners.filter((l) => l.port !== 0).map(key));
    const kept = this.listeners.filter((l) => wanted.has(key(l.config)));
    for (const listener of this.listeners) {
      if (!kept.includes(listener)) {
        listener.server.close();
        listener.server.closeIdleConnections();
      }
    }
    for (const listener of kept) applyTimeouts(listener.server, config);
    this.readTimeouts.update(config.timeouts.requestRead);
    this.sendTimeout.update(config.timeouts.socket * 1000);
    this.listeners.splice(0, this.listeners.length, ...kept, ...opened);
    this.config = config;
    this.vhostTable = new VirtualHostTable(config.mainServer, config.virtualHosts);
    this.settingsCache.clear();
  }

  private async openListener(listenerConfig: ListenerConfig, config: ServerConfig): Promise<Listener> {
    const limits = config.limits;
    const options: http.ServerOptions = {
      // The Host check is ours (with a log line and our error page).
      requireHostHeader: false,
      // Room for the largest head the LimitRequest* directives allow; each limit is then
      // checked with Apache's status once the head is parsed.
      maxHeaderSize: Math.min(limits.requestLine + limits.requestFields * (limits.requestFieldSize + 2) + 4, 1024 * 1024),
      // Timeouts on the whole request would cut long uploads; idle time is bounded per socket.
      requestTimeout: 0,
      noDelay: true,
    };
    const tlsOptions = tlsOptionsFor(listenerConfig, config);
    const server: http.Server = tlsOptions === null ? http.createServer(options) : https.createServer({ ...options, ...tlsOptions });
    applyTimeouts(server, config);
    // A client that sends its requests and then half-closes (printf ... | nc) still gets every
    // answer, as from Apache; Node's default would abort them.
    (server as http.Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    const listener: Listener = { config: listenerConfig, server, address: null };
    server.on('request', (req, res) => this.handle(req, res, false));
    server.on('checkContinue', (req, res) => this.handle(req, res, true));
    server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: net.Socket) => this.onClientError(err, socket));
    server.on('connect', (req: http.IncomingMessage, socket: net.Socket) => this.onConnectMethod(req, socket));
    const track = (socket: net.Socket): void => {
      this.readTimeouts.track(socket);
      this.sendTimeout.track(socket);
    };
    if (tlsOptions === null) server.on('connection', track);
    else {
      server.on('secureConnection', track);
      server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: net.Socket) => this.tlsClientError(err, socket));
    }
    server.on('drop', () => this.connectionDropped());
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const where = `${listenerConfig.host || '*'}:${listenerConfig.port}`;
        const asked = listenerConfig.origin != null ? `the Listen at ${listenerConfig.origin.file}:${listenerConfig.origin.line}` : '--port';
        const fix = listenerConfig.origin != null ? `change ${asked}` : 'choose another --port';
        reject(new Error(err.code === 'EADDRINUSE' ? `Address ${where} is already in use; ${fix}.` : err.code === 'EACCES' ? `No permission to listen on ${where} (${asked}); ports below 1024 need root.` : `Cannot listen on ${where} (${asked}): ${err.message}`));
      });
      server.listen({ host: listenerConfig.host || undefined, port: listenerConfig.port, backlog: config.limits.listenBacklog }, () => resolve());
    });
    const bound = server.address();
    if (bound !== null && typeof bound === 'object') listener.address = { host: bound.address, port: bound.port, tls: tlsOptions !== null };
    return listener;
  }

  /** Stops accepting connections and closes idle keep-alive ones; running requests go on. */
  stopAccepting(): void {
    for (const listener of this.listeners) {
      listener.server.close();
      listener.server.closeIdleConnections();
    }
  }

  /** Resolves when no request is running, or after `timeoutMs`. */
  whenIdle(timeoutMs: number): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Open client connections on every listener. */
  async connectionCount(): Promise<number> {
    const counts = await Promise.all(this.listeners.map((l) => new Promise<number>((resolve) => l.server.getConnections((err, n) => resolve(err ? 0 : n)))));
    return counts.reduce((a, b) => a + b, 0);
  }

  closeAllConnections(): void {
    for (const listener of this.listeners) listener.server.closeAllConnections();
  }

  private connectionInfo(socket: net.Socket): ConnectionInfo {
    let info = this.connections.get(socket);
    if (info === undefined) {
      info = {
        localAddress: stripV4Mapped(socket.localAddress ?? ''),
        localPort: socket.localPort ?? 0,
        remoteAddress: stripV4Mapped(socket.remoteAddress ?? ''),
        remotePort: socket.remotePort ?? 0,
        scheme: (socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http',
        id: `${idPrefix}-c${(++connectionCounter).toString(36)}`,
      };
      this.connections.set(socket, info);
    }
    return info;
  }

  /**
   * A request is begun once every request before it on its connection is answered, as Apache
   * reads a pipelined request only after answering the one before: an answer that closes the
   * connection (an error, a response cut short, Connection: close) must leave the requests
   * behind it unprocessed (RFC 9112 section 9.6), and only then is it known.
   */
  private handle(req: http.IncomingMessage, res: http.ServerResponse, expectContinue: boolean): void {
    const socket = req.socket;
    let flight = this.inFlight.get(socket);
    if (flight === undefined) {
      const created: InFlight = {
        count: 0,
        pendingError: null,
        bodyFailed: null,
        waiting: [],
        readingPaused: false,
        onBodyFailure: (handler) => {
          created.bodyFailed = handler;
        },
      };
      flight = created;
      this.inFlight.set(socket, flight);
    }
    flight.count++;
    if (flight.count > 1) {
      flight.waiting.push(() => this.begin(req, res, expectContinue, flight));
      if (flight.waiting.length >= WAITING_PAUSE_AT && !flight.readingPaused) {
        flight.readingPaused = true;
        pauseReading(socket);
      }
      return;
    }
    this.begin(req, res, expectContinue, flight);
  }

  /** The request after an answered one on its connection, unless that answer closed the connection. */
  private beginNext(flight: InFlight, socket: net.Socket): void {
    const next = flight.waiting.shift();
    if (next === undefined) return;
    if (socket.writable && !socket.destroyed) {
      if (flight.readingPaused && flight.waiting.length < WAITING_RESUME_AT) {
        flight.readingPaused = false;
        resumeReading(socket);
      }
      return next();
    }
    // Never answered: the connection closes after the answer before them.
    flight.count -= flight.waiting.length + 1;
    flight.waiting = [];
  }

  private begin(req: http.IncomingMessage, res: http.ServerResponse, expectContinue: boolean, owner: InFlight): void {
    const config = this.config;
    const record: RequestRecord = {
      req,
      res,
      connection: this.connectionInfo(req.socket),
      id: `${idPrefix}-${(++requestCounter).toString(36)}`,
      startMicros: nowMicros(),
      status: 200,
      bytesSent: 0,
      remoteUser: null,
      authType: null,
      env: {},
      timing: null,
      hostName: null,
    };
    this.active++;
    if (!config.timeouts.keepAlive) res.shouldKeepAlive = false;
    const socket = req.socket;
    this.readTimeouts.headParsed(socket, req);
    let site = this.options.sites.logsFor(config.mainServer);
    let serverName = config.mainServer.serverName;
    const bytesAtStart = socket.bytesWritten;
    res.once('close', () => {
      if (!res.writableFinished) record.onClientClose?.();
      this.active--;
      owner.count--;
      this.beginNext(owner, socket);
      if (owner.count === 0) {
        if (owner.pendingError !== null) owner.pendingError();
        else this.readTimeouts.idle(socket);
      }
      if (this.active === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const waiter of waiters) waiter();
      }
      if (!res.writableFinished && record.status < 400 && !res.headersSent) record.status = 499;
      for (const accessLog of site.accessLogs) accessLog.log(record, serverName, socket.bytesWritten - bytesAtStart);
      if (this.ops !== null) this.ops.requestEnded(record, site.errorLog);
    });

    const fail = (status: number, why: string, level: 'info' | 'error' = 'info'): void => {
      site.errorLog.log('core', level, why, { client: clientOf(record), requestId: record.id });
      sendErrorPage(record, status);
    };

    const limits = config.limits;
    const requestLineLength = (req.method ?? '').length + (req.url ?? '').length + 10;
    if (limits.requestLine > 0 && requestLineLength > limits.requestLine) {
      return fail(414, `AH00565: request failed: client's request-line exceeds LimitRequestLine (${limits.requestLine} bytes)`);
    }
    const head = scanHead(req.rawHeaders, limits);
    if (head.problem !== null) return fail(head.problem.status, head.problem.message);

    const target = parseTarget(req.url ?? '/');
    if (!target.ok) return fail(target.status, `${target.reason}: ${req.url ?? ''}`);

    if (head.hostCount > 1) return fail(400, 'Client sent more than one Host header (RFC 9112 section 3.2)');
    const hostHeader = target.hostFromTarget ?? head.host;
    const host = hostHeader === undefined ? null : parseHost(hostHeader);
    if (hostHeader !== undefined && host === null) return fail(400, `Client sent malformed Host header: ${hostHeader}`);
    if (hostHeader === undefined && req.httpVersion === '1.1') return fail(400, 'Client sent HTTP/1.1 request without hostname (see RFC 9112 section 3.2)');
    // After the Host check, as in Apache's read_request.
    const coding = head.transferEncoding !== undefined ? transferCodingProblem(head.transferEncoding) : null;
    if (coding !== null) return fail(coding.status, `AH02539: client sent unknown Transfer-Encoding (${coding.codings}): ${req.url ?? ''}`);
    // An HTTP/1.0 message cannot carry Transfer-Encoding: its framing is suspect, so the
    // connection closes after the answer (RFC 9112 section 6.1), whatever Connection says.
    if (head.transferEncoding !== undefined && req.httpVersion === '1.0') res.shouldKeepAlive = false;
    // The Upgrade is ignored, but node's parser (20.x) drops whatever came in the same read after
    // such a request: a pipelined request there would go unanswered on an open connection. Closing
    // after the answer tells the client to send it again (RFC 9112 section 9.3.2).
    if (head.upgrade) res.shouldKeepAlive = false;

    const connection = record.connection;
    const vhost = this.vhostTable.select(connection.localAddress, connection.localPort, host?.hostname ?? null);
    site = this.options.sites.logsFor(vhost);
    serverName = vhost.serverName;
    const requestHost = host !== null && host.hostname !== '' ? host.hostname : vhost.serverName;
    record.hostName = requestHost;
    if (connection.scheme === 'https' && host !== null && misdirected(socket as TLSSocket, vhost, this.vhostTable, connection)) {
      return fail(421, `AH02032: Hostname ${(socket as TLSSocket).servername} provided via SNI and hostname ${host.hostname} provided via HTTP have no compatible SSL setup`);
    }
    const requestPort = host?.port ?? connection.localPort;
    if (vhost.httpsRedirectPort != null || vhost.hstsPolicy != null) {
      if (httpsOnly(vhost, record, requestHost, this.boundAddresses)) return;
    }

    const scope: RequestScope = {
      record,
      vhost,
      errorLog: site.errorLog,
      query: target.query,
      requestHost,
      requestPort,
      expectContinue,
      contentLength: head.contentLength,
      transferEncoding: head.transferEncoding,
      hooks: owner,
      fail,
    };
    const limitChunked =
      head.transferEncoding === undefined
        ? null
        : (settings: ResolvedSettings): void => {
            if (settings.limitRequestBody <= 0) return;
            const limit = settings.limitRequestBody;
            limitChunkedBody(req, limit, (received) => {
              site.errorLog.log('core', 'info', `AH01591: Read content length of ${received} is larger than the configured limit of ${limit}`, { client: clientOf(record) });
              const bodyFailed = owner.bodyFailed;
              owner.bodyFailed = null;
              if (bodyFailed !== null) bodyFailed(413);
              else sendErrorPage(record, 413);
            });
          };
    this.walkPath(config, scope, target.path, limitChunked);
  }

  /**
   * The URL path's walk: translation, per-directory settings, access, handler. Run again for a
   * directory's index file (mod_dir's subrequest), so that file gets its own <Files> sections,
   * access rules and handler, as in Apache, not the directory's. `withSettings` sees the
   * settings the path has before anything runs.
   */
  private walkPath(config: ServerConfig, scope: RequestScope, urlPath: string, withSettings: ((settings: ResolvedSettings) => void) | null): void {
    const { record, vhost } = scope;
    const translation = translate(vhost, urlPath);
    if (translation.kind === 'error') return scope.fail(translation.status, translation.reason, 'error');
    // For a file-mapped URL, what exists on disk decides the sections and the handler (Apache's
    // directory walk): /cgi/app.wsgi/more is the script app.wsgi with path info /more.
    const found = translation.kind === 'file' ? existingPrefix(translation.filePath, translation.root) : null;
    const filePath = translation.kind === 'wsgi' ? translation.scriptPath : (found?.path ?? translation.filePath);
    const settings = this.settingsFor(vhost, urlPath, filePath);
    // Shared, not copied: nothing changes a request's environment after this point.
    record.env = settings.env;
    if (settings.trustedProxyHeaders.length !== 0) adoptTrustedRequestId(record, settings);
    if (vhost.sslEnvironment === true && record.connection.scheme === 'https') record.env = sslEnvironment(record.req.socket as TLSSocket, settings.env);
    if (withSettings !== null) withSettings(settings);

    const routed: RoutedRequest = {
      record,
      vhost,
      errorLog: scope.errorLog,
      settings,
      query: scope.query,
      requestHost: scope.requestHost,
      requestPort: scope.requestPort,
      expectContinue: scope.expectContinue,
      contentLength: scope.contentLength,
      transferEncoding: scope.transferEncoding,
      hooks: scope.hooks,
      fail: scope.fail,
    };
    const access = settings.access;
    if (access !== null) {
      this.options.access.check(access, accessRequestFor(routed, translation, found, urlPath, filePath), () => this.route(config, routed, translation, found, urlPath));
      return;
    }
    this.route(config, routed, translation, found, urlPath);
  }

  /** Hands a request that may proceed to its WSGI script, handler or the static files. */
  private route(config: ServerConfig, routed: RoutedRequest, translation: Exclude<Translation, { kind: 'error' }>, found: FoundPath | null, urlPath: string): void {
    const { record, settings, fail } = routed;
    // SetHandler server-status / server-metrics win over WSGIScriptAlias, as a <Location> handler does in Apache.
    if (settings.setHandler !== null && this.ops !== null && this.ops.handles(settings.setHandler)) return this.ops.serve(settings.setHandler, record, routed.query);
    const wsgi = (t: WsgiTarget): void => startWsgiRequest(routed, t, config, this.options.groups, this.options.serverSoftware, this.options.spoolDirectory ?? null, frontEndBodyBudget);

    if (translation.kind === 'wsgi') {
      const alias = translation.alias;
      return wsgi({
        scriptPath: translation.scriptPath,
        handlerScript: null,
        scriptName: translation.scriptName,
        pathInfo: translation.pathInfo,
        processGroup: alias.processGroup,
        applicationGroup: alias.applicationGroup,
        callableObject: alias.callableObject,
        passAuthorization: alias.passAuthorization,
        requestHandler: 'wsgi-script',
        contextPrefix: '',
        contextDocumentRoot: routed.vhost.documentRoot,
      });
    }

    const handler = found !== null && found.isFile ? handlerFor(settings, found.path) : settings.setHandler;
    if (handler !== null && handler !== 'default-handler') {
      const script = found !== null && found.isFile ? found : null;
      const scriptUrl = script !== null ? urlPath.slice(0, urlPath.length - script.pathInfo.length) : urlPath;
      if (handler === 'wsgi-script' || handler === 'application/x-httpd-wsgi') {
        if (script === null) return fail(404, `WSGI0135: Target WSGI script not found or unable to stat: ${translation.filePath}`, 'error');
        if (!settings.options.execCgi) return fail(403, `WSGI0134: Options ExecCGI is off in this directory: ${script.path}`, 'error');
        return wsgi({
          scriptPath: script.path,
          handlerScript: null,
          scriptName: scriptUrl,
          pathInfo: script.pathInfo,
          processGroup: null,
          applicationGroup: null,
          callableObject: null,
          passAuthorization: null,
          requestHandler: handler,
          contextPrefix: translation.urlPrefix,
          contextDocumentRoot: translation.root,
        });
      }
      const handlerScript = settings.handlerScripts[handler];
      if (handlerScript !== undefined) {
        if (script === null) return fail(404, `File does not exist: ${translation.filePath}`);
        // mod_wsgi: SCRIPT_FILENAME is the file the URL names; the handler script's
        // handle_request() serves it.
        return wsgi({
          scriptPath: script.path,
          handlerScript: handlerScript.script,
          scriptName: scriptUrl,
          pathInfo: script.pathInfo,
          processGroup: handlerScript.processGroup,
          applicationGroup: handlerScript.applicationGroup,
          callableObject: 'handle_request',
          passAuthorization: handlerScript.passAuthorization,
          requestHandler: handler,
          contextPrefix: translation.urlPrefix,
          contextDocumentRoot: translation.root,
        });
      }
      return fail(500, `No handler called '${handler}' exists; it is named by SetHandler/AddHandler for ${translation.filePath}`, 'error');
    }

    serveStatic(
      record,
      translation.relative,
      { root: translation.root, indexes: settings.options.indexes, followSymlinks: settings.options.followSymlinks, directoryIndex: settings.directoryIndex, mimeTypes: settings.addTypes, serveIndex: (indexPath) => this.walkPath(config, routed, indexPath, null) },
      () => {},
    );
  }

  /** Per-directory settings for a request, cached: most requests repeat a few URL and file paths. */
  private settingsFor(vhost: VirtualHostConfig, urlPath: string, filePath: string): ResolvedSettings {
    if (vhost.sections.length === 0) return this.baseSettings(vhost);
    const key = `${vhost.id}\0${urlPath}\0${filePath}`;
    let settings = this.settingsCache.get(key);
    if (settings === undefined) {
      settings = resolveSettings(settingsLayers(vhost, urlPath, filePath));
      if (this.settingsCache.size > 5000) this.settingsCache.clear();
      this.settingsCache.set(key, settings);
    }
    return settings;
  }

  private baseSettings(vhost: VirtualHostConfig): ResolvedSettings {
    let settings = this.vhostSettings.get(vhost);
    if (settings === undefined) {
      settings = resolveSettings([vhost.settings]);
      this.vhostSettings.set(vhost, settings);
    }
    return settings;
  }

  /**
   * A request Node's parser rejected. The answer never overtakes answers still owed to earlier
   * requests on the connection: it waits for them, then the connection closes.
   */
  private onClientError(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: net.Socket): void {
    if (err.code === 'ECONNRESET' || err.code === 'HPE_CLOSED_CONNECTION' || !socket.writable) {
      // Data after a "Connection: close" request (RFC 9112 section 9.6) is ignored; the
      // connection closes once that request is answered.
      if (err.code !== 'HPE_CLOSED_CONNECTION') socket.destroy();
      return;
    }
    const status = clientErrorStatus(err);
    const known = this.connections.get(socket);
    const client = known !== undefined ? `${known.remoteAddress}:${known.remotePort}` : `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.options.sites.logsFor(this.config.mainServer).errorLog.log('core', 'info', `Invalid request from ${client}: ${(err as { reason?: string }).reason ?? err.message} (${status})`);
    const answer = (): void => {
      if (socket.destroyed) return;
      const reason = reasonPhrase(status);
      const body = errorPageBody(status);
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    };
    const flight = this.inFlight.get(socket);
    if (flight !== undefined && flight.bodyFailed !== null) {
      // The body of the request being read is what is broken: that request gets the answer.
      const bodyFailed = flight.bodyFailed;
      flight.bodyFailed = null;
      bodyFailed(status);
      return;
    }
    if (flight !== undefined && flight.count > 0) {
      flight.pendingError = answer;
      return;
    }
    answer();
  }

  /**
   * A TLS handshake failed. Plain HTTP sent to the HTTPS port gets mod_ssl's 400 page in plain
   * HTTP, so the user learns to write https://, instead of a connection closed with no word.
   */
  private tlsClientError(err: NodeJS.ErrnoException, socket: net.Socket): void {
    const errorLog = this.options.sites.logsFor(this.config.mainServer).errorLog;
    const client = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    // The TLS socket is gone; the TCP connection under it is still open.
    const raw = (socket as { _parent?: net.Socket | null })._parent;
    if (err.code === 'ERR_SSL_HTTP_REQUEST' && raw != null && !raw.destroyed && raw.writable) {
      errorLog.log('ssl', 'info', 'SSL handshake failed: HTTP spoken on HTTPS port; trying to send HTML error page', { client });
      const body = errorPageBody(400, "Reason: You're speaking plain HTTP to an SSL-enabled server port. Instead use the HTTPS scheme to access this URL, please.");
      raw.on('error', () => {});
      raw.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Length: ${Buffer.byteLength(body, 'latin1')}\r\nConnection: close\r\n\r\n${body}`);
      setTimeout(() => raw.destroy(), 5_000).unref();
      return;
    }
    errorLog.log('ssl', 'info', `AH02008: SSL library error in handshake: ${err.message}`, { client });
  }

  /** RequestReadTimeout's header stage ran out (mod_reqtimeout's AH01382). */
  private headerTimedOut(socket: net.Socket, sentNothing: boolean): void {
    this.options.sites.logsFor(this.config.mainServer).errorLog.log('reqtimeout', 'info', 'AH01382: Request header read timeout', { client: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}` });
    // A client that sent nothing gets nothing back, as from Apache; one that began gets 408.
    if (sentNothing || !socket.writable) {
      socket.destroy();
      return;
    }
    const body = errorPageBody(408);
    socket.end(`HTTP/1.1 408 Request Timeout\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    setTimeout(() => socket.destroy(), 5_000).unref();
  }

  /** RequestReadTimeout's body stage ran out: the request fails with 408, as when its body is malformed. */
  private bodyTimedOut(socket: net.Socket): void {
    this.options.sites.logsFor(this.config.mainServer).errorLog.log('reqtimeout', 'info', 'AH01382: Request body read timeout', { client: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}` });
    const flight = this.inFlight.get(socket);
    const bodyFailed = flight?.bodyFailed ?? null;
    if (flight !== undefined) flight.bodyFailed = null;
    if (bodyFailed !== null) bodyFailed(408);
    else socket.destroy();
  }

  /** MaxRequestWorkers reached: Node closed a new connection at once. Logged at most once a minute. */
  private connectionDropped(): void {
    const now = Date.now();
    if (now - this.lastDropLogged < 60_000) return;
    this.lastDropLogged = now;
    this.options.sites.logsFor(this.config.mainServer).errorLog.log('mpm_event', 'error', `AH00484: server reached MaxRequestWorkers setting (${this.config.limits.maxConnections} open connections), consider raising the MaxRequestWorkers setting (--max-clients); new connections are closed until some end`);
  }

  /** CONNECT: this is not a forward proxy. */
  private onConnectMethod(req: http.IncomingMessage, socket: net.Socket): void {
    this.options.sites.logsFor(this.config.mainServer).errorLog.log('core', 'info', `CONNECT ${req.url ?? ''} refused: not a proxy (501)`, { client: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}` });
    const body = errorPageBody(501);
    socket.on('error', () => {});
    const answer = (): void => {
      if (!socket.destroyed) socket.end(`HTTP/1.1 501 Not Implemented\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    };
    // After the answers still owed to requests pipelined before it, as for a rejected request.
    const flight = this.inFlight.get(socket);
    if (flight !== undefined && flight.count > 0) flight.pendingError = answer;
    else answer();
  }
}

/**
 * The status for a request the parser refused, as Apache 2.4 gives it: 431 for a head larger
 * than any the LimitRequest* directives allow; 400 for the rest, including a Transfer-Encoding
 * whose last coding is not chunked (RFC 9112 section 6.3: the body's length cannot be known)
 * and Content-Length with Transfer-Encoding (smuggling attempts).
 */
function clientErrorStatus(err: NodeJS.ErrnoException): number {
  return err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
}

function applyTimeouts(server: http.Server, config: ServerConfig): void {
  server.maxConnections = config.limits.maxConnections;
  server.keepAliveTimeout = config.timeouts.keepAliveTimeout * 1000;
  server.headersTimeout = Math.max(config.timeouts.socket, 1) * 1000;
  // MaxKeepAliveRequests (0 is unlimited, as in Apache).
  server.maxRequestsPerSocket = config.timeouts.maxKeepAliveRequests;
}

function stripV4Mapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * mod_ssl's rule: a request whose Host picks a virtual host with another certificate than the one
 * the handshake's SNI name picked was sent on the wrong connection (421 Misdirected Request); the
 * client must open one for that name. Without SNI, as Apache without SSLStrictSNIVHostCheck, any Host goes.
 */
function misdirected(socket: TLSSocket, vhost: VirtualHostConfig, table: VirtualHostTable, connection: ConnectionInfo): boolean {
  const sni = socket.servername;
  if (typeof sni !== 'string' || sni === '') return false;
  const bySni = table.select(connection.localAddress, connection.localPort, sni.toLowerCase());
  if (bySni === vhost || bySni.tls == null || vhost.tls == null) return false;
  return bySni.tls.certificateFile !== vhost.tls.certificateFile || bySni.tls.keyFile !== vhost.tls.keyFile;
}

/** What node's server (20.x) uses to stop reading a connection: its HTTP parser reads the socket itself. */
type ParsedSocket = net.Socket & { _paused?: boolean; parser?: { pause(): void; resume(): void } | null; [NODE_PAUSED]?: () => boolean };

/** Where a socket paused here keeps node's own pause flag meanwhile. */
const NODE_PAUSED = Symbol('node server pause');

/**
 * Stops reading requests from `socket` the way node's server does when a client's answers pile
 * up: its `_paused` flag, the parser paused, the socket paused (socket.pause() alone does not
 * stop a parser that reads the socket directly). Node lifts its own pause after every write of a
 * response (and on each request it parses), so while this pause lasts `_paused` reads true
 * whatever node sets; node's setting is kept and comes back with resumeReading.
 */
function pauseReading(socket: ParsedSocket): void {
  if (socket[NODE_PAUSED] === undefined) {
    let nodePaused = socket._paused === true;
    socket[NODE_PAUSED] = () => nodePaused;
    Object.defineProperty(socket, '_paused', {
      configurable: true,
      enumerable: true,
      get: () => true,
      set: (value: boolean) => {
        nodePaused = value;
      },
    });
  }
  socket.parser?.pause();
  socket.pause();
}

function resumeReading(socket: ParsedSocket): void {
  const nodePaused = socket[NODE_PAUSED];
  if (nodePaused === undefined) return;
  const stillPaused = nodePaused();
  delete socket[NODE_PAUSED];
  Object.defineProperty(socket, '_paused', { configurable: true, enumerable: true, writable: true, value: stillPaused });
  if (stillPaused) return; // node's own pause goes on: node lifts it when its output drains
  socket.parser?.resume();
  socket.resume();
}
