import * as os from 'node:os';
import * as path from 'node:path';
import { parseConfigFile, type ConfigNode, type DirectiveNode, type SectionNode, type SourceLocation } from './apache';
import { applyDaemonOption } from './daemon-options';
import { splitModWsgiArgs } from './mod-wsgi-args';
import { AUTH_MODULES, HOOK_SCRIPT_DIRECTIVES, REQUIRE_SECTIONS, authDirectiveHandlers, authnProviderAlias, requireSection, type AuthDirectiveHost, type AuthScope } from './auth-directives';
import type { AuthnProvider, RequireContainer } from './auth-model';
import { defaultLimits, defaultProcessGroup, defaultPythonSettings, defaultTimeouts, defaultVirtualHost, interpreterFlags } from './defaults';
import { LOG_FORMAT_NICKNAMES, compileLogFormat } from '../log/access-log';
import { isLogLevel } from '../log/error-log';
import { parseProxyEntry } from '../front/trusted-proxies';
import { proxyHeaderEnvironName } from './proxy-header-name';
import { parseRequestReadTimeout } from './request-read-timeout';
import { NICE_MAX, NICE_MIN, niceValueNamed } from './nice-value';
import { schedulingPolicyNamed, type SchedulingPolicy } from './scheduling-policy';
import type {
  DirectorySettings,
  HandlerScript,
  ListenerConfig,
  LogLevelName,
  LogTarget,
  OptionFlags,
  OptionsChange,
  Origin,
  ProcessGroupConfig,
  ScriptAlias,
  Section,
  ServerConfig,
  VirtualHostConfig,
} from './model';

/** A problem in the file: where, which directive, what is wrong and what is allowed. */
export interface ConfigProblem {
  file: string;
  line: number;
  directive: string;
  message: string;
}

/**
 * Apache's rule for `Listen 80` beside `Listen 0.0.0.0:80`: the IPv6 wildcard socket (dual-stack)
 * already takes IPv4 connections on the port, so the IPv4 wildcard one is skipped rather than
 * failing to bind.
 */
function withoutCoveredListeners(listeners: ListenerConfig[]): ListenerConfig[] {
  const dualStack = new Set(listeners.filter((l) => l.host === '' || l.host === '::').map((l) => l.port));
  return listeners.filter((l) => !(l.host === '0.0.0.0' && l.port !== 0 && dualStack.has(l.port)));
}

export function formatProblem(p: ConfigProblem): string {
  // Parts that do not apply (line 0: a file that could not be read, or the file as a whole; no
  // directive) are left out rather than printed as noise.
  const where = p.line > 0 ? `${p.file}:${p.line}` : p.file;
  return p.directive !== '' ? `${where}: ${p.directive}: ${p.message}` : `${where}: ${p.message}`;
}

export interface LoadOptions {
  /** Names given with -D. */
  defines?: string[];
  /** Report directives wsgi-host does not implement as warnings instead of errors. */
  skipUnsupported?: boolean;
  /** The ServerRoot before any ServerRoot directive (default: the file's directory). */
  serverRoot?: string;
  env?: Record<string, string | undefined>;
}

export interface LoadResult {
  config: ServerConfig | null;
  errors: ConfigProblem[];
  warnings: ConfigProblem[];
}

/** The modules <IfModule> sees as loaded: what wsgi-host provides, under Apache's names. */
const PROVIDED_MODULES = new Set(
  ['wsgi', 'alias', 'mime', 'dir', 'autoindex', 'log_config', 'authz_core', 'authz_host', 'env', 'setenvif', 'unixd', 'mpm_event', 'version', 'headers', 'status', 'reqtimeout', 'ssl', 'socache_shmcb', ...AUTH_MODULES]
    .flatMap((m) => [`mod_${m}.c`, `${m}_module`]),
);

/** Directives that mean nothing for wsgi-host: accepted, with no effect. */
const NO_EFFECT = new Set(
  [
    'LoadModule', 'LoadFile', 'Mutex', 'PidFile', 'ScoreBoardFile', 'DefaultRuntimeDir', 'ServerTokens', 'ServerSignature',
    'TraceEnable', 'HostnameLookups', 'EnableMMAP', 'EnableSendfile', 'StartServers', 'MinSpareServers', 'MaxSpareServers',
    'MinSpareThreads', 'MaxSpareThreads', 'ThreadsPerChild', 'ThreadLimit', 'ServerLimit',
    'MaxConnectionsPerChild', 'MaxRequestsPerChild', 'AsyncRequestWorkerFactor', 'AccessFileName',
    'WSGISocketRotation', 'WSGIAcceptMutex', 'WSGIVerboseDebugging', 'WSGIDestroyInterpreter', 'WSGICaseSensitivity',
    'WSGIGroupAuthoritative', 'WSGILazyInitialization', 'ExtendedStatus', 'IncludeOptional',
    // TLS session caching and entropy are Node's and OpenSSL's own business.
    'SSLSessionCache', 'SSLSessionCacheTimeout', 'SSLRandomSeed', 'SSLPassPhraseDialog', 'SSLStaplingCache',
  ].map((n) => n.toLowerCase()),
);

/** Directives and sections wsgi-host knows but does not implement (yet), with what to do. */
const NOT_IMPLEMENTED: Record<string, string> = {
  wsgidispatchscript: 'WSGIDispatchScript is not supported; use WSGIProcessGroup/WSGIApplicationGroup with %{ENV:...} and SetEnv instead',
  sslprotocol: 'SSLProtocol is not supported: wsgi-host offers TLS 1.2 and 1.3 (Node\'s defaults)',
  sslciphersuite: 'SSLCipherSuite is not supported: OpenSSL\'s default cipher list (as Node configures it) is used',
  sslhonorcipherorder: 'SSLHonorCipherOrder is not supported',
  sslverifyclient: 'client certificates (SSLVerifyClient) are not supported',
  sslcacertificatefile: 'client certificates (SSLCACertificateFile) are not supported',
  rewriteengine: 'mod_rewrite is not provided by wsgi-host',
  rewriterule: 'mod_rewrite is not provided by wsgi-host',
  rewritecond: 'mod_rewrite is not provided by wsgi-host',
  redirect: 'mod_alias redirects are not provided by wsgi-host yet',
  redirectmatch: 'mod_alias redirects are not provided by wsgi-host yet',
  scriptalias: 'CGI is not provided by wsgi-host; use WSGIScriptAlias',
  errordocument: 'ErrorDocument is not supported yet',
  header: 'mod_headers is not supported yet',
  proxypass: 'mod_proxy is not provided by wsgi-host',
  errorlogformat: 'ErrorLogFormat is not supported: the error log uses Apache\'s default format',
};

/** Per-directory WSGI flag directives: On|Off (or On|Off|Auto for WSGIMapHEADToGET). */
const FLAG_DIRECTIVES: Record<string, keyof DirectorySettings> = {
  wsgipassauthorization: 'passAuthorization',
  wsgichunkedrequest: 'chunkedRequest',
  wsgiscriptreloading: 'scriptReloading',
  wsgierroroverride: 'errorOverride',
  wsgienablesendfile: 'enableSendfile',
  // wsgi-host's own (mod_wsgi always streams the body as the application reads it).
  wsgirequestbodyspooling: 'requestBodySpooling',
};

/** mod_wsgi's directives that read their own arguments (name="quoted value" options). */
const RAW_ARGS_DIRECTIVES = new Set(['wsgidaemonprocess', 'wsgiscriptalias', 'wsgiscriptaliasmatch', 'wsgihandlerscript', 'wsgiimportscript', ...HOOK_SCRIPT_DIRECTIVES]);

type Level = 'server' | 'vhost' | 'section';

interface Scope {
  level: Level;
  vhost: VirtualHostConfig;
  settings: DirectorySettings;
  /** The section being read, if any (Files may nest in Directory). */
  section: Section | null;
  /** The <RequireAll>/<RequireAny>/<RequireNone> being read, if any. */
  requireContainer: RequireContainer | null;
}

/**
 * Reads an Apache-style configuration file into the configuration model. Every problem comes
 * back with its file, line and directive; the configuration is null if there were errors.
 */
export function loadApacheConfig(file: string, options: LoadOptions = {}): LoadResult {
  const absolute = path.resolve(file);
  const parsed = parseConfigFile(absolute, {
    serverRoot: options.serverRoot ?? path.dirname(absolute),
    defines: options.defines ?? [],
    isModuleLoaded: (name) => PROVIDED_MODULES.has(name),
    env: options.env ?? process.env,
  });
  const builder = new ConfigBuilder(parsed.serverRoot, absolute, options.skipUnsupported === true, options.env ?? process.env);
  for (const d of parsed.errors) builder.errors.push({ file: d.loc.file, line: d.loc.line, directive: d.directive, message: d.message });
  for (const d of parsed.warnings) builder.warnings.push({ file: d.loc.file, line: d.loc.line, directive: d.directive, message: d.message });
  if (parsed.errors.length === 0) builder.build(parsed.nodes);
  const config = builder.errors.length === 0 ? builder.finish() : null;
  return { config, errors: builder.errors, warnings: builder.warnings };
}

class ConfigBuilder {
  readonly errors: ConfigProblem[] = [];
  readonly warnings: ConfigProblem[] = [];
  private readonly main: VirtualHostConfig;
  private readonly vhosts: VirtualHostConfig[] = [];
  private readonly listeners: ListenerConfig[] = [];
  private readonly groups: ProcessGroupConfig[] = [];
  private readonly logFormats = new Map<string, string>([...Object.entries(LOG_FORMAT_NICKNAMES), ['CLF', LOG_FORMAT_NICKNAMES['common']!]]);
  private readonly python = defaultPythonSettings();
  private readonly limits = defaultLimits();
  private readonly timeouts = defaultTimeouts();
  private readonly importScripts: ServerConfig['importScripts'] = [];
  private readonly groupReferences: { name: string; loc: SourceLocation; directive: string }[] = [];
  private socketPrefix: string | null = null;
  /** GracefulShutdownTimeout: how long running requests get when the server stops. */
  private shutdownTimeout = 5;
  private readonly listenKeys = new Set<string>();
  /** Per virtual host: whether a plain LogLevel was given (module levels merge either way). */
  private readonly vhostPlainLevelSet = new Set<VirtualHostConfig>();
  /** CustomLog formats named by nickname, resolved once every LogFormat is read (as mod_log_config does). */
  private readonly pendingFormats: { log: { format: string }; node: DirectiveNode }[] = [];
  /** LogFormat without a nickname: the format of TransferLog. */
  private defaultFormat = LOG_FORMAT_NICKNAMES['common']!;
  private user: string | null = null;
  private group: string | null = null;
  /** WSGISlowRequests, in seconds. */
  private slowRequests: number | null = null;
  /** WSGIFrontEndPriority: a nice value, or null for the default. */
  private frontEndPriority: number | null = null;
  /** WSGIFrontEndSchedulingPolicy, or null for the default. */
  private frontEndSchedulingPolicy: SchedulingPolicy | null = null;
  private mainErrorLogSet = false;
  private readonly vhostErrorLogSet = new Set<VirtualHostConfig>();
  private readonly vhostDocumentRootSet = new Set<VirtualHostConfig>();
  private readonly vhostLogLevelSet = new Set<VirtualHostConfig>();

  constructor(
    private readonly serverRoot: string,
    private readonly configFile: string,
    private readonly skipUnsupported: boolean,
    private readonly env: Record<string, string | undefined>,
  ) {
    this.main = defaultVirtualHost('main server', os.hostname(), path.join(serverRoot, 'htdocs'), path.join(serverRoot, 'logs', 'error_log'));
  }

  // -- problems ----------------------------------------------------------------------------

  private error(node: ConfigNode, message: string): void {
    this.errors.push({ file: node.loc.file, line: node.loc.line, directive: displayName(node), message });
  }

  private warn(node: ConfigNode, message: string): void {
    this.warnings.push({ file: node.loc.file, line: node.loc.line, directive: displayName(node), message });
  }

  private unsupported(node: ConfigNode, message: string): void {
    if (this.skipUnsupported) this.warn(node, `${message} (ignored because of --skip-unsupported)`);
    else this.error(node, `${message}. Remove it, or run with --skip-unsupported to ignore directives wsgi-host does not implement`);
  }

  // -- walking -----------------------------------------------------------------------------

  build(nodes: ConfigNode[]): void {
    const scope: Scope = { level: 'server', vhost: this.main, settings: this.main.settings, section: null, requireContainer: null };
    this.walk(nodes, scope);
  }

  private walk(nodes: ConfigNode[], scope: Scope): void {
    for (const node of nodes) {
      if (node.kind === 'section') this.section(node, scope);
      else this.directive(node, scope);
    }
  }

  private section(node: SectionNode, scope: Scope): void {
    if (REQUIRE_SECTIONS.has(node.key)) return requireSection(this.authHost, node, scope, (nodes, inner) => this.walk(nodes, inner as Scope));
    if (scope.requireContainer !== null) return this.error(node, `<${node.name}> is not allowed inside a Require container; only Require lines and <RequireAll>, <RequireAny>, <RequireNone> may appear there`);
    switch (node.key) {
      case 'virtualhost':
        if (scope.level !== 'server') return this.error(node, '<VirtualHost> is only allowed at the top level of the configuration');
        return this.virtualHost(node);
      case 'authnprovideralias':
        return authnProviderAlias(this.authHost, node, scope.level);
      case 'directory':
      case 'directorymatch':
      case 'location':
      case 'locationmatch':
      case 'files':
      case 'filesmatch':
        return this.directorySection(node, scope);
      default:
        return this.unsupported(node, `<${node.name}> sections are not supported by wsgi-host`);
    }
  }

  private virtualHost(node: SectionNode): void {
    if (node.args.length === 0) return this.error(node, '<VirtualHost> needs at least one address, e.g. <VirtualHost *:80>');
    const addresses: ListenerConfig[] = [];
    for (const arg of node.args) {
      const address = parseAddress(arg, 0);
      if (address === null) return this.error(node, `invalid address "${arg}"; use *:PORT, IP:PORT or [IPv6]:PORT`);
      addresses.push({ host: address.host === '_default_' ? '*' : address.host, port: address.port });
    }
    const id = `${node.args.join(' ')} (${path.basename(node.loc.file)}:${node.loc.line})`;
    const vhost = defaultVirtualHost(id, '', this.main.documentRoot, '');
    vhost.addresses = addresses;
    vhost.settings = {};
    this.vhosts.push(vhost);
    this.walk(node.children, { level: 'vhost', vhost, settings: vhost.settings, section: null, requireContainer: null });
  }

  private directorySection(node: SectionNode, scope: Scope): void {
    const key = node.key;
    const inDirectory = scope.section !== null && scope.section.kind === 'directory';
    if (scope.level === 'section' && !((key === 'files' || key === 'filesmatch') && inDirectory)) {
      return this.error(node, `<${node.name}> cannot be nested in <${scope.section?.kind ?? 'section'}>; only <Files> may appear inside <Directory>`);
    }
    if (node.args.length !== 1 && !(node.args.length === 2 && node.args[0] === '~')) {
      return this.error(node, `<${node.name}> takes one argument (a path, or ~ and a regular expression)`);
    }
    const kind = key.startsWith('directory') ? 'directory' : key.startsWith('location') ? 'location' : 'files';
    const isRegex = key.endsWith('match') || node.args.length === 2;
    const raw = node.args[node.args.length - 1]!;
    let pattern: RegExp | null = null;
    if (isRegex) {
      try {
        pattern = new RegExp(raw);
      } catch (err) {
        return this.error(node, `invalid regular expression "${raw}": ${(err as Error).message}`);
      }
    }
    const sectionPath = kind === 'directory' && !isRegex ? this.resolvePath(raw).replace(/\/+$/, '') || '/' : raw;
    const section: Section = { kind, path: sectionPath, pattern, settings: {}, files: [], origin: origin(node) };
    if (scope.section !== null) scope.section.files.push(section);
    else scope.vhost.sections.push(section);
    this.walk(node.children, { level: 'section', vhost: scope.vhost, settings: section.settings, section, requireContainer: null });
  }

  private directive(node: DirectiveNode, scope: Scope): void {
    if (RAW_ARGS_DIRECTIVES.has(node.key)) {
      const words = splitModWsgiArgs(node.rawArgs);
      if (!Array.isArray(words)) return this.error(node, words.error);
      node = { ...node, args: words };
    }
    if (scope.requireContainer !== null && node.key !== 'require') {
      return this.error(node, `not allowed inside a Require container; only Require lines and <RequireAll>, <RequireAny>, <RequireNone> may appear there`);
    }
    const handler = this.handlers[node.key];
    if (handler !== undefined) {
      const allowed = handler.contexts;
      if (!allowed.includes(scope.level)) {
        return this.error(node, `not allowed ${scope.level === 'section' ? 'in <' + (scope.section?.kind ?? 'section') + '>' : scope.level === 'vhost' ? 'in <VirtualHost>' : 'at server level'}; allowed ${allowed.map(describeLevel).join(', ')}`);
      }
      if (handler.args !== undefined) {
        const [min, max] = handler.args;
        if (node.args.length < min || node.args.length > max) {
          return this.error(node, `takes ${min === max ? min : max === Infinity ? `at least ${min}` : `${min} to ${max}`} argument${max === 1 && min === 1 ? '' : 's'}${handler.usage !== undefined ? `: ${handler.usage}` : ''}`);
        }
      }
      handler.apply(node, scope);
      return;
    }
    const flagSetting = FLAG_DIRECTIVES[node.key];
    if (flagSetting !== undefined) {
      if (node.args.length !== 1) return this.error(node, 'takes one argument: On or Off');
      const on = this.flag(node);
      if (on !== null) (scope.settings as Record<string, unknown>)[flagSetting] = on;
      return;
    }
    if (NO_EFFECT.has(node.key)) return;
    const reason = NOT_IMPLEMENTED[node.key];
    if (reason !== undefined) return this.unsupported(node, reason);
    this.unsupported(node, `Invalid command '${node.name}': wsgi-host does not implement this directive (perhaps misspelled?)`);
  }

  // -- helpers -----------------------------------------------------------------------------

  private resolvePath(value: string): string {
    return path.resolve(this.serverRoot, value);
  }

  private flag(node: DirectiveNode): boolean | null {
    const value = node.args[0]!.toLowerCase();
    if (value === 'on') return true;
    if (value === 'off') return false;
    this.error(node, `takes On or Off, not "${node.args[0]}"`);
    return null;
  }

  private number(node: DirectiveNode, value: string, min = 0): number | null {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min) {
      this.error(node, `needs a number${min > 0 ? ` of at least ${min}` : ''}, not "${value}"`);
      return null;
    }
    return n;
  }

  private logTarget(node: DirectiveNode, value: string): LogTarget | null {
    if (value.startsWith('|')) {
      this.unsupported(node, 'piped logs are not supported; log to a file, /dev/stdout or /dev/stderr');
      return null;
    }
    if (value.startsWith('syslog')) {
      this.unsupported(node, 'syslog is not supported; log to a file, /dev/stdout or /dev/stderr');
      return null;
    }
    if (value === '/dev/stdout') return { kind: 'stdout' };
    if (value === '/dev/stderr') return { kind: 'stderr' };
    return { kind: 'file', path: this.resolvePath(value) };
  }

  private scriptAliasOptions(node: DirectiveNode, alias: ScriptAlias | HandlerScript, options: string[], allowed: string[]): boolean {
    for (const option of options) {
      const eq = option.indexOf('=');
      const name = eq > 0 ? option.slice(0, eq).toLowerCase() : option;
      const value = eq > 0 ? option.slice(eq + 1) : '';
      if (!allowed.includes(name)) {
        this.error(node, `Invalid option to WSGI script alias definition: '${option}'. Allowed: ${allowed.map((a) => a + '=').join(', ')}`);
        return false;
      }
      if (eq <= 0 || value === '') {
        this.error(node, `option ${name}= needs a value, as in ${name}=NAME`);
        return false;
      }
      if (name === 'process-group') {
        alias.processGroup = value;
        if (value !== '%{GLOBAL}' && !value.startsWith('%{')) this.groupReferences.push({ name: value, loc: node.loc, directive: node.name });
      } else if (name === 'application-group') alias.applicationGroup = value;
      else if (name === 'callable-object' && 'callableObject' in alias) alias.callableObject = value;
      else if (name === 'pass-authorization') {
        const v = value.toLowerCase();
        if (v !== 'on' && v !== 'off') {
          this.error(node, `option pass-authorization takes On or Off, not "${value}"`);
          return false;
        }
        alias.passAuthorization = v === 'on';
      }
    }
    return true;
  }

  // -- the directives ----------------------------------------------------------------------

  private readonly authHost: AuthDirectiveHost = {
    error: (node, message) => this.error(node, message),
    warn: (node, message) => this.warn(node, message),
    unsupported: (node, message) => this.unsupported(node, message),
    resolvePath: (value) => this.resolvePath(value),
    flag: (node) => this.flag(node),
    authnAliases: new Map<string, AuthnProvider>(),
  };

  private readonly handlers: Record<string, { contexts: Level[]; args?: [number, number]; usage?: string; apply: (node: DirectiveNode, scope: Scope) => void }> = {
    ...(authDirectiveHandlers(this.authHost) as Record<string, { contexts: Level[]; args?: [number, number]; usage?: string; apply: (node: DirectiveNode, scope: AuthScope) => void }>),
    serverroot: { contexts: ['server'], args: [1, 1], apply: () => {} },
    listen: {
      contexts: ['server'],
      args: [1, 2],
      usage: 'Listen [IP:]PORT [protocol]',
      apply: (node) => {
        const address = parseAddress(node.args[0]!, -1, false);
        if (address !== null && address.port === -1) return this.error(node, `Port must be specified: "${node.args[0]}"; use PORT, IP:PORT or [IPv6]:PORT`);
        // Port 0 (the system chooses) is a wsgi-host extension, handy for tests.
        if (address === null || address.port < 0 || address.port > 65535) return this.error(node, `invalid address "${node.args[0]}"; use PORT, IP:PORT or [IPv6]:PORT`);
        if (node.args[1] !== undefined && !['http', 'https'].includes(node.args[1].toLowerCase())) return this.unsupported(node, `protocol "${node.args[1]}" is not supported (http, or https with SSLEngine On in the virtual hosts on the port)`);
        const host = address.host === '*' ? '' : address.host;
        const key = `${host}|${address.port}`;
        if (address.port !== 0 && this.listenKeys.has(key)) return this.error(node, `Cannot define multiple Listeners on the same IP:port (${node.args[0]})`);
        this.listenKeys.add(key);
        this.listeners.push({ host, port: address.port, origin: origin(node) });
      },
    },
    servername: {
      contexts: ['server', 'vhost'],
      args: [1, 1],
      apply: (node, scope) => {
        const name = node.args[0]!.replace(/^[a-z]+:\/\//i, '').replace(/:\d+$/, '');
        scope.vhost.serverName = name.toLowerCase();
      },
    },
    serveralias: { contexts: ['vhost'], args: [1, Infinity], apply: (node, scope) => scope.vhost.serverAliases.push(...node.args.map((a) => a.toLowerCase())) },
    serveradmin: { contexts: ['server', 'vhost'], args: [1, 1], apply: (node, scope) => (scope.vhost.serverAdmin = node.args[0]!) },
    documentroot: {
      contexts: ['server', 'vhost'],
      args: [1, 1],
      apply: (node, scope) => {
        scope.vhost.documentRoot = this.resolvePath(node.args[0]!).replace(/\/+$/, '') || '/';
        this.vhostDocumentRootSet.add(scope.vhost);
      },
    },
    directoryindex: {
      contexts: ['server', 'vhost', 'section'],
      args: [1, Infinity],
      // Within one context the lists add up (mod_dir); "disabled" clears it.
      apply: (node, scope) => (scope.settings.directoryIndex = node.args.length === 1 && node.args[0]!.toLowerCase() === 'disabled' ? [] : [...(scope.settings.directoryIndex ?? []), ...node.args]),
    },
    alias: {
      contexts: ['server', 'vhost'],
      args: [2, 2],
      usage: 'Alias URL-path file-path',
      apply: (node, scope) => scope.vhost.aliases.push({ urlPrefix: node.args[0]!, pattern: null, target: this.resolvePath(node.args[1]!), origin: origin(node) }),
    },
    aliasmatch: {
      contexts: ['server', 'vhost'],
      args: [2, 2],
      usage: 'AliasMatch regex file-path',
      apply: (node, scope) => {
        const pattern = this.regex(node, node.args[0]!);
        if (pattern !== null) scope.vhost.aliases.push({ urlPrefix: '', pattern, target: node.args[1]!.startsWith('/') ? node.args[1]! : this.resolvePath(node.args[1]!), origin: origin(node) });
      },
    },
    options: { contexts: ['server', 'vhost', 'section'], args: [1, Infinity], apply: (node, scope) => this.options(node, scope) },
    allowoverride: {
      contexts: ['section'],
      args: [1, Infinity],
      apply: (node) => {
        if (node.args.length !== 1 || node.args[0]!.toLowerCase() !== 'none') this.warn(node, 'wsgi-host does not read .htaccess files; this has no effect');
      },
    },
    setenv: {
      contexts: ['server', 'vhost', 'section'],
      args: [1, 2],
      apply: (node, scope) => (scope.settings.envOps = [...(scope.settings.envOps ?? []), { op: 'set', name: node.args[0]!, value: node.args[1] ?? '' }]),
    },
    passenv: {
      contexts: ['server', 'vhost', 'section'],
      args: [1, Infinity],
      // The server's own value when it starts, as mod_env reads it.
      apply: (node, scope) => {
        const ops = [...(scope.settings.envOps ?? [])];
        for (const name of node.args) {
          const value = this.env[name];
          if (value === undefined) this.warn(node, `the environment variable ${name} is not set for the server, so it is not passed on`);
          else ops.push({ op: 'set', name, value });
        }
        scope.settings.envOps = ops;
      },
    },
    unsetenv: {
      contexts: ['server', 'vhost', 'section'],
      args: [1, Infinity],
      apply: (node, scope) => (scope.settings.envOps = [...(scope.settings.envOps ?? []), ...node.args.map((name) => ({ op: 'unset' as const, name }))]),
    },
    errorlog: {
      contexts: ['server', 'vhost'],
      args: [1, 1],
      apply: (node, scope) => {
        const target = this.logTarget(node, node.args[0]!);
        if (target === null) return;
        scope.vhost.errorLog = target;
        if (scope.level === 'server') this.mainErrorLogSet = true;
        else this.vhostErrorLogSet.add(scope.vhost);
      },
    },
    logformat: {
      contexts: ['server', 'vhost'],
      args: [1, 2],
      usage: 'LogFormat format [nickname]',
      apply: (node) => {
        const format = node.args[0]!;
        try {
          compileLogFormat(this.logFormats.get(format) ?? format);
        } catch (err) {
          return this.error(node, (err as Error).message);
        }
        if (node.args[1] !== undefined) this.logFormats.set(node.args[1], this.logFormats.get(format) ?? format);
        else this.defaultFormat = this.logFormats.get(format) ?? format;
      },
    },
    customlog: {
      contexts: ['server', 'vhost'],
      args: [2, 3],
      usage: 'CustomLog file format|nickname [env=...]',
      apply: (node, scope) => {
        if (node.args[2] !== undefined) return this.unsupported(node, 'conditional logging (env=...) is not supported');
        const target = this.logTarget(node, node.args[0]!);
        if (target === null) return;
        // A nickname may be defined by a LogFormat further down: resolved at the end.
        const log = { target, format: node.args[1]! };
        scope.vhost.accessLogs.push(log);
        this.pendingFormats.push({ log, node });
      },
    },
    transferlog: {
      contexts: ['server', 'vhost'],
      args: [1, 1],
      apply: (node, scope) => {
        const target = this.logTarget(node, node.args[0]!);
        if (target === null) return;
        // The format of the last LogFormat without a nickname, once every LogFormat is read.
        const log = { target, format: '\0default' };
        scope.vhost.accessLogs.push(log);
        this.pendingFormats.push({ log, node });
      },
    },
    loglevel: {
      contexts: ['server', 'vhost', 'section'],
      args: [1, Infinity],
      usage: 'LogLevel [module:]level ...',
      apply: (node, scope) => {
        if (scope.level === 'section') return this.unsupported(node, 'a per-directory LogLevel is not supported: set LogLevel for the server or the virtual host');
        for (const arg of node.args) {
          const colon = arg.indexOf(':');
          const level = (colon >= 0 ? arg.slice(colon + 1) : arg).toLowerCase().replace(/^trace[1-8]$/, 'debug');
          if (!isLogLevel(level)) return this.error(node, `unknown level "${arg}"; levels are emerg, alert, crit, error, warn, notice, info, debug (and trace1-8, treated as debug)`);
          if (colon >= 0) {
            scope.vhost.moduleLogLevels = { ...scope.vhost.moduleLogLevels, [arg.slice(0, colon)]: level as LogLevelName };
          } else {
            // A plain level resets the module levels set before it (httpd's set_loglevel).
            scope.vhost.logLevel = level as LogLevelName;
            scope.vhost.moduleLogLevels = {};
            this.vhostPlainLevelSet.add(scope.vhost);
          }
        }
        this.vhostLogLevelSet.add(scope.vhost);
      },
    },
    gracefulshutdowntimeout: { contexts: ['server'], args: [1, 1], apply: (node) => this.setNumber(node, (n) => (this.shutdownTimeout = n)) },
    timeout: { contexts: ['server', 'vhost'], args: [1, 1], apply: (node, scope) => this.serverWide(node, scope, () => this.setNumber(node, (n) => (this.timeouts.socket = n), 1)) },
    keepalive: {
      contexts: ['server', 'vhost'],
      args: [1, 1],
      apply: (node, scope) =>
        this.serverWide(node, scope, () => {
          const on = this.flag(node);
          if (on !== null) this.timeouts.keepAlive = on;
        }),
    },
    keepalivetimeout: { contexts: ['server', 'vhost'], args: [1, 1], apply: (node, scope) => this.serverWide(node, scope, () => this.setNumber(node, (n) => (this.timeouts.keepAliveTimeout = n))) },
    maxkeepaliverequests: { contexts: ['server', 'vhost'], args: [1, 1], apply: (node, scope) => this.serverWide(node, scope, () => this.setNumber(node, (n) => (this.timeouts.maxKeepAliveRequests = n))) },
    requestreadtimeout: {
      contexts: ['server', 'vhost'],
      args: [1, 3],
      usage: 'RequestReadTimeout [handshake=SECONDS[-MAX][,MinRate=BYTES]] [header=...] [body=...]',
      apply: (node, scope) =>
        this.serverWide(node, scope, () => {
          const parsed = parseRequestReadTimeout(node.args, this.timeouts.requestRead);
          if ('error' in parsed) return this.error(node, parsed.error);
          this.timeouts.requestRead = parsed;
        }),
    },
    sslengine: {
      contexts: ['vhost'],
      args: [1, 1],
      apply: (node, scope) => {
        const value = node.args[0]!.toLowerCase();
        if (value === 'optional') return this.unsupported(node, 'SSLEngine optional (TLS upgrade) is not supported; use On or Off');
        const on = this.flag(node);
        if (on === null) return;
        if (on) this.sslEngines.set(scope.vhost, node);
        else this.sslEngines.delete(scope.vhost);
      },
    },
    ssloptions: {
      contexts: ['server', 'vhost'],
      args: [1, Infinity],
      apply: (node, scope) => {
        for (const option of node.args) {
          const name = option.replace(/^[+-]/, '').toLowerCase();
          if (name !== 'stdenvvars') {
            this.unsupported(node, `SSLOptions ${option} is not supported (only StdEnvVars is)`);
            continue;
          }
          scope.vhost.sslEnvironment = !option.startsWith('-');
        }
      },
    },
    sslcertificatefile: { contexts: ['server', 'vhost'], args: [1, 1], apply: (node, scope) => this.sslFiles(scope.vhost).set('cert', { path: this.resolvePath(node.args[0]!), node }) },
    sslcertificatekeyfile: { contexts: ['server', 'vhost'], args: [1, 1], apply: (node, scope) => this.sslFiles(scope.vhost).set('key', { path: this.resolvePath(node.args[0]!), node }) },
    sslcertificatechainfile: { contexts: ['server', 'vhost'], args: [1, 1], apply: (node, scope) => this.sslFiles(scope.vhost).set('chain', { path: this.resolvePath(node.args[0]!), node }) },
    maxrequestworkers: { contexts: ['server'], args: [1, 1], apply: (node) => this.setNumber(node, (n) => (this.limits.maxConnections = n), 1) },
    maxclients: { contexts: ['server'], args: [1, 1], apply: (node) => this.setNumber(node, (n) => (this.limits.maxConnections = n), 1) },
    listenbacklog: { contexts: ['server'], args: [1, 1], apply: (node) => this.setNumber(node, (n) => (this.limits.listenBacklog = n), 1) },
    limitrequestbody: { contexts: ['server', 'vhost', 'section'], args: [1, 1], apply: (node, scope) => this.setNumber(node, (n) => (scope.settings.limitRequestBody = n)) },
    // wsgi-host's own (mod_wsgi makes the thread wait for a slow client).
    wsgiresponsespoollimit: { contexts: ['server', 'vhost', 'section'], args: [1, 1], apply: (node, scope) => this.setNumber(node, (n) => (scope.settings.responseSpoolLimit = n)) },
    limitrequestfields: { contexts: ['server', 'vhost'], args: [1, 1], apply: (node, scope) => this.serverWide(node, scope, () => this.setNumber(node, (n) => (this.limits.requestFields = n))) },
    limitrequestfieldsize: { contexts: ['server', 'vhost'], args: [1, 1], apply: (node, scope) => this.serverWide(node, scope, () => this.setNumber(node, (n) => (this.limits.requestFieldSize = n), 1)) },
    limitrequestline: { contexts: ['server', 'vhost'], args: [1, 1], apply: (node, scope) => this.serverWide(node, scope, () => this.setNumber(node, (n) => (this.limits.requestLine = n), 1)) },
    addtype: {
      contexts: ['server', 'vhost', 'section'],
      args: [2, Infinity],
      usage: 'AddType media-type extension ...',
      apply: (node, scope) => {
        const [type, ...exts] = node.args;
        const map = { ...scope.settings.addTypes };
        for (const ext of exts) map[ext.replace(/^\./, '').toLowerCase()] = type!;
        scope.settings.addTypes = map;
      },
    },
    addhandler: {
      contexts: ['server', 'vhost', 'section'],
      args: [2, Infinity],
      usage: 'AddHandler handler extension ...',
      apply: (node, scope) => {
        const [handler, ...exts] = node.args;
        const map = { ...scope.settings.addHandlers };
        for (const ext of exts) map[ext.replace(/^\./, '').toLowerCase()] = handler!;
        scope.settings.addHandlers = map;
      },
    },
    sethandler: {
      contexts: ['server', 'vhost', 'section'],
      args: [1, 1],
      apply: (node, scope) => (scope.settings.setHandler = node.args[0]!.toLowerCase() === 'none' ? null : node.args[0]!),
    },
    user: { contexts: ['server'], args: [1, 1], apply: (node) => (this.user = node.args[0]!) },
    group: { contexts: ['server'], args: [1, 1], apply: (node) => (this.group = node.args[0]!) },
    usecanonicalname: {
      contexts: ['server', 'vhost', 'section'],
      args: [1, 1],
      apply: (node) => {
        if (node.args[0]!.toLowerCase() !== 'off') this.unsupported(node, 'only "UseCanonicalName Off" (the default) is supported');
      },
    },
    adddefaultcharset: {
      contexts: ['server', 'vhost', 'section'],
      args: [1, 1],
      apply: (node) => {
        if (node.args[0]!.toLowerCase() !== 'off') this.unsupported(node, 'only "AddDefaultCharset Off" (the default) is supported');
      },
    },

    // -- mod_wsgi --------------------------------------------------------------------------
    wsgiscriptalias: {
      contexts: ['server', 'vhost'],
      args: [2, Infinity],
      usage: 'WSGIScriptAlias URL-path file-path [process-group=...] [application-group=...] [callable-object=...] [pass-authorization=On|Off]',
      apply: (node, scope) => {
        const [url, target, ...opts] = node.args;
        const alias: ScriptAlias = { urlPrefix: url === '/' ? '' : url!, pattern: null, target: this.resolvePath(target!), processGroup: null, applicationGroup: null, callableObject: null, passAuthorization: null, origin: origin(node) };
        if (!this.scriptAliasOptions(node, alias, opts, ['process-group', 'application-group', 'callable-object', 'pass-authorization'])) return;
        scope.vhost.scriptAliases.push(alias);
        this.preloadIfNamed(alias, alias.target);
      },
    },
    wsgiscriptaliasmatch: {
      contexts: ['server', 'vhost'],
      args: [2, Infinity],
      usage: 'WSGIScriptAliasMatch regex file-path [options]',
      apply: (node, scope) => {
        const [regex, target, ...opts] = node.args;
        const pattern = this.regex(node, regex!);
        if (pattern === null) return;
        const alias: ScriptAlias = { urlPrefix: '', pattern, target: target!.startsWith('/') ? target! : this.resolvePath(target!), processGroup: null, applicationGroup: null, callableObject: null, passAuthorization: null, origin: origin(node) };
        if (!this.scriptAliasOptions(node, alias, opts, ['process-group', 'application-group', 'callable-object', 'pass-authorization'])) return;
        scope.vhost.scriptAliases.push(alias);
        // A target with $n substitutions names no single file to preload.
        if (!alias.target.includes('$')) this.preloadIfNamed(alias, alias.target);
      },
    },
    wsgihandlerscript: {
      contexts: ['server', 'vhost', 'section'],
      args: [2, Infinity],
      usage: 'WSGIHandlerScript name file-path [process-group=...] [application-group=...] [pass-authorization=On|Off]',
      apply: (node, scope) => {
        const [name, script, ...opts] = node.args;
        const handler: HandlerScript = { name: name!, script: this.resolvePath(script!), processGroup: null, applicationGroup: null, passAuthorization: null };
        if (!this.scriptAliasOptions(node, handler, opts, ['process-group', 'application-group', 'pass-authorization'])) return;
        scope.settings.handlerScripts = { ...scope.settings.handlerScripts, [handler.name]: handler };
      },
    },
    wsgidaemonprocess: {
      contexts: ['server', 'vhost'],
      args: [1, Infinity],
      usage: 'WSGIDaemonProcess name [option=value ...]',
      apply: (node, scope) => {
        const [name, ...opts] = node.args;
        if (name!.trim() === '') return this.error(node, 'Name of WSGI daemon process not supplied: give the group a name');
        if (name!.startsWith('%{')) return this.error(node, `a daemon process group cannot be called "${name}"`);
        if (this.groups.some((g) => g.name === name)) return this.error(node, `Name duplicates previous WSGI daemon definition: '${name}'`);
        const group = defaultProcessGroup(name!, this.python.defaultInterpreter);
        group.origin = origin(node);
        group.scope = scope.level === 'vhost' ? '\0pending' : null;
        for (const option of opts) {
          const problem = applyDaemonOption(group, option, { resolvePath: (v) => this.resolvePath(v), warn: (m) => this.warn(node, m) });
          if (problem !== null) return this.error(node, problem);
        }
        this.groups.push(group);
        if (scope.level === 'vhost') this.scopedGroups.push({ group, vhost: scope.vhost });
      },
    },
    wsgiprocessgroup: {
      contexts: ['server', 'vhost', 'section'],
      args: [1, 1],
      apply: (node, scope) => {
        scope.settings.processGroup = node.args[0]!;
        if (!node.args[0]!.startsWith('%{')) this.groupReferences.push({ name: node.args[0]!, loc: node.loc, directive: node.name });
      },
    },
    wsgiapplicationgroup: { contexts: ['server', 'vhost', 'section'], args: [1, 1], apply: (node, scope) => (scope.settings.applicationGroup = node.args[0]!) },
    wsgicallableobject: { contexts: ['server', 'vhost', 'section'], args: [1, 1], apply: (node, scope) => (scope.settings.callableObject = node.args[0]!) },
    wsgirestrictprocess: { contexts: ['server', 'vhost', 'section'], args: [1, Infinity], apply: (node, scope) => (scope.settings.restrictProcess = node.args) },
    wsgimapheadtoget: {
      contexts: ['server', 'vhost', 'section'],
      args: [1, 1],
      apply: (node, scope) => {
        const value = node.args[0]!.toLowerCase();
        if (value !== 'on' && value !== 'off' && value !== 'auto') return this.error(node, `takes On, Off or Auto, not "${node.args[0]}"`);
        scope.settings.mapHeadToGet = value;
      },
    },
    wsgitrustedproxyheaders: { contexts: ['server', 'vhost', 'section'], args: [1, Infinity], apply: (node, scope) => (scope.settings.trustedProxyHeaders = node.args.map(proxyHeaderEnvironName)) },
    wsgitrustedproxies: {
      contexts: ['server', 'vhost', 'section'],
      args: [1, Infinity],
      apply: (node, scope) => {
        for (const entry of node.args) {
          const parsed = parseProxyEntry(entry);
          if (!parsed.ok) return this.error(node, `takes IP addresses and subnets: ${parsed.reason}`);
        }
        scope.settings.trustedProxies = node.args;
      },
    },
    wsgisocketprefix: { contexts: ['server'], args: [1, 1], apply: (node) => (this.socketPrefix = this.resolvePath(node.args[0]!)) },
    wsgipythonhome: { contexts: ['server'], args: [1, 1], apply: (node) => (this.python.home = this.resolvePath(node.args[0]!.split(':')[0]!)) },
    wsgipythonpath: { contexts: ['server'], args: [1, 1], apply: (node) => this.python.path.push(...node.args[0]!.split(':').filter((p) => p !== '').map((p) => this.resolvePath(p))) },
    wsgipythonoptimize: {
      contexts: ['server'],
      args: [1, 1],
      apply: (node) => {
        const n = Number(node.args[0]);
        if (![0, 1, 2].includes(n)) return this.error(node, `takes 0, 1 or 2, not "${node.args[0]}"`);
        this.python.optimize = n;
      },
    },
    wsgipythonhashseed: {
      contexts: ['server'],
      args: [1, 1],
      apply: (node) => {
        const value = node.args[0]!;
        if (value !== 'random' && !(/^\d+$/.test(value) && Number(value) <= 4294967295)) return this.error(node, `takes "random" or a number from 0 to 4294967295, not "${value}"`);
        this.python.hashSeed = value;
      },
    },
    wsgipythonwarnings: { contexts: ['server'], args: [1, 1], apply: (node) => this.python.warnings.push(node.args[0]!) },
    wsgislowrequests: {
      contexts: ['server'],
      args: [1, 1],
      usage: 'WSGISlowRequests SECONDS',
      apply: (node) => {
        const seconds = Number(node.args[0]);
        if (node.args[0]!.trim() === '' || !Number.isFinite(seconds) || seconds < 0) return this.error(node, `takes a number of seconds (0 or more), not "${node.args[0]}"`);
        this.slowRequests = seconds;
      },
    },
    wsgifrontendpriority: {
      contexts: ['server'],
      args: [1, 1],
      usage: 'WSGIFrontEndPriority NICE',
      apply: (node) => {
        const nice = niceValueNamed(node.args[0]!);
        if (nice === null) return this.error(node, `takes a nice value from ${NICE_MIN} to ${NICE_MAX}, not "${node.args[0]}"`);
        this.frontEndPriority = nice;
      },
    },
    wsgifrontendschedulingpolicy: {
      contexts: ['server'],
      args: [1, 1],
      usage: 'WSGIFrontEndSchedulingPolicy batch|normal',
      apply: (node) => {
        const policy = schedulingPolicyNamed(node.args[0]!);
        if (policy === null) return this.error(node, `takes batch or normal, not "${node.args[0]}"`);
        this.frontEndSchedulingPolicy = policy;
      },
    },
    wsgidontwritebytecode: {
      contexts: ['server'],
      args: [1, 1],
      apply: (node) => {
        const on = this.flag(node);
        if (on !== null) this.python.dontWriteBytecode = on;
      },
    },
    wsgirestrictembedded: {
      contexts: ['server'],
      args: [1, 1],
      apply: (node) => {
        const on = this.flag(node);
        if (on !== null) this.python.restrictEmbedded = on;
      },
    },
    wsgirestrictstdin: { contexts: ['server'], args: [1, 1], apply: (node) => this.pythonFlag(node, 'restrictStdin') },
    wsgirestrictstdout: { contexts: ['server'], args: [1, 1], apply: (node) => this.pythonFlag(node, 'restrictStdout') },
    wsgirestrictsignal: { contexts: ['server'], args: [1, 1], apply: (node) => this.pythonFlag(node, 'restrictSignal') },
    wsgiimportscript: {
      contexts: ['server', 'vhost'],
      args: [3, 3],
      usage: 'WSGIImportScript file-path process-group=NAME application-group=NAME',
      apply: (node, scope) => {
        const [script, ...opts] = node.args;
        let processGroup: string | null = null;
        let applicationGroup: string | null = null;
        for (const option of opts) {
          const eq = option.indexOf('=');
          const [name, value] = eq > 0 ? [option.slice(0, eq).toLowerCase(), option.slice(eq + 1)] : [option, ''];
          if (name === 'process-group') processGroup = value;
          else if (name === 'application-group') applicationGroup = value;
          else return this.error(node, `Invalid option to WSGI import script definition: '${option}'. Allowed: process-group=, application-group=`);
        }
        if (processGroup === null || processGroup === '') return this.error(node, 'Name of WSGI daemon process group required (process-group=NAME).');
        if (applicationGroup === null) return this.error(node, 'Name of WSGI application group required (application-group=NAME).');
        const group = this.groups.find((g) => g.name === processGroup);
        if (processGroup !== '%{GLOBAL}' && group === undefined) {
          return this.error(node, `no WSGIDaemonProcess called '${processGroup}' is defined before this line; define the group first`);
        }
        if (group !== undefined && scope.level === 'vhost' && this.scopedGroups.some((g) => g.group === group && g.vhost !== scope.vhost)) {
          return this.error(node, `the daemon process group '${processGroup}' belongs to another virtual host and cannot be used here`);
        }
        this.importScripts.push({ script: this.resolvePath(script!), processGroup, applicationGroup });
      },
    },
  };

  private readonly scopedGroups: { group: ProcessGroupConfig; vhost: VirtualHostConfig }[] = [];
  /** Virtual hosts with SSLEngine On, and the SSLCertificate* files of each server (a virtual host inherits the main server's). */
  private readonly sslEngines = new Map<VirtualHostConfig, DirectiveNode>();
  private readonly sslFileSets = new Map<VirtualHostConfig, Map<'cert' | 'key' | 'chain', { path: string; node: DirectiveNode }>>();

  private sslFiles(vhost: VirtualHostConfig): Map<'cert' | 'key' | 'chain', { path: string; node: DirectiveNode }> {
    let files = this.sslFileSets.get(vhost);
    if (files === undefined) {
      files = new Map();
      this.sslFileSets.set(vhost, files);
    }
    return files;
  }

  /** SSLEngine On needs a certificate and its key, from the virtual host or the main server. */
  private resolveTls(): void {
    const main = this.sslFileSets.get(this.main);
    for (const [vhost, node] of this.sslEngines) {
      const own = this.sslFileSets.get(vhost);
      const file = (kind: 'cert' | 'key' | 'chain'): { path: string; node: DirectiveNode } | undefined => own?.get(kind) ?? main?.get(kind);
      const cert = file('cert');
      const key = file('key');
      if (cert === undefined) {
        this.error(node, 'SSLEngine On needs SSLCertificateFile (in this <VirtualHost> or the main server)');
        continue;
      }
      const where = `${path.basename(cert.node.loc.file)}:${cert.node.loc.line}`;
      vhost.tls = { certificateFile: cert.path, keyFile: key?.path ?? cert.path, chainFile: file('chain')?.path ?? null, where };
    }
    for (const [vhost, files] of this.sslFileSets) {
      if (vhost !== this.main && !this.sslEngines.has(vhost)) {
        const node = files.values().next().value!.node;
        this.warn(node, 'SSL certificate files without SSLEngine On in this <VirtualHost> have no effect');
      }
    }
  }

  /**
   * mod_wsgi's rule: a script alias naming both its process group and its application group
   * is preloaded, once %{GLOBAL} is read as "" and unless either still holds a %{...}.
   */
  private preloadIfNamed(alias: ScriptAlias, script: string): void {
    if (alias.processGroup === null || alias.applicationGroup === null) return;
    const processGroup = alias.processGroup === '%{GLOBAL}' ? '' : alias.processGroup;
    const applicationGroup = alias.applicationGroup === '%{GLOBAL}' ? '' : alias.applicationGroup;
    if (processGroup.includes('%{') || applicationGroup.includes('%{')) return;
    this.importScripts.push({ script, processGroup: alias.processGroup, applicationGroup: alias.applicationGroup });
  }

  /** Timeout, KeepAlive* and LimitRequest{Line,Fields,FieldSize} are server-wide in wsgi-host. */
  private serverWide(node: DirectiveNode, scope: Scope, apply: () => void): void {
    if (scope.level === 'vhost') return this.unsupported(node, `${node.name} per virtual host is not supported: wsgi-host applies it to the whole server; set it outside <VirtualHost>`);
    apply();
  }

  private pythonFlag(node: DirectiveNode, key: 'restrictStdin' | 'restrictStdout' | 'restrictSignal'): void {
    const on = this.flag(node);
    if (on !== null) this.python[key] = on;
  }

  private setNumber(node: DirectiveNode, set: (n: number) => void, min = 0): void {
    const n = this.number(node, node.args[0]!, min);
    if (n !== null) set(n);
  }

  private regex(node: DirectiveNode, source: string): RegExp | null {
    try {
      return new RegExp(source);
    } catch (err) {
      this.error(node, `invalid regular expression "${source}": ${(err as Error).message}`);
      return null;
    }
  }

  private options(node: DirectiveNode, scope: Scope): void {
    const known: Record<string, keyof OptionFlags> = { indexes: 'indexes', followsymlinks: 'followSymlinks', execcgi: 'execCgi' };
    const change: OptionsChange = { set: null, add: [], remove: [] };
    const relative = node.args.filter((a) => a.startsWith('+') || a.startsWith('-'));
    if (relative.length > 0 && relative.length !== node.args.length) {
      return this.error(node, 'Either all Options must start with + or -, or no Option may');
    }
    if (relative.length === 0) change.set = { indexes: false, followSymlinks: false, execCgi: false };
    for (const arg of node.args) {
      const sign = arg[0] === '+' || arg[0] === '-' ? arg[0] : '';
      const name = (sign ? arg.slice(1) : arg).toLowerCase();
      if (name === 'none' && !sign) continue;
      if (name === 'all') {
        for (const flag of Object.values(known)) {
          if (sign === '-') change.remove.push(flag);
          else if (sign === '+') change.add.push(flag);
          else change.set![flag] = true;
        }
        continue;
      }
      const flag = known[name];
      if (flag === undefined) {
        if (['multiviews', 'includes', 'includesnoexec', 'symlinksifownermatch'].includes(name)) {
          this.unsupported(node, `option ${arg} is not supported by wsgi-host (Indexes, FollowSymLinks and ExecCGI are)`);
          continue;
        }
        return this.error(node, `Illegal option ${arg}; allowed: None, All, Indexes, FollowSymLinks, ExecCGI (with + or - to change the inherited set)`);
      }
      if (sign === '-') change.remove.push(flag);
      else if (sign === '+') change.add.push(flag);
      else change.set![flag] = true;
    }
    scope.settings.options = [...(scope.settings.options ?? []), change];
  }

  // -- finishing ---------------------------------------------------------------------------

  private configWarning(message: string, loc: SourceLocation | Origin | null, directive: string): void {
    this.warnings.push({ file: loc?.file ?? this.configFile, line: loc?.line ?? 0, directive, message });
  }

  finish(): ServerConfig | null {
    this.resolveTls();
    for (const { log, node } of this.pendingFormats) {
      const format = log.format === '\0default' ? this.defaultFormat : (this.logFormats.get(log.format) ?? log.format);
      try {
        compileLogFormat(format);
        log.format = format;
      } catch (err) {
        this.error(node, `${(err as Error).message}; give a LogFormat string or a nickname defined with LogFormat`);
      }
    }
    if (this.errors.length > 0) return null;
    if (this.listeners.length === 0) {
      this.errors.push({ file: this.configFile, line: 0, directive: 'Listen', message: 'no Listen directive: the server would listen on no port; add e.g. "Listen 8080"' });
      return null;
    }
    // As httpd does once everything is read: a virtual host without ServerName takes the main server's.
    for (const vhost of this.vhosts) if (vhost.serverName === '') vhost.serverName = this.main.serverName;
    for (const { group, vhost } of this.scopedGroups) group.scope = vhost.serverName;
    const flags = interpreterFlags(this.python);
    for (const group of this.groups) {
      group.interpreterFlags = flags;
      if (this.python.home !== null && group.python === this.python.defaultInterpreter) group.python = path.join(this.python.home, 'bin', 'python3');
      if (this.python.hashSeed !== null) group.environment['PYTHONHASHSEED'] = this.python.hashSeed;
      if (group.user === null) group.user = this.user;
      if (group.group === null) group.group = this.group;
    }
    for (const reference of this.groupReferences) {
      if (!this.groups.some((g) => g.name === reference.name)) {
        this.configWarning(`no WSGIDaemonProcess called '${reference.name}' is defined: requests for it will get 500 (WSGI0150)`, reference.loc, reference.directive);
      }
    }
    for (const script of this.importScripts) {
      const group = this.groups.find((g) => g.name === script.processGroup);
      const applicationGroup = script.applicationGroup === '%{GLOBAL}' ? '' : script.applicationGroup;
      if (group !== undefined && !group.preload.some((p) => p.script === script.script && p.applicationGroup === applicationGroup)) {
        group.preload.push({ script: script.script, applicationGroup });
      }
    }
    const main = this.main;
    if (!this.mainErrorLogSet && main.errorLog.kind === 'file' && main.errorLog.path === '') main.errorLog = { kind: 'file', path: path.join(this.serverRoot, 'logs', 'error_log') };
    for (const vhost of this.vhosts) {
      // A virtual host inherits what it does not set from the main server, as in Apache.
      if (!this.vhostErrorLogSet.has(vhost)) vhost.errorLog = main.errorLog;
      if (!this.vhostDocumentRootSet.has(vhost)) vhost.documentRoot = main.documentRoot;
      // httpd's ap_merge_log_config: the main server's level unless the virtual host sets a
      // plain one; module levels the virtual host does not set come from the main server.
      if (!this.vhostPlainLevelSet.has(vhost)) {
        vhost.logLevel = main.logLevel;
        vhost.moduleLogLevels = { ...main.moduleLogLevels, ...vhost.moduleLogLevels };
      }
      if (vhost.accessLogs.length === 0) vhost.accessLogs = main.accessLogs;
      if (vhost.serverAdmin === null) vhost.serverAdmin = main.serverAdmin;
      if (vhost.sslEnvironment === undefined && main.sslEnvironment !== undefined) vhost.sslEnvironment = main.sslEnvironment;
      vhost.aliases = [...vhost.aliases, ...main.aliases];
      vhost.scriptAliases = [...vhost.scriptAliases, ...main.scriptAliases];
      vhost.sections = [...main.sections, ...vhost.sections];
      vhost.settings = mergeSettings(main.settings, vhost.settings);
      for (const address of vhost.addresses) {
        if (!this.listeners.some((l) => address.port === 0 || l.port === address.port)) {
          this.configWarning(`no Listen directive covers port ${address.port}: this virtual host will never be used`, { file: this.configFile, line: 0 }, '<VirtualHost>');
        }
      }
    }
    return {
      configFile: this.configFile,
      serverRoot: this.serverRoot,
      socketPrefix: this.socketPrefix ?? path.join(this.serverRoot, 'logs', 'wsgi'),
      listeners: withoutCoveredListeners(this.listeners),
      mainServer: main,
      virtualHosts: this.vhosts,
      processGroups: this.groups,
      python: this.python,
      importScripts: this.importScripts,
      limits: this.limits,
      timeouts: this.timeouts,
      user: this.user,
      group: this.group,
      shutdownTimeout: this.shutdownTimeout,
      warnings: this.warnings.map(formatProblem),
      slowRequests: this.slowRequests,
      frontEndPriority: this.frontEndPriority,
      frontEndSchedulingPolicy: this.frontEndSchedulingPolicy,
    };
  }
}

/** A virtual host's own settings on top of the main server's. */
export function mergeSettings(base: DirectorySettings, over: DirectorySettings): DirectorySettings {
  const merged: DirectorySettings = { ...base, ...over };
  if (base.options !== undefined || over.options !== undefined) merged.options = [...(base.options ?? []), ...(over.options ?? [])];
  if (base.addTypes !== undefined || over.addTypes !== undefined) merged.addTypes = { ...base.addTypes, ...over.addTypes };
  if (base.addHandlers !== undefined || over.addHandlers !== undefined) merged.addHandlers = { ...base.addHandlers, ...over.addHandlers };
  if (base.handlerScripts !== undefined || over.handlerScripts !== undefined) merged.handlerScripts = { ...base.handlerScripts, ...over.handlerScripts };
  if (base.envOps !== undefined || over.envOps !== undefined) merged.envOps = [...(base.envOps ?? []), ...(over.envOps ?? [])];
  return merged;
}

function origin(node: ConfigNode): Origin {
  return { file: node.loc.file, line: node.loc.line };
}

function displayName(node: ConfigNode): string {
  return node.kind === 'section' ? `<${node.name}>` : node.name;
}

function describeLevel(level: Level): string {
  return level === 'server' ? 'at server level' : level === 'vhost' ? 'in <VirtualHost>' : 'in <Directory>/<Location>/<Files>';
}

/**
 * "*:80", "127.0.0.1:8080", "[::1]:80", "8080" (defaultPort -1: a bare port is allowed, and a
 * missing port comes back as -1), "*". For virtual host addresses `resolveLocalhost` maps
 * localhost to the address connections arrive on.
 */
function parseAddress(text: string, defaultPort: number, resolveLocalhost = true): { host: string; port: number } | null {
  if (/^\d+$/.test(text)) return defaultPort === -1 ? { host: '*', port: Number(text) } : null;
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::(\d+|\*))?$/.exec(text);
  if (v6 !== null) return { host: v6[1]!, port: v6[2] === undefined ? defaultPort === -1 ? -1 : 0 : v6[2] === '*' ? 0 : Number(v6[2]) };
  const match = /^([^:[\]]+)(?::(\d+|\*))?$/.exec(text);
  if (match === null) return null;
  let host = match[1]!;
  if (host === 'localhost' && resolveLocalhost) host = '127.0.0.1';
  return { host, port: match[2] === undefined || match[2] === '*' ? (defaultPort === -1 ? -1 : 0) : Number(match[2]) };
}
