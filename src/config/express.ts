import * as os from 'node:os';
import * as path from 'node:path';
import type { FlagSpec, FlagValues } from '../cli/flags';
import { isLogLevel } from '../log/error-log';
import { LOG_FORMAT_NICKNAMES } from '../log/access-log';
import { WELCOME_SCRIPT } from '../paths';
import { parseProxyEntry } from '../front/trusted-proxies';
import { proxyHeaderEnvironName } from './proxy-header-name';
import { schedulingPolicyNamed, type SchedulingPolicy } from './scheduling-policy';
import { NICE_MAX, NICE_MIN, niceValueNamed } from './nice-value';
import { DEFAULT_MAX_CONNECTIONS, DEFAULT_RESPONSE_BUFFER_SIZE, defaultLimits, defaultProcessGroup, defaultPythonSettings, defaultTimeouts, defaultVirtualHost } from './defaults';
import type { AuthLayer, HookScriptConfig, RequireContainer } from './auth-model';
import type { ListenerConfig, LogLevelName, LogTarget, Section, TlsConfig, ReadTimeoutStage, RequestReadTimeouts, ServerConfig } from './model';

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
  { name: 'send-ahead', kind: 'number', placeholder: 'MS', min: 0, help: 'When every thread is busy, send requests (without a body, or with one under 32 KiB) to threads whose requests take under this many milliseconds, up to 8 per thread and as many as would start within that time, each to start the moment the one before it ends (no round trip through the front end in between); 0 never does.', defaultText: '2' },
  { name: 'scheduling-policy', kind: 'string', placeholder: 'POLICY', help: "Linux scheduling policy of the Python processes: batch (SCHED_BATCH: a worker woken by a request does not preempt the front end, which every request passes through) or normal (SCHED_OTHER, as mod_wsgi's daemons).", defaultText: 'batch' },
  { name: 'front-end-priority', kind: 'string', placeholder: 'NICE', help: 'Nice value of the front end, the one thread every request passes through (WSGIFrontEndPriority); from -20 to 19. Below the starting value it needs root or CAP_SYS_NICE (without them the front end stays as it is); the Python processes keep the starting value.', defaultText: '-10' },
  { name: 'front-end-scheduling-policy', kind: 'string', placeholder: 'POLICY', help: 'Linux scheduling policy of the front end (WSGIFrontEndSchedulingPolicy): batch (SCHED_BATCH: woken, it waits for the running task to block or use its slice, then handles several events at once) or normal (SCHED_OTHER).', defaultText: 'batch' },
  { name: 'shutdown-timeout', kind: 'number', placeholder: 'SECONDS', min: 0, help: 'Once a stopping process is told to exit (at once, or when graceful-timeout ends), how long its running requests and exit functions may take before it is killed.', defaultText: '5' },
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
  { name: 'response-buffer-size', kind: 'string', placeholder: 'BYTES', help: 'How much of a response the front end holds in memory for a slow client before the rest is spooled to a file (or, past --response-spool-limit, the worker thread waits for it); at least 64K.', defaultText: '1M' },
  { name: 'response-spool-limit', kind: 'string', placeholder: 'BYTES', help: 'How much more of a response, past --response-buffer-size, may go to an unlinked file in the socket directory so the worker thread never waits for a slow client (WSGIResponseSpoolLimit, wsgi-host\'s own); beyond it the thread waits, as with mod_wsgi; 0 never spools.', defaultText: '1G' },
  { name: 'preload', kind: 'boolean', help: 'Import the application when each process starts, before it takes requests (default: on its first request).' },
  { name: 'reload-on-changes', kind: 'boolean', help: 'Restart a process when the file of any module it imported changes (for development).' },
  { name: 'disable-reloading', kind: 'boolean', help: 'Do not restart processes when the WSGI script changes (WSGIScriptReloading Off).' },
  { name: 'socket-prefix', kind: 'string', placeholder: 'PATH', help: 'Path prefix for the private directory holding the worker sockets (WSGISocketPrefix).', defaultText: 'SERVER_ROOT/wsgi' },
  { name: 'server-root', kind: 'string', placeholder: 'DIR', help: 'Directory for logs and sockets.', defaultText: '$TMPDIR/wsgi-host-HOST:PORT:UID' },
  { name: 'log-directory', kind: 'string', placeholder: 'DIR', help: 'Directory for error_log and access_log.', defaultText: 'the server root' },
  { name: 'log-level', kind: 'string', placeholder: 'LEVEL', help: 'Error log level: emerg, alert, crit, error, warn, notice, info or debug.', defaultText: 'warn' },
  { name: 'access-log', kind: 'boolean', help: 'Write an access log.' },
  { name: 'access-log-format', kind: 'string', placeholder: 'FORMAT', help: 'Apache LogFormat string, or common, combined, vhost_combined, or json (one JSON object per line).', defaultText: 'common' },
  { name: 'log-to-terminal', kind: 'boolean', help: 'Error log to standard error, access log to standard output.' },
  { name: 'pass-authorization', kind: 'boolean', help: 'Pass the Authorization header to the application as HTTP_AUTHORIZATION (WSGIPassAuthorization), as mod_wsgi-express always does; --pass-authorization=off withholds it.', defaultText: 'on' },
  { name: 'host-access-script', kind: 'string', placeholder: 'SCRIPT', help: 'Python script whose allow_access(environ, host) decides which clients may use the site (WSGIAccessScript for <Location />); False refuses with 403.' },
  { name: 'auth-user-script', kind: 'string', placeholder: 'SCRIPT', help: 'Python script that checks users (WSGIAuthUserScript): check_password(environ, user, password) for Basic, get_realm_hash(environ, user, realm) for Digest. The whole site then requires a valid user.' },
  { name: 'auth-type', kind: 'string', placeholder: 'TYPE', help: 'Authentication scheme for --auth-user-script: Basic or Digest.', defaultText: 'Basic' },
  { name: 'auth-group-script', kind: 'string', placeholder: 'SCRIPT', help: 'Python script whose groups_for_user(environ, user) lists a user\'s groups (WSGIAuthGroupScript); with --auth-user-script, users must then be in --auth-group.' },
  { name: 'auth-group', kind: 'string', placeholder: 'NAME', help: 'The group users must be in when --auth-group-script is given (Require wsgi-group).', defaultText: 'wsgi' },
  { name: 'enable-sendfile', kind: 'boolean', help: 'Let the front end send the file of a wsgi.file_wrapper response itself, with sendfile(2), freeing the worker thread at once (WSGIEnableSendfile On).' },
  { name: 'chunked-request', kind: 'boolean', help: 'Accept request bodies sent with Transfer-Encoding: chunked (WSGIChunkedRequest On); without it they get 411.' },
  { name: 'request-body-spooling', kind: 'boolean', help: 'Read each request body whole (bodies over 1 MiB into an unlinked file in the socket directory) before the request takes a Python thread (WSGIRequestBodySpooling, wsgi-host\'s own); --request-body-spooling=off streams bodies as the application reads them, as mod_wsgi does.', defaultText: 'on' },
  { name: 'limit-request-body', kind: 'integer', placeholder: 'BYTES', min: 0, help: 'Largest request body accepted (413 beyond); 0 is unlimited.', defaultText: '10485760' },
  { name: 'https-port', kind: 'integer', placeholder: 'NUMBER', min: 0, help: 'Also serve HTTPS on this port (0 lets the system choose); needs a certificate.' },
  { name: 'ssl-certificate-file', kind: 'string', placeholder: 'FILE-PATH', help: 'PEM certificate for --https-port (SSLCertificateFile).' },
  { name: 'ssl-certificate-key-file', kind: 'string', placeholder: 'FILE-PATH', help: 'PEM private key of the certificate (SSLCertificateKeyFile).' },
  { name: 'ssl-certificate', kind: 'string', placeholder: 'FILE-PATH', help: 'Common prefix of the certificate and key files: PREFIX.crt and PREFIX.key.' },
  { name: 'ssl-certificate-chain-file', kind: 'string', placeholder: 'FILE-PATH', help: 'PEM certificates of the CAs that complete the chain (SSLCertificateChainFile).' },
  { name: 'ssl-environment', kind: 'boolean', help: 'Pass the SSL_* variables of the connection to the application (SSLOptions +StdEnvVars).' },
  { name: 'https-only', kind: 'boolean', help: 'Redirect plain HTTP requests to the same URL over HTTPS.' },
  { name: 'hsts-policy', kind: 'string', placeholder: 'PARAMS', help: 'Strict-Transport-Security header for HTTPS responses with --https-only, e.g. "max-age=31536000".' },
  { name: 'user', kind: 'string', placeholder: 'USERNAME', help: 'Started as root: the user the application processes, and then the front end, run as (User).', defaultText: 'the current user' },
  { name: 'group', kind: 'string', placeholder: 'GROUP', help: "Started as root: their group (Group).", defaultText: "the user's primary group" },
  { name: 'trust-proxy-header', kind: 'list', placeholder: 'HEADER-NAME', help: 'A proxy header to believe (WSGITrustedProxyHeaders), e.g. X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, X-Script-Name, X-Request-Id.' },
  { name: 'trust-proxy', kind: 'list', placeholder: 'IP-ADDRESS/SUBNET', help: 'A proxy whose headers are believed (WSGITrustedProxies); without it every peer is.' },
  { name: 'header-timeout', kind: 'integer', placeholder: 'SECONDS', min: 0, help: 'Time allowed to receive a request head (RequestReadTimeout header=); 0 turns the limit off.', defaultText: '15' },
  { name: 'header-max-timeout', kind: 'integer', placeholder: 'SECONDS', min: 0, help: 'Most time a request head may earn by arriving at --header-min-rate; 0 is no maximum.', defaultText: '30' },
  { name: 'header-min-rate', kind: 'integer', placeholder: 'BYTES', min: 0, help: 'Each time this many bytes of the head arrive, the head gets a second more; 0 turns it off.', defaultText: '500' },
  { name: 'body-timeout', kind: 'integer', placeholder: 'SECONDS', min: 0, help: 'Time allowed to receive a request body while it is being read (RequestReadTimeout body=); 0 turns the limit off.', defaultText: '15' },
  { name: 'body-max-timeout', kind: 'integer', placeholder: 'SECONDS', min: 0, help: 'Most time a request body may earn by arriving at --body-min-rate; 0 is no maximum.', defaultText: '0' },
  { name: 'body-min-rate', kind: 'integer', placeholder: 'BYTES', min: 0, help: 'Each time this many bytes of the body arrive, the body gets a second more; 0 turns it off.', defaultText: '500' },
  { name: 'max-clients', kind: 'integer', placeholder: 'NUMBER', min: 1, help: 'Most client connections open at once (MaxRequestWorkers); further ones are closed at once.', defaultText: String(DEFAULT_MAX_CONNECTIONS) },
  { name: 'keep-alive-timeout', kind: 'number', placeholder: 'SECONDS', min: 0, help: 'How long an idle keep-alive connection is kept open; 0 turns keep-alive off. There is no cap on requests per connection.', defaultText: '2' },
  { name: 'socket-timeout', kind: 'number', placeholder: 'SECONDS', min: 1, help: 'How long to wait for a client to send the request head, or to take any of its response (Timeout).', defaultText: '60' },
  { name: 'server-status', kind: 'boolean', help: 'Serve the status page at /server-status (?json and ?auto for machines), as <Location /server-status> SetHandler server-status; only for clients on this machine (Require local).' },
  { name: 'server-metrics', kind: 'boolean', help: 'Serve Prometheus metrics at /server-metrics, as <Location /server-metrics> SetHandler server-metrics; only for clients on this machine (Require local).' },
  { name: 'slow-requests', kind: 'number', placeholder: 'SECONDS', min: 0, help: 'Log requests that take longer than this to the error log, with their timings (WSGISlowRequests).', defaultText: 'off' },
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
  const tls = tlsFlags(values, cwd);
  const listeners: ListenerConfig[] = tls === null ? [listener] : [listener, { host, port: tls.port, tls: tls.files }];
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
    sendAheadMs: (values['send-ahead'] as number | undefined) ?? group.sendAheadMs,
    schedulingPolicy: policyFlag(values, 'scheduling-policy') ?? group.schedulingPolicy,
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
    user: (values['user'] as string | undefined) ?? null,
    group: (values['group'] as string | undefined) ?? null,
    preload: values['preload'] === true ? [{ script, applicationGroup: '' }] : [],
  });
  const errorLog: LogTarget = toTerminal ? { kind: 'stderr' } : { kind: 'file', path: path.join(logDirectory, 'error_log') };
  const mainServer = defaultVirtualHost(`${serverName}:${port}`, serverName, path.join(serverRoot, 'htdocs'), '');
  Object.assign(mainServer, {
    httpsRedirectPort: tls !== null && tls.httpsOnly ? tls.port : null,
    hstsPolicy: tls?.hstsPolicy ?? null,
    ...(tls !== null && values['ssl-environment'] === true ? { sslEnvironment: true } : {}),
    errorLog,
    logLevel: logLevel as LogLevelName,
    accessLogs:
      values['access-log'] === true
        ? [{ target: toTerminal ? { kind: 'stdout' } : { kind: 'file', path: path.join(logDirectory, 'access_log') }, format: LOG_FORMAT_NICKNAMES[accessFormat] ?? accessFormat }]
        : [],
    sections: [
      ...accessSections(values, cwd, `${host || 'localhost'}:${port}`),
      ...(values['server-status'] === true ? [handlerLocation('/server-status', 'server-status')] : []),
      ...(values['server-metrics'] === true ? [handlerLocation('/server-metrics', 'server-metrics')] : []),
    ],
    scriptAliases: [
      {
        urlPrefix: mountPoint,
        pattern: null,
        target: script,
        processGroup: groupName,
        applicationGroup: '%{GLOBAL}',
        callableObject: (values['callable-object'] as string | undefined) ?? 'application',
        // mod_wsgi-express always passes it (WSGIPassAuthorization On).
        passAuthorization: values['pass-authorization'] !== false,
        origin: null,
      },
    ],
    settings: {
      ...trustedProxySettings(values),
      limitRequestBody: (values['limit-request-body'] as number | undefined) ?? 10485760,
      chunkedRequest: values['chunked-request'] === true,
      enableSendfile: values['enable-sendfile'] === true,
      ...(values['request-body-spooling'] === false ? { requestBodySpooling: false } : {}),
      ...(values['response-spool-limit'] !== undefined ? { responseSpoolLimit: sizeFlag(values, 'response-spool-limit') } : {}),
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
  timeouts.requestRead = requestReadFlags(values);
  const limits = defaultLimits();
  if (values['max-clients'] !== undefined) limits.maxConnections = values['max-clients'] as number;
  return {
    configFile: null,
    serverRoot,
    socketPrefix: path.resolve(cwd, (values['socket-prefix'] as string | undefined) ?? path.join(serverRoot, 'wsgi')),
    listeners,
    mainServer,
    virtualHosts: [],
    processGroups: [group],
    python: { ...defaultPythonSettings(), defaultInterpreter: python },
    importScripts: [],
    limits,
    timeouts,
    user: (values['user'] as string | undefined) ?? null,
    group: (values['group'] as string | undefined) ?? null,
    shutdownTimeout,
    warnings: [],
    slowRequests: (values['slow-requests'] as number | undefined) ?? null,
    frontEndPriority: frontEndPriority(values['front-end-priority'] as string | undefined),
    frontEndSchedulingPolicy: policyFlag(values, 'front-end-scheduling-policy'),
  };
}

/**
 * --host-access-script, --auth-user-script and friends, as mod_wsgi-express writes them: each a
 * <Location /> for the whole site, the user check requiring a valid user (and, with a group
 * script, membership of --auth-group).
 */
function accessSections(values: FlagValues, cwd: string, realm: string): Section[] {
  const script = (name: string): HookScriptConfig | null => {
    const value = values[name] as string | undefined;
    return value === undefined ? null : { script: path.resolve(cwd, value), applicationGroup: null };
  };
  const accessScript = script('host-access-script');
  const userScript = script('auth-user-script');
  const groupScript = script('auth-group-script');
  const typeText = (values['auth-type'] as string | undefined) ?? 'Basic';
  const authType = typeText.toLowerCase() === 'basic' ? 'Basic' : typeText.toLowerCase() === 'digest' ? 'Digest' : null;
  if (authType === null) throw new ExpressConfigError(`--auth-type must be Basic or Digest, not "${typeText}"`);
  if (userScript === null) {
    for (const name of ['auth-type', 'auth-group-script', 'auth-group']) {
      if (values[name] !== undefined) throw new ExpressConfigError(`--${name} needs --auth-user-script (the script that checks users)`);
    }
  }
  if (values['auth-group'] !== undefined && groupScript === null) throw new ExpressConfigError('--auth-group needs --auth-group-script');
  const location = (auth: AuthLayer): Section => ({ kind: 'location', path: '/', pattern: null, settings: { auth }, files: [], origin: null });
  const sections: Section[] = [];
  if (accessScript !== null) sections.push(location({ accessScript }));
  if (userScript !== null) {
    const require: RequireContainer = { kind: 'container', op: 'all', negate: false, children: [{ kind: 'require', provider: 'valid-user', args: [], negate: false }], merged: false };
    if (groupScript !== null) require.children.push({ kind: 'require', provider: 'wsgi-group', args: [(values['auth-group'] as string | undefined) ?? 'wsgi'], negate: false });
    const auth: AuthLayer = {
      authType,
      authName: realm,
      userScript,
      require: { kind: 'container', op: 'any', negate: false, children: [require], merged: false },
    };
    if (authType === 'Basic') auth.basicProviders = [{ name: 'wsgi', kind: 'wsgi', userScript: null }];
    else auth.digestProviders = [{ name: 'wsgi', kind: 'wsgi', userScript: null }];
    if (groupScript !== null) auth.groupScript = groupScript;
    sections.push(location(auth));
  }
  return sections;
}

/**
 * <Location PATH> SetHandler HANDLER; Require local </Location>. mod_wsgi-express likewise keeps
 * its /server-status to clients on the machine (Require host localhost); a configuration file
 * opens it wider.
 */
function handlerLocation(urlPath: string, handler: string): Section {
  const require: RequireContainer = { kind: 'container', op: 'any', negate: false, children: [{ kind: 'require', provider: 'local', args: [], negate: false }], merged: false };
  return { kind: 'location', path: urlPath, pattern: null, settings: { setHandler: handler, auth: { require } }, files: [], origin: null };
}

/** --https-port and the certificate flags, checked as mod_wsgi-express 6 checks them. */
function tlsFlags(values: FlagValues, cwd: string): { port: number; files: TlsConfig; httpsOnly: boolean; hstsPolicy: string | null } | null {
  const port = values['https-port'] as number | undefined;
  const prefix = values['ssl-certificate'] as string | undefined;
  const certFile = (values['ssl-certificate-file'] as string | undefined) ?? (prefix !== undefined ? `${prefix}.crt` : undefined);
  const keyFile = (values['ssl-certificate-key-file'] as string | undefined) ?? (prefix !== undefined ? `${prefix}.key` : undefined);
  const chainFile = values['ssl-certificate-chain-file'] as string | undefined;
  if (port === undefined) {
    const given = ['ssl-certificate', 'ssl-certificate-file', 'ssl-environment', 'ssl-certificate-key-file', 'ssl-certificate-chain-file', 'https-only', 'hsts-policy'].filter((f) => values[f] !== undefined);
    if (given.length > 0) throw new ExpressConfigError(`--${given[0]} needs --https-port: say which port serves HTTPS`);
    return null;
  }
  if (certFile === undefined || keyFile === undefined) throw new ExpressConfigError('--https-port needs a certificate: --ssl-certificate-file and --ssl-certificate-key-file, or --ssl-certificate PREFIX for PREFIX.crt and PREFIX.key');
  if (values['hsts-policy'] !== undefined && values['https-only'] !== true) throw new ExpressConfigError('--hsts-policy needs --https-only (the policy is only sent when HTTP is redirected to HTTPS)');
  return {
    port,
    files: { certificateFile: path.resolve(cwd, certFile), keyFile: path.resolve(cwd, keyFile), chainFile: chainFile !== undefined ? path.resolve(cwd, chainFile) : null, where: 'start-server --ssl-certificate-file/--ssl-certificate-key-file' },
    httpsOnly: values['https-only'] === true,
    hstsPolicy: (values['hsts-policy'] as string | undefined) ?? null,
  };
}

/** mod_wsgi-express's --header-* and --body-* timeout flags, as RequestReadTimeout stages. */
function requestReadFlags(values: FlagValues): RequestReadTimeouts {
  const stage = (name: 'header' | 'body', timeout: number, maxTimeout: number, minRate: number): ReadTimeoutStage | null => {
    const t = (values[`${name}-timeout`] as number | undefined) ?? timeout;
    const max = (values[`${name}-max-timeout`] as number | undefined) ?? maxTimeout;
    const rate = (values[`${name}-min-rate`] as number | undefined) ?? minRate;
    if (t === 0) return null;
    if (max > 0 && max <= t) throw new ExpressConfigError(`--${name}-max-timeout (${max}) must be larger than --${name}-timeout (${t}), or 0 for no maximum`);
    if (max > 0 && rate === 0) throw new ExpressConfigError(`--${name}-max-timeout needs --${name}-min-rate: only a client sending at that rate earns more time`);
    return { timeout: t, maxTimeout: max, minRate: rate };
  };
  return { handshake: null, header: stage('header', 15, 30, 500), body: stage('body', 15, 0, 500) };
}

/** --trust-proxy-header and --trust-proxy, checked as WSGITrustedProxyHeaders/WSGITrustedProxies are. */
function trustedProxySettings(values: FlagValues): { trustedProxyHeaders?: string[]; trustedProxies?: string[] } {
  const headers = (values['trust-proxy-header'] as string[] | undefined) ?? [];
  const proxies = (values['trust-proxy'] as string[] | undefined) ?? [];
  for (const header of headers) {
    if (!/^[A-Za-z0-9_-]+$/.test(header)) throw new ExpressConfigError(`--trust-proxy-header takes a header name such as X-Forwarded-For, not "${header}"`);
  }
  for (const proxy of proxies) {
    const parsed = parseProxyEntry(proxy);
    if (!parsed.ok) throw new ExpressConfigError(`--trust-proxy takes an IP address or subnet: ${parsed.reason}`);
  }
  const settings: { trustedProxyHeaders?: string[]; trustedProxies?: string[] } = {};
  if (headers.length > 0) settings.trustedProxyHeaders = headers.map(proxyHeaderEnvironName);
  if (proxies.length > 0) settings.trustedProxies = proxies;
  return settings;
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

/** --scheduling-policy or --front-end-scheduling-policy: the policy it names, or null when not given. */
function policyFlag(values: FlagValues, name: string): SchedulingPolicy | null {
  const text = values[name] as string | undefined;
  if (text === undefined) return null;
  const policy = schedulingPolicyNamed(text);
  if (policy === null) throw new ExpressConfigError(`--${name} must be batch or normal, not "${text}"`);
  return policy;
}

function frontEndPriority(text: string | undefined): number | null {
  if (text === undefined) return null;
  const nice = niceValueNamed(text);
  if (nice === null) throw new ExpressConfigError(`--front-end-priority must be a nice value from ${NICE_MIN} to ${NICE_MAX}, not "${text}"`);
  return nice;
}

function normalizeMountPoint(value: string): string {
  if (!value.startsWith('/')) throw new ExpressConfigError(`--mount-point must start with '/', not "${value}"`);
  return value.replace(/\/+$/, '');
}
