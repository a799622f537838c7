/**
 * The typed configuration model. Command-line flags (start-server) and configuration files
 * (serve -f) both produce a ServerConfig; everything after that runs one code path.
 */

import type { AccessPolicy } from '../auth/policy';
import { DEFAULT_AUTH, type AuthLayer, type ResolvedAuth } from './auth-model';

export type LogLevelName = 'emerg' | 'alert' | 'crit' | 'error' | 'warn' | 'notice' | 'info' | 'debug';

/** Where a log goes: a file path, or the server's own stdout/stderr. */
export type LogTarget = { kind: 'file'; path: string } | { kind: 'stdout' } | { kind: 'stderr' };

/** Where a directive came from, for messages ("app.conf:12"). */
export interface Origin {
  file: string;
  line: number;
}

export interface ListenerConfig {
  /** Address to bind; '' means all interfaces. */
  host: string;
  /** 0 lets the operating system choose (the banner then shows the chosen port). */
  port: number;
  /** TLS for every connection on this listener (start-server --https-port); virtual hosts with SSLEngine On give it otherwise. */
  tls?: TlsConfig | null;
  /** The Listen directive that asked for it (file:line), for start-up errors; absent for start-server's flags. */
  origin?: Origin | null;
}

/** SSLCertificateFile, SSLCertificateKeyFile, SSLCertificateChainFile. */
export interface TlsConfig {
  certificateFile: string;
  keyFile: string;
  chainFile: string | null;
  /** Where it was configured ("httpd.conf:12", or the start-server flag), for start-up errors. */
  where: string;
}

/** WSGIScriptAlias / WSGIScriptAliasMatch. */
export interface ScriptAlias {
  /** The URL prefix (without a trailing slash, '' for the root) or, for the Match form, a regex. */
  urlPrefix: string;
  pattern: RegExp | null;
  /** A WSGI script file, or a directory of scripts (the prefix then names a script in it). May hold $1.. for the Match form. */
  target: string;
  /** Options given on the directive; null = not given (the per-directory settings decide). */
  processGroup: string | null;
  applicationGroup: string | null;
  callableObject: string | null;
  passAuthorization: boolean | null;
  origin: Origin | null;
}

/** Alias / AliasMatch: static files from outside DocumentRoot. */
export interface PathAlias {
  urlPrefix: string;
  pattern: RegExp | null;
  target: string;
  origin: Origin | null;
}

/** Options: which of Indexes, FollowSymLinks, ExecCGI are on. */
export interface OptionFlags {
  indexes: boolean;
  followSymlinks: boolean;
  execCgi: boolean;
}

/** How an Options directive changes the inherited flags: absolute (`set`) or relative (+/-). */
export interface OptionsChange {
  set: OptionFlags | null;
  add: (keyof OptionFlags)[];
  remove: (keyof OptionFlags)[];
}

/**
 * Settings that Apache merges per directory: from the server, the virtual host, and each
 * <Directory>, <Files> and <Location> section that applies to the request, in Apache's order.
 * Undefined means "inherit".
 */
export interface DirectorySettings {
  options?: OptionsChange[];
  /** Authentication and authorization directives (AuthType, Require, WSGIAuthUserScript, ...). */
  auth?: AuthLayer;
  directoryIndex?: string[];
  /** SetHandler; null is SetHandler None. */
  setHandler?: string | null;
  /** AddHandler: extension (lower case, no dot) to handler; adds to what is inherited. */
  addHandlers?: Record<string, string>;
  /** AddType: extension (lower case, no dot) to media type; adds to what is inherited. */
  addTypes?: Record<string, string>;
  /** WSGIHandlerScript: handler name to script; adds to what is inherited. */
  handlerScripts?: Record<string, HandlerScript>;
  processGroup?: string;
  applicationGroup?: string;
  callableObject?: string;
  passAuthorization?: boolean;
  chunkedRequest?: boolean;
  /** WSGIRequestBodySpooling (wsgi-host's own): read bodies whole before the request takes a thread. */
  requestBodySpooling?: boolean;
  /**
   * WSGIResponseSpoolLimit (wsgi-host's own): bytes of a response that may go to a spool file once
   * the client is response-buffer-size behind, so the worker thread does not wait; 0: never.
   */
  responseSpoolLimit?: number;
  mapHeadToGet?: 'on' | 'off' | 'auto';
  scriptReloading?: boolean;
  errorOverride?: boolean;
  enableSendfile?: boolean;
  /**
   * SetEnv, PassEnv and UnsetEnv in the order written. Applied in order on top of what is
   * inherited, they give mod_env's result: UnsetEnv removes what came before it, a later SetEnv
   * adds back.
   */
  envOps?: EnvOp[];
  limitRequestBody?: number;
  trustedProxyHeaders?: string[];
  trustedProxies?: string[];
  restrictProcess?: string[];
}

/** The settings that apply to one request once everything is merged. */
export interface ResolvedSettings {
  options: OptionFlags;
  auth: ResolvedAuth;
  /** What access control a request here needs, decided once per settings object; null: none. */
  access: AccessPolicy | null;
  directoryIndex: string[];
  setHandler: string | null;
  addHandlers: Record<string, string>;
  addTypes: Record<string, string>;
  handlerScripts: Record<string, HandlerScript>;
  processGroup: string;
  applicationGroup: string;
  callableObject: string;
  passAuthorization: boolean;
  chunkedRequest: boolean;
  requestBodySpooling: boolean;
  responseSpoolLimit: number;
  mapHeadToGet: 'on' | 'off' | 'auto';
  scriptReloading: boolean;
  errorOverride: boolean;
  enableSendfile: boolean;
  /** The request's environment variables after SetEnv, PassEnv and UnsetEnv. */
  env: Record<string, string>;
  limitRequestBody: number;
  trustedProxyHeaders: string[];
  trustedProxies: string[];
  restrictProcess: string[] | null;
}

/** One SetEnv (name, value), PassEnv (name, the server's value at start) or UnsetEnv (name). */
export type EnvOp = { op: 'set'; name: string; value: string } | { op: 'unset'; name: string };

export type SectionKind = 'directory' | 'location' | 'files';

/** A <Directory>, <DirectoryMatch>, <Location>, <LocationMatch>, <Files> or <FilesMatch> section. */
export interface Section {
  kind: SectionKind;
  /** The path, URL or file name as written (wildcards allowed) when `pattern` is null. */
  path: string;
  pattern: RegExp | null;
  settings: DirectorySettings;
  /** <Files> sections nested in a <Directory>. */
  files: Section[];
  origin: Origin | null;
}

/** WSGIHandlerScript name path [options]. */
export interface HandlerScript {
  name: string;
  script: string;
  processGroup: string | null;
  applicationGroup: string | null;
  passAuthorization: boolean | null;
}

export interface AccessLogConfig {
  target: LogTarget;
  /** An Apache LogFormat string. */
  format: string;
}

export interface VirtualHostConfig {
  /** "name:port (file:line)" for messages. */
  id: string;
  /** Addresses from <VirtualHost addr:port ...>; empty for the main server. */
  addresses: ListenerConfig[];
  serverName: string;
  serverAliases: string[];
  serverAdmin: string | null;
  documentRoot: string;
  errorLog: LogTarget;
  logLevel: LogLevelName;
  moduleLogLevels: Record<string, LogLevelName>;
  accessLogs: AccessLogConfig[];
  /** Alias/AliasMatch, the virtual host's first, then the main server's. */
  aliases: PathAlias[];
  /** WSGIScriptAlias(Match), the virtual host's first, then the main server's. */
  scriptAliases: ScriptAlias[];
  /** Settings given directly in the server or virtual host (outside sections). */
  settings: DirectorySettings;
  /** Sections of the main server first, then the virtual host's own. */
  sections: Section[];
  /** SSLEngine On with its certificate: connections to this virtual host's addresses use TLS. */
  tls?: TlsConfig | null;
  /** SSLOptions +StdEnvVars (start-server --ssl-environment): SSL_* variables for the applications. */
  sslEnvironment?: boolean;
  /** start-server --https-only: plain HTTP requests are redirected to this HTTPS port (0: the one bound). */
  httpsRedirectPort?: number | null;
  /** start-server --hsts-policy: the Strict-Transport-Security header of HTTPS responses. */
  hstsPolicy?: string | null;
}

export interface ProcessGroupConfig {
  name: string;
  /** The ServerName of the virtual host it was defined in; null if defined at server level. */
  scope: string | null;
  processes: number;
  threads: number;
  /** mod_wsgi: wsgi.multiprocess is true when the processes option is given at all. */
  multiprocess: boolean;
  /** The Python interpreter (or a virtualenv's python) to run the group's processes with. */
  python: string;
  /** Interpreter options before -c: -O, -B, -W (WSGIPythonOptimize, WSGIDontWriteBytecode, WSGIPythonWarnings). */
  interpreterFlags: string[];
  pythonPath: string[];
  /** Working directory, also put first on sys.path. */
  home: string | null;
  displayName: string | null;
  lang: string | null;
  locale: string | null;
  user: string | null;
  group: string | null;
  umask: number | null;
  /** Seconds a request may wait for a free thread before it is answered 504. 0 = forever. */
  queueTimeout: number;
  /**
   * send-ahead (wsgi-host's own): when every thread is busy, a request without a body (or with
   * one under 32 KiB held in memory) may be sent to a thread whose requests run shorter than this
   * many milliseconds, to start the moment its current one ends; 0 = never.
   */
  sendAheadMs: number;
  /**
   * response-buffer-size: bytes of a response the front end holds for a slow client before the
   * worker thread has to wait for it.
   */
  responseBufferSize: number;
  /** Seconds a process is given to finish its requests when it is stopped. */
  shutdownTimeout: number;
  gracefulTimeout: number;
  evictionTimeout: number;
  maximumRequests: number;
  maximumRequestsJitter: number;
  restartInterval: number;
  inactivityTimeout: number;
  requestTimeout: number;
  interruptTimeout: number;
  deadlockTimeout: number;
  startupTimeout: number;
  socketTimeout: number;
  cpuTimeLimit: number;
  cpuPriority: number;
  /**
   * scheduling-policy (wsgi-host's own): the Linux scheduling policy of the processes. 'batch'
   * (SCHED_BATCH, the default) keeps a worker that a request wakes from preempting the front end
   * on its CPU; the front end is one thread that every request passes through twice, so each
   * preemption stalls all of them. 'normal' is SCHED_OTHER, as mod_wsgi's daemons run.
   */
  schedulingPolicy: 'batch' | 'normal';
  memoryLimit: number;
  virtualMemoryLimit: number;
  /** Recycle a process whose resident memory passes this many bytes (0 = never). */
  maximumRss: number;
  stackSize: number;
  switchInterval: number | null;
  /** Extra environment variables for the processes. */
  environment: Record<string, string>;
  /** Scripts imported when a process starts, before it takes requests. */
  preload: { script: string; applicationGroup: string }[];
  /** Restart when any imported module's file changes (--reload-on-changes). */
  reloadOnChanges: boolean;
  /**
   * Where application groups other than %{GLOBAL} run: a sub-interpreter each (mod_wsgi's way,
   * the default), or a process of their own each (application-groups=processes; also the
   * fallback where the group's Python cannot run sub-interpreters).
   */
  applicationGroups: 'sub-interpreters' | 'processes';
  origin: Origin | null;
}

export interface LimitsConfig {
  /** LimitRequestLine: bytes in the request line (414 beyond). */
  requestLine: number;
  /** LimitRequestFields: number of header fields (400 beyond). */
  requestFields: number;
  /** LimitRequestFieldSize: bytes in one header field (400 beyond). */
  requestFieldSize: number;
  /** Request bodies up to this size are read whole before the request is dispatched. */
  bufferedBodySize: number;
  /** MaxRequestWorkers (--max-clients): client connections open at once; more are closed at once. */
  maxConnections: number;
  /** ListenBacklog: connections the kernel queues before the front end accepts them. */
  listenBacklog: number;
}

/**
 * One stage of RequestReadTimeout (mod_reqtimeout): `timeout` seconds, extended by a second
 * for every `minRate` bytes received, up to `maxTimeout` seconds (0: no maximum).
 */
export interface ReadTimeoutStage {
  timeout: number;
  maxTimeout: number;
  minRate: number;
}

/** RequestReadTimeout; a null stage is off. */
export interface RequestReadTimeouts {
  handshake: ReadTimeoutStage | null;
  header: ReadTimeoutStage | null;
  body: ReadTimeoutStage | null;
}

export interface TimeoutsConfig {
  /** Timeout: seconds of idle socket I/O before a request is abandoned. */
  socket: number;
  keepAlive: boolean;
  keepAliveTimeout: number;
  /** MaxKeepAliveRequests; 0 = unlimited. */
  maxKeepAliveRequests: number;
  /** RequestReadTimeout: how long, and how slowly, a client may send a request head and body. */
  requestRead: RequestReadTimeouts;
}

/** Interpreter-wide settings (WSGIPython*, WSGIRestrict*). */
export interface PythonSettings {
  /** WSGIPythonHome: the default interpreter's prefix (its bin/python3 runs the processes). */
  home: string | null;
  /** The interpreter used when neither python-home nor WSGIPythonHome says. */
  defaultInterpreter: string;
  /** WSGIPythonPath: for the built-in default group (embedded mode). */
  path: string[];
  optimize: number;
  hashSeed: string | null;
  warnings: string[];
  dontWriteBytecode: boolean;
  restrictEmbedded: boolean;
  restrictStdin: boolean;
  restrictStdout: boolean;
  restrictSignal: boolean;
}

export interface ServerConfig {
  /** The configuration file, if the server was configured from one (for reloads). */
  configFile: string | null;
  serverRoot: string;
  /** Directory + prefix for the private socket directory (WSGISocketPrefix). */
  socketPrefix: string;
  listeners: ListenerConfig[];
  /** The main server: answers requests no <VirtualHost> takes. */
  mainServer: VirtualHostConfig;
  virtualHosts: VirtualHostConfig[];
  processGroups: ProcessGroupConfig[];
  python: PythonSettings;
  /** WSGIImportScript. */
  importScripts: { script: string; processGroup: string; applicationGroup: string }[];
  limits: LimitsConfig;
  timeouts: TimeoutsConfig;
  /** User/Group: the default user of the daemon processes. */
  user: string | null;
  group: string | null;
  /** Seconds to let running requests finish when the server stops. */
  shutdownTimeout: number;
  /** Warnings found while reading the configuration (reported at start). */
  warnings: string[];
  /** WSGISlowRequests: log requests slower than this many seconds; absent or null = off. */
  slowRequests?: number | null;
  /** WSGIFrontEndPriority: the front end's nice value; absent or null = the default (see front-end-priority.ts). */
  frontEndPriority?: number | null;
  /** WSGIFrontEndSchedulingPolicy: the front end's thread's policy; absent or null = the default (batch). */
  frontEndSchedulingPolicy?: ProcessGroupConfig['schedulingPolicy'] | null;
}

/** Apache's and mod_wsgi's defaults for per-directory settings. */
export const DEFAULT_SETTINGS: ResolvedSettings = {
  options: { indexes: false, followSymlinks: true, execCgi: false },
  auth: DEFAULT_AUTH,
  access: null,
  directoryIndex: ['index.html'],
  setHandler: null,
  addHandlers: {},
  addTypes: {},
  handlerScripts: {},
  processGroup: '%{GLOBAL}',
  applicationGroup: '%{RESOURCE}',
  callableObject: 'application',
  passAuthorization: false,
  chunkedRequest: false,
  requestBodySpooling: true,
  // 1 GiB, nginx's proxy_max_temp_file_size.
  responseSpoolLimit: 1024 ** 3,
  mapHeadToGet: 'auto',
  scriptReloading: true,
  errorOverride: false,
  enableSendfile: false,
  env: {},
  limitRequestBody: 0,
  trustedProxyHeaders: [],
  trustedProxies: [],
  restrictProcess: null,
};

/** The process group name used for %{GLOBAL} (mod_wsgi's embedded mode). */
export const EMBEDDED_GROUP = '%{GLOBAL}';
