import * as http from 'node:http';
import type * as net from 'node:net';
import type { ListenerConfig, ServerConfig, VirtualHostConfig } from '../config/model';
import type { ProcessGroup } from '../groups/process-group';
import type { AccessLog } from '../log/access-log';
import { nowMicros } from '../log/apache-time';
import type { ErrorLog } from '../log/error-log';
import { encodeRequestHead, expandApplicationGroup, FLAG_EXPECT_CONTINUE, type ConnectionInfo } from './environ';
import { errorPageBody, reasonPhrase, sendErrorPage } from './error-page';
import { parseHost } from './host-header';
import { matchMount } from './mounts';
import { clientOf, type RequestRecord } from './request-record';
import { parseTarget } from './request-path';
import { WsgiExchange, type BodyPlan, type ExchangeContext } from './wsgi-exchange';

export interface FrontEndOptions {
  config: ServerConfig;
  errorLog: ErrorLog;
  accessLog: AccessLog | null;
  groups: ReadonlyMap<string, ProcessGroup>;
  serverSoftware: string;
}

/** A bound listener and the virtual hosts that answer on it. */
interface Listener {
  config: ListenerConfig;
  server: http.Server;
  vhosts: VirtualHostConfig[];
  /** The actual bound address (the port may have been chosen by the OS). */
  address: { host: string; port: number } | null;
}

/** Per connection: requests not yet answered, and what to do when the parser rejects input. */
interface InFlight {
  count: number;
  /** The error answer for a rejected request, sent once the earlier answers are out. */
  pendingError: (() => void) | null;
  /** Set while a request's body is being read: the parser's rejection is then about that body. */
  bodyFailed: ((status: number) => void) | null;
}

let connectionCounter = 0;
let requestCounter = 0;
const idPrefix = Date.now().toString(36);

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

  constructor(private readonly options: FrontEndOptions) {}

  /** Requests being served now. */
  get activeRequests(): number {
    return this.active;
  }

  get boundAddresses(): { host: string; port: number }[] {
    return this.listeners.flatMap((l) => (l.address === null ? [] : [l.address]));
  }

  async listen(): Promise<void> {
    const { config } = this.options;
    for (const listenerConfig of config.listeners) {
      const vhosts = config.virtualHosts.filter((v) => v.listeners.length === 0 || v.listeners.some((l) => l.port === listenerConfig.port));
      const server = http.createServer({
        // The Host check is ours (with a log line and our error page).
        requireHostHeader: false,
        keepAliveTimeout: config.timeouts.keepAlive * 1000,
        // Timeouts on the whole request would cut long uploads; idle time is bounded per socket.
        requestTimeout: 0,
        headersTimeout: Math.max(config.timeouts.socket, 1) * 1000,
        noDelay: true,
      });
      // A client that sends its requests and then half-closes (printf ... | nc) still gets every
      // answer, as from Apache; Node's default would abort them.
      (server as http.Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
      const listener: Listener = { config: listenerConfig, server, vhosts, address: null };
      server.on('request', (req, res) => this.handle(listener, req, res, false));
      server.on('checkContinue', (req, res) => this.handle(listener, req, res, true));
      server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: net.Socket) => this.onClientError(err, socket));
      server.on('connect', (req: http.IncomingMessage, socket: net.Socket) => this.onConnectMethod(req, socket));
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err: NodeJS.ErrnoException) => {
          const where = `${listenerConfig.host || '*'}:${listenerConfig.port}`;
          reject(new Error(err.code === 'EADDRINUSE' ? `Address ${where} is already in use; choose another --port (Listen).` : err.code === 'EACCES' ? `No permission to listen on ${where}; ports below 1024 need root.` : `Cannot listen on ${where}: ${err.message}`));
        });
        server.listen({ host: listenerConfig.host || undefined, port: listenerConfig.port }, () => resolve());
      });
      const bound = server.address();
      if (bound !== null && typeof bound === 'object') listener.address = { host: bound.address, port: bound.port };
      this.listeners.push(listener);
    }
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
        scheme: 'http',
        id: `${idPrefix}-c${(++connectionCounter).toString(36)}`,
      };
      this.connections.set(socket, info);
    }
    return info;
  }

  private handle(listener: Listener, req: http.IncomingMessage, res: http.ServerResponse, expectContinue: boolean): void {
    const record: RequestRecord = {
      req,
      res,
      connection: this.connectionInfo(req.socket),
      id: `${idPrefix}-${(++requestCounter).toString(36)}`,
      startMicros: nowMicros(),
      status: 200,
      bytesSent: 0,
      remoteUser: null,
      env: {},
    };
    this.active++;
    const socket = req.socket;
    let flight = this.inFlight.get(socket);
    if (flight === undefined) {
      flight = { count: 0, pendingError: null, bodyFailed: null };
      this.inFlight.set(socket, flight);
    }
    flight.count++;
    let serverName = listener.vhosts[0]?.serverName ?? 'localhost';
    const bytesAtStart = socket.bytesWritten;
    res.once('close', () => {
      this.active--;
      flight.count--;
      if (flight.count === 0 && flight.pendingError !== null) flight.pendingError();
      if (this.active === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const waiter of waiters) waiter();
      }
      if (!res.writableFinished && record.status < 400 && !res.headersSent) record.status = 499;
      this.options.accessLog?.log(record, serverName, req.socket.bytesWritten - bytesAtStart);
    });

    const fail = (status: number, why: string, level: 'info' | 'error' = 'info'): void => {
      this.options.errorLog.log('core', level, why, { client: clientOf(record) });
      sendErrorPage(record, status);
    };

    const target = parseTarget(req.url ?? '/');
    if (!target.ok) return fail(target.status, `${target.reason}: ${req.url ?? ''}`);

    if (countHeader(req.rawHeaders, 'host') > 1) return fail(400, 'Client sent more than one Host header (RFC 9112 section 3.2)');
    const hostHeader = target.hostFromTarget ?? req.headers.host;
    let host = hostHeader === undefined ? null : parseHost(hostHeader);
    if (hostHeader !== undefined && host === null) return fail(400, `Client sent malformed Host header: ${hostHeader}`);
    if (hostHeader === undefined && req.httpVersion === '1.1') return fail(400, 'Client sent HTTP/1.1 request without hostname (see RFC 9112 section 3.2)');

    const vhost = this.selectVirtualHost(listener, host?.hostname ?? null);
    if (vhost === null) return fail(404, `No virtual host answers for ${host?.hostname ?? '(no Host header)'}`);
    serverName = vhost.serverName;
    const connection = record.connection;
    const requestHost = host !== null && host.hostname !== '' ? host.hostname : vhost.serverName;
    const requestPort = host?.port ?? connection.localPort;

    const match = matchMount(vhost.mounts, target.path);
    if (match === null) return fail(404, `File does not exist: ${vhost.documentRoot}${target.path}`);
    const group = this.options.groups.get(match.mount.processGroup);
    if (group === undefined) {
      return fail(500, `WSGI0150: No WSGI daemon process called '${match.mount.processGroup}' has been configured: ${match.mount.scriptPath}`, 'error');
    }

    const limits = this.options.config.limits;
    const transferEncoding = req.headers['transfer-encoding'];
    const contentLengthHeader = req.headers['content-length'];
    let body: BodyPlan;
    if (transferEncoding !== undefined) {
      if (!limits.chunkedRequest) {
        return fail(411, `WSGI0139: Request body with chunked transfer encoding is not allowed (WSGIChunkedRequest Off): ${match.mount.scriptPath}`);
      }
      body = expectContinue ? { kind: 'on-demand' } : { kind: 'stream' };
    } else if (contentLengthHeader !== undefined && contentLengthHeader !== '0') {
      const length = Number(contentLengthHeader);
      if (limits.requestBody > 0 && length > limits.requestBody) {
        return fail(413, `Requested content-length of ${length} is larger than the configured limit of ${limits.requestBody}`);
      }
      if (expectContinue) body = { kind: 'on-demand' };
      else if (length <= limits.bufferedBodySize) body = { kind: 'buffered', body: Buffer.alloc(0) };
      else body = { kind: 'stream' };
    } else {
      body = { kind: 'none' };
      // Nothing to read, but say so if the client waits for permission to send nothing.
      if (expectContinue) res.writeContinue();
    }

    const mount = match.mount;
    const appGroupCtx = { serverName: vhost.serverName, requestHost, requestPort, scriptName: match.scriptName };
    const now = record.startMicros / 1e6;
    const head = encodeRequestHead(
      req,
      {
        connection,
        serverName: vhost.serverName,
        serverAdmin: vhost.serverAdmin,
        serverSoftware: this.options.serverSoftware,
        documentRoot: vhost.documentRoot,
        requestHost,
        requestPort,
        scriptFilename: mount.scriptPath,
        scriptName: match.scriptName,
        pathInfo: match.pathInfo,
        query: target.query,
        processGroup: mount.processGroup,
        applicationGroup: expandApplicationGroup(mount.applicationGroup, appGroupCtx),
        callableObject: mount.callableObject,
        passAuthorization: mount.passAuthorization,
        requestId: record.id,
        requestStart: now,
        queueStart: now,
      },
      body.kind === 'on-demand' ? FLAG_EXPECT_CONTINUE : 0,
    );
    const context: ExchangeContext = {
      errorLog: this.options.errorLog,
      groupName: group.config.name,
      withdrawn: () => group.dispatcher.noteWithdrawn(),
    };

    if (body.kind === 'buffered') {
      // Small bodies are read whole first: the worker thread then never waits on a slow client,
      // and head and body reach it in one write.
      const chunks: Buffer[] = [];
      const owner = flight;
      owner.bodyFailed = (status) => fail(status, 'The request body was malformed or cut short; the request was not run.');
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        owner.bodyFailed = null;
        if (res.destroyed) return;
        group.submit(new WsgiExchange(context, record, head, { kind: 'buffered', body: Buffer.concat(chunks) }));
      });
      return;
    }
    const exchange = new WsgiExchange(context, record, head, body);
    if (body.kind !== 'none') {
      const owner = flight;
      owner.bodyFailed = (status) => exchange.bodyFailed(status);
      req.once('end', () => {
        if (owner.bodyFailed !== null) owner.bodyFailed = null;
      });
    }
    group.submit(exchange);
  }

  /** Name-based virtual hosting: the vhost whose ServerName or ServerAlias matches, else the first. */
  private selectVirtualHost(listener: Listener, hostname: string | null): VirtualHostConfig | null {
    const vhosts = listener.vhosts;
    if (vhosts.length === 0) return null;
    if (hostname !== null) {
      for (const vhost of vhosts) {
        if (vhost.serverName.toLowerCase() === hostname) return vhost;
        if (vhost.serverAliases.some((alias) => matchesAlias(alias, hostname))) return vhost;
      }
    }
    return vhosts[0]!;
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
    this.options.errorLog.log('core', 'info', `Invalid request from ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}: ${(err as { reason?: string }).reason ?? err.message} (${status})`);
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

  /** CONNECT: this is not a forward proxy. */
  private onConnectMethod(req: http.IncomingMessage, socket: net.Socket): void {
    this.options.errorLog.log('core', 'info', `CONNECT ${req.url ?? ''} refused: not a proxy (501)`, { client: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}` });
    const body = errorPageBody(501);
    socket.on('error', () => {});
    socket.end(`HTTP/1.1 501 Not Implemented\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
  }
}

/**
 * The status for a request the parser refused, as Apache would give it: 431 for oversized
 * headers; 501 for a transfer coding it does not know; 400 for the rest, including chunked not
 * last and Content-Length with Transfer-Encoding (smuggling attempts).
 */
function clientErrorStatus(err: NodeJS.ErrnoException & { rawPacket?: Buffer }): number {
  if (err.code === 'HPE_HEADER_OVERFLOW') return 431;
  if (err.code === 'HPE_INVALID_TRANSFER_ENCODING' && err.rawPacket !== undefined) {
    const head = err.rawPacket.toString('latin1').split('\r\n\r\n')[0]!;
    const codings: string[] = [];
    let hasLength = false;
    for (const line of head.split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      if (name === 'transfer-encoding') codings.push(...line.slice(colon + 1).split(',').map((c) => c.trim().toLowerCase()));
      if (name === 'content-length') hasLength = true;
    }
    if (!hasLength && !codings.includes('chunked')) return 501;
  }
  return 400;
}

function countHeader(raw: string[], lowerName: string): number {
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === lowerName) count++;
  return count;
}

function stripV4Mapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function matchesAlias(alias: string, hostname: string): boolean {
  const pattern = alias.toLowerCase();
  if (!pattern.includes('*') && !pattern.includes('?')) return pattern === hostname;
  const regex = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
  return regex.test(hostname);
}
