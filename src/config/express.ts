import * as os from 'node:os';
import * as path from 'node:path';
import type { FlagSpec, FlagValues } from '../cli/flags';
import { isLogLevel } from '../log/error-log';
import { LOG_FORMAT_NICKNAMES } from '../log/access-log';
import { WELCOME_SCRIPT } from '../paths';
import { DEFAULT_RESPONSE_BUFFER_SIZE, defaultLimits, defaultProcessGroup, defaultPythonSettings, defaultTimeouts, defaultVirtualHost } from './defaults';
import type { LogLevelName, LogTarget, ServerConfig } from './model';

/**
 * The flags of `wsgi-host start-server`, modelled on `mod_wsgi-express start-server`, and their
 * translation into the configuration model.
 */
export const START_SERVER_FLAGS: FlagSpec[] = [
  { name: 'host', kind: 'string', placeholder: 'ADDRESS', help: 'Interface to listen on.', defaultText: 'all interfaces' },
  { name: 'port', kind: 'integer', placeholder: 'NUMBER', min: 0, help: 'Port to listen on; 0 lets the system choose.', defaultText: '8000' },
  { name: 'server-name', kind: 'string', placeholder: 'NAME', help: 'Host name of the server (ServerName).', defaultText: 'localhost' },
  { name: 'processes', kind: 'integer', placeholder: 'NUMBER', min: 1, help: 'Python processes in the process group. Giving it at all makes wsgi.multiprocess true.', defaultText: '1' },
  { name: 'threads', kind: 'integer', placeholder: 'NUMBER', min: 1, help: 'Request threads per process.', defaultText: '5' },
  { name: 'python', kind: 'string', placeholder: 'PATH', help: "Python interpreter, or a virtualenv's bin/python.", defaultText: 'python3 on PATH' },
  { name: 'python-path', kind: 'list', placeholder: 'DIR', help: 'Directory to add to sys.path (with its .pth files).' },
  { name: 'working-directory', kind: 'string', placeholder: 'DIR', help: 'Working directory of the Python processes, also first on sys.path.', defaultText: 'the current directory' },
  { name: 'callable-object', kind: 'string', placeholder: 'NAME', help: 'Name of the WSGI callable in the script.', defaultText: 'application' },
  { name: 'mount-point', kind: 'string', placeholder: 'URL', help: 'URL path the application is mounted at.', defaultText: '/' },
  { name: 'queue-timeout', kind: 'number', placeholder: 'SECONDS', min: 0, help: 'How long a request may wait for a free thread before it gets 504; 0 waits forever.', defaultText: '45' },
  { name: 'shutdown-timeout', kind: 'number', placeholder: 'SECONDS', min: 0, help: 'How long a stopping process has to exit after its requests are done (then it is killed).', defaultText: '5' },
  { name: 'graceful-timeout', kind: 'number', placeholder: 'SECONDS', min: 0, help: 'How long a process being replaced may take to finish its running requests.', defaultText: '15' },
  { name: 'eviction-timeout', kind: 'number', placeholder: 'SECONDS', min: 0, help: 'As graceful-timeout, for restarts asked for with SIGUSR1; 0 uses graceful-timeout.', defaultText: '0' },
  { name: 'request-timeout', kind: 'number', placeholder: 'SECONDS', min: 0, help: 'A request running longer gets 504, its process\'s thread stacks are logged and the process is replaced; 0 is no limit.', defaultText: '60' },
  { name: 'interrupt-timeout', kind: 'number', placeholder: 'SECONDS', min: 0, help: 'First raise RequestTimeout in a request past request-timeout and give it this long to unwind.', defaultText: '0' },
  { name: 'startup-timeout', kind: 'number', placeholder: 'SECONDS', min: 0, help: 'Restart a process whose application has not loaded (or preloaded) within this time.', defaultText: '15' },
  { name: 'deadlock-timeout', kind: 'number', placeholder: 'SECONDS', min: 0, help: 'Restart a process whose interpreter has run no Python code for this long.', defaultText: '60' },
  { name: 'maximum-requests', kind: 'integer', placeholder: 'NUMBER', min: 0, help: 'Replace a process after it has served this many requests; 0 is never.', defaultText: '0' },
  { name: 'maximum-requests-jitter', kind: 'integer', placeholder: 'NUMBER', min: 0, help: 'Add up to this many requests at random to each process\'s maximum-requests, so they do not all recycle together.', defaultText: '0' },
  { name: 'restart-interval', kind: 'number', placeholder: 'SECONDS', min: 0, help: 'Replace a process after it has run this long; 0 is never.', defaultText: '0' },
  { name: 'inactivity-timeout', kind: 'number', placeholder: 'SECONDS', min: 0, help: 'Replace a process that has served requests and then been idle this long; 0 is never.', defaultText: '0' },
  { name: 'maximum-rss', kind: 'string', placeholder: 'BYTES', help: 'Replace a process (gracefully) once its resident memory passes this size, e.g. 512M; 0 is never.', defaultText: '0' },
  { name: 'memory-limit', kind: 'string', placeholder: 'BYTES', help: 'Limit a process\'s data memory (RLIMIT_DATA), e.g. 1G; 0 is no limit.', defaultText: '0' },
  { name: 'cpu-time-limit', kind: 'number', placeholder: 'SECONDS', min: 0, help: 'Replace a process once it has used this much CPU time; 0 is no limit.', defaultText: '0' },
  { name: 'response-buffer-size', kind: 'string', placeholder: 'BYTES', help: 'How much of a response the front end holds for a slow client before the worker thread waits for it (at least 64K).', defaultText: '1M' },
  { name: 'preload', kind: 'boolean', help: 'Import the application when each process starts, before it takes requests (default: on its first request).' },
  { name: 'reload-on-changes', kind: 'boolean', help: 'Restart a process when the file of any module it imported changes (for development).' },
  { name: 'disable-reloading', kind: 'boolean', help: 'Do not restart processes when the WSGI script changes (WSGIScriptReloading Off).' },
  { name: 'socket-prefix', kind: 'string', placeholder: 'PATH', help: 'Path prefix for the private directory holding the worker sockets (WSGISocketPrefix).', defaultText: 'SERVER_ROOT/wsgi' },
  { name: 'server-root', kind: 'string', placeholder: 'DIR', help: 'Directory for logs and sockets.', defaultText: '$TMPDIR/wsgi-host-HOST:PORT:UID' },
  { name: 'log-directory', kind: 'string', placeholder: 'DIR', help: 'Directory for error_log and access_log.', defaultText: 'the server root' },
  { name: 'log-level', kind: 'string', placeholder: 'LEVEL', help: 'Error log level: emerg, alert, crit, error, warn, notice, info or debug.', defaultText: 'warn' },
  { name: 'access-log', kind: 'boolean', help: 'Write an access log.' },
  { name: 'access-log-format', kind: 'string', placeholder: 'FORMAT', help: 'Apache LogFormat string, or common, combined, vhost_combined.', defaultText: 'common' },
  { name: 'log-to-terminal', kind: 'boolean', help: 'Error log to standard error, access log to standard output.' },
  { name: 'pass-authorization', kind: 'boolean', help: 'Pass the Authorization header to the application as HTTP_AUTHORIZATION (WSGIPassAuthorization On).' },
  { name: 'enable-sendfile', kind: 'boolean', help: 'Let the front end send the file of a wsgi.file_wrapper response itself, freeing the worker thread at once (WSGIEnableSendfile On).' },
  { name: 'chunked-request', kind: 'boolean', help: 'Accept request bodies sent with Transfer-Encoding: chunked (WSGIChunkedRequest On); without it they get 411.' },
  { name: 'limit-request-body', kind: 'integer', placeholder: 'BYTES', min: 0, help: 'Largest request body accepted (413 beyond); 0 is unlimited.', defaultText: '10485760' },
  { name: 'keep-alive-timeout', kind: 'number', placeholder: 'SECONDS', min: 0, help: 'How long an idle keep-alive connection is kept open; 0 turns keep-alive off. There is no cap on requests per connection.', defaultText: '2' },
  { name: 'socket-timeout', kind: 'number', placeholder: 'SECONDS', min: 1, help: 'How long to wait for a client to send the request head (Timeout).', defaultText: '60' },
  { name: 'setup-only', kind: 'string', placeholder: 'DIR', help: 'Do not start: write the equivalent configuration file to DIR/httpd.conf, for `wsgi-host serve -f`.' },
  { name: 'help', kind: 'boolean', help: 'Show this help and exit.' },
];

export class ExpressConfigError extends Error {}

/** Builds the configuration `start-server` runs with. */
export function configFromStartServerFlags(values: FlagValues, positionals: string[], cwd: string = process.cwd()): ServerConfig {
  if (positionals.length > 1) throw new ExpressConfigError(`start-server takes at most one script, got: ${positionals.join(' ')}`);
  const script = positionals.length === 1 ? path.resolve(cwd, positionals[0]!) : WELCOME_SCRIPT;
  const host = (values['host'] as string | undefined) ?? '';
  const port = (values['port'] as number | undefined) ?? 8000;
  const serverName = (values['server-name'] as string | undefined) ?? 'localhost';
  const uid = process.getuid?.() ?? 0;
  const serverRoot = path.resolve(cwd, (values['server-root'] as string | undefined) ?? path.join(os.tmpdir(), `wsgi-host-${host || 'localhost'}:${port}:${uid}`));
  const logDirectory = path.resolve(cwd, (values['log-directory'] as string | undefined) ?? serverRoot);
  const logLevel = (values['log-level'] as string | undefined) ?? 'warn';
  if (!isLogLevel(logLevel)) throw new ExpressConfigError(`--log-level must be one of emerg, alert, crit, error, warn, notice, info, debug; not "${logLevel}"`);
  const mountPoint = normalizeMountPoint((values['mount-point'] as string | undefined) ?? '/');
  const toTerminal = values['log-to-terminal'] === true;
  const accessFormat = (values['access-log-format'] as string | undefined) ?? 'common';
  if (values['access-log-format'] !== undefined && values['access-log'] !== true) {
    throw new ExpressConfigError('--access-log-format needs --access-log');
  }
  const processes = (values['processes'] as number | undefined) ?? 1;
  const threads = (values['threads'] as number | undefined) ?? 5;
  const groupName = `${host || serverName}:${port}`;
  const queueTimeout = (values['queue-timeout'] as number | undefined) ?? 45;
  const shutdownTimeout = (values['shutdown-timeout'] as number | undefined) ?? 5;
  const home = path.resolve(cwd, (values['working-directory'] as string | undefined) ?? cwd);
  const pythonPath = ((values['python-path'] as string[] | undefined) ?? []).map((p) => path.resolve(cwd, p));

  const listener = { host, port };
  const python = (values['python'] as string | undefined) ?? 'python3';
  const group = defaultProcessGroup(groupName, python);
  const seconds = (name: string, fallback: number): number => (values[name] as number | undefined) ?? fallback;
  Object.assign(group, {
    processes,
    threads,
    multiprocess: values['processes'] !== undefined,
    pythonPath,
    home,
    displayName: `(wsgi:${host || serverName}:${port}:${uid})`,
    queueTimeout,
    shutdownTimeout,
    // mod_wsgi-express's defaults, which are stricter than WSGIDaemonProcess's.
    gracefulTimeout: seconds('graceful-timeout', 15),
    evictionTimeout: seconds('eviction-timeout', 0),
    requestTimeout: seconds('request-timeout', 60),
    interruptTimeout: seconds('interrupt-timeout', 0),
    startupTimeout: seconds('startup-timeout', 15),
    deadlockTimeout: seconds('deadlock-timeout', 60),
    socketTimeout: seconds('socket-timeout', 60),
    maximumRequests: seconds('maximum-requests', 0),
    maximumRequestsJitter: seconds('maximum-requests-jitter', 0),
    restartInterval: seconds('restart-interval', 0),
    inactivityTimeout: seconds('inactivity-timeout', 0),
    cpuTimeLimit: seconds('cpu-time-limit', 0),
    maximumRss: sizeFlag(values, 'maximum-rss'),
    memoryLimit: sizeFlag(values, 'memory-limit'),
    responseBufferSize: responseBufferFlag(values),
    reloadOnChanges: values['reload-on-changes'] === true,
    preload: values['preload'] === true ? [{ script, applicationGroup: '' }] : [],
  });
  const errorLog: LogTarget = toTerminal ? { kind: 'stderr' } : { kind: 'file', path: path.join(logDirectory, 'error_log') };
  const mainServer = defaultVirtualHost(`${serverName}:${port}`, serverName, path.join(serverRoot, 'htdocs'), '');
  Object.assign(mainServer, {
    errorLog,
    logLevel: logLevel as LogLevelName,
    accessLogs:
      values['access-log'] === true
        ? [{ target: toTerminal ? { kind: 'stdout' } : { kind: 'file', path: path.join(logDirectory, 'access_log') }, format: LOG_FORMAT_NICKNAMES[accessFormat] ?? accessFormat }]
        : [],
    scriptAliases: [
      {
        urlPrefix: mountPoint,
        pattern: null,
        target: script,
        processGroup: groupName,
        applicationGroup: '%{GLOBAL}',
        callableObject: (values['callable-object'] as string | undefined) ?? 'application',
        passAuthorization: values['pass-authorization'] === true,
        origin: null,
      },
    ],
    settings: {
      limitRequestBody: (values['limit-request-body'] as number | undefined) ?? 10485760,
      chunkedRequest: values['chunked-request'] === true,
      enableSendfile: values['enable-sendfile'] === true,
      scriptReloading: values['disable-reloading'] !== true,
    },
  });
  const timeouts = defaultTimeouts();
  timeouts.socket = (values['socket-timeout'] as number | undefined) ?? 60;
  timeouts.keepAliveTimeout = (values['keep-alive-timeout'] as number | undefined) ?? 2;
  // As mod_wsgi-express: --keep-alive-timeout 0 turns keep-alive off, and an event-driven front
  // end (Apache's event MPM there, Node's loop here) keeps no cap on requests per connection.
  timeouts.keepAlive = timeouts.keepAliveTimeout !== 0;
  timeouts.maxKeepAliveRequests = 0;
  return {
    configFile: null,
    serverRoot,
    socketPrefix: path.resolve(cwd, (values['socket-prefix'] as string | undefined) ?? path.join(serverRoot, 'wsgi')),
    listeners: [listener],
    mainServer,
    virtualHosts: [],
    processGroups: [group],
    python: { ...defaultPythonSettings(), defaultInterpreter: python },
    importScripts: [],
    limits: defaultLimits(),
    timeouts,
    user: null,
    group: null,
    shutdownTimeout,
    warnings: [],
  };
}

/** A size flag: bytes, or with a k/M/G suffix. */
function sizeFlag(values: FlagValues, name: string): number {
  const text = values[name] as string | undefined;
  if (text === undefined) return 0;
  const match = /^(\d+)([kKmMgG]?)$/.exec(text.trim());
  if (match === null) throw new ExpressConfigError(`--${name} needs a size in bytes such as 536870912 or 512M, not "${text}"`);
  return Number(match[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[match[2]!.toLowerCase()]!;
}

function responseBufferFlag(values: FlagValues): number {
  if (values['response-buffer-size'] === undefined) return DEFAULT_RESPONSE_BUFFER_SIZE;
  const size = sizeFlag(values, 'response-buffer-size');
  if (size < 65536) throw new ExpressConfigError(`--response-buffer-size must be at least 65536 bytes (64K), not "${values['response-buffer-size'] as string}"`);
  return size;
}

function normalizeMountPoint(value: string): string {
  if (!value.startsWith('/')) throw new ExpressConfigError(`--mount-point must start with '/', not "${value}"`);
  return value.replace(/\/+$/, '');
}
