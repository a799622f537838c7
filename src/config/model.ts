/**
 * The typed configuration model. Command-line flags (start-server) and configuration files both
 * produce a ServerConfig; everything after that runs one code path.
 */

export type LogLevelName = 'emerg' | 'alert' | 'crit' | 'error' | 'warn' | 'notice' | 'info' | 'debug';

/** Where a log goes: a file path, or the server's own stdout/stderr. */
export type LogTarget = { kind: 'file'; path: string } | { kind: 'stdout' } | { kind: 'stderr' };

export interface ListenerConfig {
  /** Address to bind; '' means all interfaces. */
  host: string;
  /** 0 lets the operating system choose (the banner then shows the chosen port). */
  port: number;
}

/** A WSGIScriptAlias: URLs under `urlPrefix` are served by the WSGI script `scriptPath`. */
export interface ScriptMount {
  /** The mount point without a trailing slash; '' for the root. */
  urlPrefix: string;
  scriptPath: string;
  processGroup: string;
  /** The application group as configured (may hold %{RESOURCE} and the like). */
  applicationGroup: string;
  callableObject: string;
  passAuthorization: boolean;
}

export interface ProcessGroupConfig {
  name: string;
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
  /** Seconds a request may wait for a free thread before it is answered 504. 0 = forever. */
  queueTimeout: number;
  /** Seconds a process is given to finish its requests when it is stopped. */
  shutdownTimeout: number;
  maximumRequests: number;
  /** Extra environment variables for the processes. */
  environment: Record<string, string>;
  /** Scripts imported when a process starts, before it takes requests. */
  preload: { script: string; applicationGroup: string }[];
}

export interface VirtualHostConfig {
  serverName: string;
  serverAliases: string[];
  serverAdmin: string | null;
  documentRoot: string;
  listeners: ListenerConfig[];
  mounts: ScriptMount[];
}

export interface AccessLogConfig {
  target: LogTarget;
  /** An Apache LogFormat string. */
  format: string;
}

export interface LimitsConfig {
  /** LimitRequestBody in bytes; 0 = unlimited. */
  requestBody: number;
  /** Accept chunked request bodies (WSGIChunkedRequest). */
  chunkedRequest: boolean;
  /** Request bodies up to this size are read whole before the request is dispatched. */
  bufferedBodySize: number;
}

export interface TimeoutsConfig {
  /** Timeout: seconds of idle socket I/O before a request is abandoned. */
  socket: number;
  keepAlive: number;
}

export interface ServerConfig {
  serverRoot: string;
  /** Directory + prefix for the private socket directory (WSGISocketPrefix). */
  socketPrefix: string;
  listeners: ListenerConfig[];
  virtualHosts: VirtualHostConfig[];
  processGroups: ProcessGroupConfig[];
  errorLog: LogTarget;
  logLevel: LogLevelName;
  moduleLogLevels: Record<string, LogLevelName>;
  accessLog: AccessLogConfig | null;
  limits: LimitsConfig;
  timeouts: TimeoutsConfig;
  /** Seconds to let running requests finish when the server stops. */
  shutdownTimeout: number;
}
