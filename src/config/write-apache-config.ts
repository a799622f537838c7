import type { LogTarget, ProcessGroupConfig, ServerConfig } from './model';
import { defaultProcessGroup } from './defaults';
import { VERSION } from '../paths';
import { renderAccessSection } from './write-auth-config';
import { formatRequestReadTimeout } from './request-read-timeout';

/**
 * Writes a configuration as an Apache-style file that `wsgi-host serve -f` reads back into the
 * same model: how `start-server --setup-only` lets a user graduate from flags to a file. It
 * covers what start-server produces (the main server, its process groups and mounts).
 */
export function renderApacheConfig(config: ServerConfig, command: string): string {
  const main = config.mainServer;
  const lines: string[] = [
    `# Written by wsgi-host ${VERSION} for: ${command}`,
    `# Run it with: wsgi-host serve -f THIS_FILE`,
    '',
    `ServerRoot ${quote(config.serverRoot)}`,
    ...config.listeners.map((l) => `Listen ${l.host === '' ? '' : l.host.includes(':') ? `[${l.host}]:` : `${l.host}:`}${l.port}${l.tls != null ? ' https' : ''}`),
    `ServerName ${quote(main.serverName)}`,
    `DocumentRoot ${quote(main.documentRoot)}`,
    `ErrorLog ${logPath(main.errorLog)}`,
    `LogLevel ${main.logLevel}`,
    ...main.accessLogs.map((log) => `CustomLog ${logPath(log.target)} ${quote(log.format)}`),
    `Timeout ${config.timeouts.socket}`,
    `KeepAlive ${config.timeouts.keepAlive ? 'On' : 'Off'}`,
    `KeepAliveTimeout ${config.timeouts.keepAliveTimeout}`,
    `MaxKeepAliveRequests ${config.timeouts.maxKeepAliveRequests}`,
    `LimitRequestLine ${config.limits.requestLine}`,
    `LimitRequestFields ${config.limits.requestFields}`,
    `LimitRequestFieldSize ${config.limits.requestFieldSize}`,
    `GracefulShutdownTimeout ${config.shutdownTimeout}`,
    `RequestReadTimeout ${formatRequestReadTimeout(config.timeouts.requestRead)}`,
    `MaxRequestWorkers ${config.limits.maxConnections}`,
  ];
  if (main.settings.limitRequestBody !== undefined) lines.push(`LimitRequestBody ${main.settings.limitRequestBody}`);
  if (main.settings.chunkedRequest !== undefined) lines.push(`WSGIChunkedRequest ${main.settings.chunkedRequest ? 'On' : 'Off'}`);
  if (main.settings.passAuthorization !== undefined) lines.push(`WSGIPassAuthorization ${main.settings.passAuthorization ? 'On' : 'Off'}`);
  if (main.settings.scriptReloading !== undefined) lines.push(`WSGIScriptReloading ${main.settings.scriptReloading ? 'On' : 'Off'}`);
  if (config.user !== null) lines.push(`User ${quote(config.user)}`);
  if (config.group !== null) lines.push(`Group ${quote(config.group)}`);
  if (main.settings.enableSendfile === true) lines.push('WSGIEnableSendfile On');
  if (main.settings.requestBodySpooling !== undefined) lines.push(`WSGIRequestBodySpooling ${main.settings.requestBodySpooling ? 'On' : 'Off'}`);
  if (main.settings.responseSpoolLimit !== undefined) lines.push(`WSGIResponseSpoolLimit ${main.settings.responseSpoolLimit}`);
  if (main.settings.trustedProxyHeaders !== undefined) lines.push(`WSGITrustedProxyHeaders ${main.settings.trustedProxyHeaders.map(headerName).join(' ')}`);
  if (main.settings.trustedProxies !== undefined) lines.push(`WSGITrustedProxies ${main.settings.trustedProxies.join(' ')}`);
  if (config.slowRequests !== undefined && config.slowRequests !== null) lines.push(`WSGISlowRequests ${config.slowRequests}`);
  if (config.frontEndPriority !== undefined && config.frontEndPriority !== null) lines.push(`WSGIFrontEndPriority ${config.frontEndPriority}`);
  if (config.frontEndSchedulingPolicy !== undefined && config.frontEndSchedulingPolicy !== null) lines.push(`WSGIFrontEndSchedulingPolicy ${config.frontEndSchedulingPolicy}`);
  lines.push(`WSGISocketPrefix ${quote(config.socketPrefix)}`, '');
  for (const group of config.processGroups) lines.push(daemonProcess(group));
  lines.push('');
  for (const alias of main.scriptAliases) {
    // Both group options on WSGIScriptAlias would preload the script (mod_wsgi's rule), so the
    // groups are named with their own directives unless the configuration preloads.
    const preloads = config.processGroups.some((g) => g.name === alias.processGroup && g.preload.some((p) => p.script === alias.target));
    if (!preloads) {
      if (alias.processGroup !== null) lines.push(`WSGIProcessGroup ${quote(alias.processGroup)}`);
      if (alias.applicationGroup !== null) lines.push(`WSGIApplicationGroup ${quote(alias.applicationGroup)}`);
    }
    const options = [
      preloads && alias.processGroup !== null ? `process-group=${quote(alias.processGroup)}` : '',
      preloads && alias.applicationGroup !== null ? `application-group=${quote(alias.applicationGroup)}` : '',
      alias.callableObject !== null ? `callable-object=${quote(alias.callableObject)}` : '',
      alias.passAuthorization !== null ? `pass-authorization=${alias.passAuthorization ? 'On' : 'Off'}` : '',
    ].filter((o) => o !== '');
    lines.push(`WSGIScriptAlias ${alias.urlPrefix || '/'} ${quote(alias.target)} ${options.join(' ')}`.trimEnd());
  }
  for (const section of main.sections) lines.push('', ...renderAccessSection(section, quote));
  for (const group of config.processGroups) {
    for (const preload of group.preload) {
      if (main.scriptAliases.some((a) => a.target === preload.script && a.processGroup === group.name && a.applicationGroup === (preload.applicationGroup === '' ? '%{GLOBAL}' : preload.applicationGroup))) continue;
      lines.push(`WSGIImportScript ${quote(preload.script)} process-group=${quote(group.name)} application-group=${quote(preload.applicationGroup === '' ? '%{GLOBAL}' : preload.applicationGroup)}`);
    }
  }
  for (const listener of config.listeners) {
    if (listener.tls == null) continue;
    if (main.httpsRedirectPort != null || main.hstsPolicy != null) throw new Error('--https-only and --hsts-policy cannot be written as a configuration file (they need mod_rewrite and mod_headers); leave them out of --setup-only');
    lines.push(
      '',
      `<VirtualHost *:${listener.port}>`,
      `  ServerName ${quote(main.serverName)}`,
      '  SSLEngine On',
      `  SSLCertificateFile ${quote(listener.tls.certificateFile)}`,
      `  SSLCertificateKeyFile ${quote(listener.tls.keyFile)}`,
      ...(listener.tls.chainFile !== null ? [`  SSLCertificateChainFile ${quote(listener.tls.chainFile)}`] : []),
      ...(main.sslEnvironment === true ? ['  SSLOptions +StdEnvVars'] : []),
      '</VirtualHost>',
    );
  }
  return lines.join('\n') + '\n';
}

/** WSGIDaemonProcess with every option that differs from mod_wsgi's default. */
function daemonProcess(group: ProcessGroupConfig): string {
  const defaults = defaultProcessGroup(group.name, group.python);
  const options: string[] = [];
  if (group.multiprocess || group.processes !== defaults.processes) options.push(`processes=${group.processes}`);
  if (group.threads !== defaults.threads) options.push(`threads=${group.threads}`);
  if (group.home !== null) options.push(`home=${quote(group.home)}`);
  if (group.pythonPath.length > 0) options.push(`python-path=${quote(group.pythonPath.join(':'))}`);
  if (group.python !== 'python3') {
    // python-home is mod_wsgi's way; an interpreter not called <prefix>/bin/python3 needs
    // wsgi-host's python-executable= to come back as the same file.
    const home = /^(.*)\/bin\/python3$/.exec(group.python);
    if (home !== null) options.push(`python-home=${quote(home[1]!)}`);
    else options.push(`python-executable=${quote(group.python)}`);
  }
  const numeric: [keyof ProcessGroupConfig, string][] = [
    ['queueTimeout', 'queue-timeout'],
    ['sendAheadMs', 'send-ahead'],
    ['shutdownTimeout', 'shutdown-timeout'],
    ['gracefulTimeout', 'graceful-timeout'],
    ['maximumRequests', 'maximum-requests'],
    ['restartInterval', 'restart-interval'],
    ['inactivityTimeout', 'inactivity-timeout'],
    ['requestTimeout', 'request-timeout'],
    ['startupTimeout', 'startup-timeout'],
    ['deadlockTimeout', 'deadlock-timeout'],
    ['socketTimeout', 'socket-timeout'],
    ['interruptTimeout', 'interrupt-timeout'],
    ['evictionTimeout', 'eviction-timeout'],
    ['maximumRequestsJitter', 'maximum-requests-jitter'],
    ['cpuTimeLimit', 'cpu-time-limit'],
    ['maximumRss', 'maximum-rss'],
    ['memoryLimit', 'memory-limit'],
    ['responseBufferSize', 'response-buffer-size'],
  ];
  for (const [key, name] of numeric) {
    if (group[key] !== defaults[key]) options.push(`${name}=${String(group[key])}`);
  }
  if (group.displayName !== null) options.push(`display-name=${quote(group.displayName)}`);
  if (group.reloadOnChanges) options.push('reload-on-changes=On');
  if (group.schedulingPolicy !== defaults.schedulingPolicy) options.push(`scheduling-policy=${group.schedulingPolicy}`);
  if (group.applicationGroups !== defaults.applicationGroups) options.push(`application-groups=${group.applicationGroups}`);
  return `WSGIDaemonProcess ${quote(group.name)} ${options.join(' ')}`.trimEnd();
}

/** HTTP_X_REQUEST_ID -> X-Request-Id. */
function headerName(key: string): string {
  return key
    .replace(/^HTTP_/, '')
    .split('_')
    .map((w) => w.charAt(0) + w.slice(1).toLowerCase())
    .join('-');
}

function logPath(target: LogTarget): string {
  return target.kind === 'file' ? quote(target.path) : target.kind === 'stdout' ? '/dev/stdout' : '/dev/stderr';
}

/** Quotes an argument when it needs it, as Apache's argument splitter reads it back. */
function quote(value: string): string {
  if (value !== '' && !/[\s"'\\]/.test(value)) return value;
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
