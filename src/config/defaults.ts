import type { LimitsConfig, RequestReadTimeouts, ProcessGroupConfig, PythonSettings, TimeoutsConfig, VirtualHostConfig } from './model';

/**
 * A response up to this size never keeps a worker thread waiting for a slow client; larger ones
 * are relayed with flow control. mod_wsgi 6.0.2 uses 8 MiB for its flush threshold; wsgi-host
 * holds this much per slow response in memory, so it is smaller.
 */
export const DEFAULT_RESPONSE_BUFFER_SIZE = 1024 * 1024;

/**
 * The front end's nice value when WSGIFrontEndPriority is not given: applied when the server may
 * lower its nice value (root, CAP_SYS_NICE); otherwise the front end stays as it started.
 */
export const DEFAULT_FRONT_END_PRIORITY = -10;

/** The front end's scheduling policy when WSGIFrontEndSchedulingPolicy is not given (any user may set it). */
export const DEFAULT_FRONT_END_SCHEDULING_POLICY = 'batch' as const;

/** A process group with WSGIDaemonProcess's defaults (mod_wsgi 6). */
export function defaultProcessGroup(name: string, python: string): ProcessGroupConfig {
  return {
    name,
    scope: null,
    processes: 1,
    threads: 15,
    multiprocess: false,
    python,
    interpreterFlags: [],
    pythonPath: [],
    home: null,
    displayName: null,
    lang: null,
    locale: null,
    user: null,
    group: null,
    umask: null,
    queueTimeout: 0,
    sendAheadMs: 2,
    responseBufferSize: DEFAULT_RESPONSE_BUFFER_SIZE,
    shutdownTimeout: 5,
    gracefulTimeout: 15,
    evictionTimeout: 0,
    maximumRequests: 0,
    maximumRequestsJitter: 0,
    restartInterval: 0,
    inactivityTimeout: 0,
    requestTimeout: 0,
    interruptTimeout: 0,
    deadlockTimeout: 300,
    startupTimeout: 0,
    socketTimeout: 0,
    cpuTimeLimit: 0,
    cpuPriority: 0,
    schedulingPolicy: 'batch',
    memoryLimit: 0,
    virtualMemoryLimit: 0,
    maximumRss: 0,
    stackSize: 0,
    switchInterval: null,
    environment: {},
    preload: [],
    reloadOnChanges: false,
    applicationGroups: 'sub-interpreters',
    origin: null,
  };
}

/** Apache's defaults for a server or virtual host before its directives apply. */
export function defaultVirtualHost(id: string, serverName: string, documentRoot: string, errorLogPath: string): VirtualHostConfig {
  return {
    id,
    addresses: [],
    serverName,
    serverAliases: [],
    serverAdmin: null,
    documentRoot,
    errorLog: { kind: 'file', path: errorLogPath },
    logLevel: 'warn',
    moduleLogLevels: {},
    accessLogs: [],
    aliases: [],
    scriptAliases: [],
    settings: {},
    sections: [],
  };
}

export function defaultPythonSettings(): PythonSettings {
  return {
    home: null,
    defaultInterpreter: 'python3',
    path: [],
    optimize: 0,
    hashSeed: null,
    warnings: [],
    dontWriteBytecode: false,
    restrictEmbedded: false,
    restrictStdin: false,
    restrictStdout: false,
    restrictSignal: true,
  };
}

/** The largest request body the front end reads whole into memory; a larger one goes to a spool file. */
export const BUFFERED_BODY_BYTES = 1024 * 1024;

/** Apache's LimitRequest* defaults. */
export function defaultLimits(): LimitsConfig {
  return { requestLine: 8190, requestFields: 100, requestFieldSize: 8190, bufferedBodySize: BUFFERED_BODY_BYTES, maxConnections: DEFAULT_MAX_CONNECTIONS, listenBacklog: 511 };
}

/**
 * The cap on open client connections when MaxRequestWorkers is not given. The front end holds
 * idle and slow connections cheaply (as Apache's event MPM does), so the cap guards file
 * descriptors and memory rather than threads.
 */
export const DEFAULT_MAX_CONNECTIONS = 8192;

/** Apache's Timeout and KeepAlive defaults, and mod_reqtimeout's defaults (Apache 2.4.39 and later). */
export function defaultTimeouts(): TimeoutsConfig {
  return { socket: 60, keepAlive: true, keepAliveTimeout: 5, maxKeepAliveRequests: 100, requestRead: defaultRequestReadTimeouts() };
}

/** RequestReadTimeout handshake=0 header=20-40,MinRate=500 body=20,MinRate=500. */
export function defaultRequestReadTimeouts(): RequestReadTimeouts {
  return { handshake: null, header: { timeout: 20, maxTimeout: 40, minRate: 500 }, body: { timeout: 20, maxTimeout: 0, minRate: 500 } };
}

/** Interpreter flags for the WSGIPython* settings. */
export function interpreterFlags(python: PythonSettings): string[] {
  const flags: string[] = [];
  if (python.optimize === 1) flags.push('-O');
  if (python.optimize >= 2) flags.push('-OO');
  if (python.dontWriteBytecode) flags.push('-B');
  for (const warning of python.warnings) flags.push('-W', warning);
  return flags;
}
