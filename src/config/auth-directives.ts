import * as fs from 'node:fs';
import { parseIpSubnet } from '../auth/ip-match';
import type { ConfigNode, DirectiveNode, SectionNode } from './apache';
import { splitModWsgiArgs } from './mod-wsgi-args';
import type { AuthLayer, AuthnProvider, HookScriptConfig, RequireContainer, RequireLine } from './auth-model';
import type { DirectorySettings } from './model';

/**
 * Reads the access control directives of a configuration file: Apache's AuthType, AuthName,
 * Auth*Provider, Require and its containers, AuthMerging, the mod_auth_digest settings, and
 * mod_wsgi's WSGIAccessScript, WSGIAuthUserScript and WSGIAuthGroupScript. As in Apache they are
 * per-directory directives (AuthConfig): allowed in <Directory>, <Location> and <Files>
 * sections only.
 */

export type Level = 'server' | 'vhost' | 'section';

export interface AuthScope {
  level: Level;
  settings: DirectorySettings;
  /** The <RequireAll>/<RequireAny>/<RequireNone> being read, if any. */
  requireContainer: RequireContainer | null;
}

/** What the reader of the file offers these directives. */
export interface AuthDirectiveHost {
  error(node: ConfigNode, message: string): void;
  warn(node: ConfigNode, message: string): void;
  unsupported(node: ConfigNode, message: string): void;
  resolvePath(value: string): string;
  flag(node: DirectiveNode): boolean | null;
  /** <AuthnProviderAlias wsgi|file NAME> sections read so far. */
  authnAliases: Map<string, AuthnProvider>;
}

export interface AuthHandler {
  contexts: Level[];
  args?: [number, number];
  usage?: string;
  apply: (node: DirectiveNode, scope: AuthScope) => void;
}

/** Modules wsgi-host provides for <IfModule>, under Apache's names. */
export const AUTH_MODULES = ['authn_core', 'authn_file', 'auth_basic', 'auth_digest', 'authz_user', 'authz_groupfile'];

/** Section names that hold Require lines. */
export const REQUIRE_SECTIONS = new Set(['requireall', 'requireany', 'requirenone']);

/** mod_wsgi's hook script directives read their own arguments (application-group= options). */
export const HOOK_SCRIPT_DIRECTIVES = ['wsgiaccessscript', 'wsgiauthuserscript', 'wsgiauthgroupscript'];

const KNOWN_PROVIDERS = new Set(['all', 'valid-user', 'user', 'group', 'wsgi-group', 'ip', 'host', 'local', 'method']);
const UNSUPPORTED_PROVIDERS = new Set(['env', 'expr', 'forward-dns', 'file-owner', 'file-group', 'dbm-group', 'dbd-group', 'ldap-user', 'ldap-group', 'ldap-dn', 'ldap-attribute', 'ldap-filter', 'ssl', 'ssl-verify-client']);
const UNSUPPORTED_AUTHN = new Set(['dbm', 'dbd', 'ldap', 'socache', 'anon']);
/** Methods Apache knows (ap_method_number_of); HEAD counts as GET. */
const METHODS = new Set([
  'GET', 'PUT', 'POST', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK',
  'UNLOCK', 'VERSION-CONTROL', 'CHECKOUT', 'UNCHECKOUT', 'CHECKIN', 'UPDATE', 'LABEL', 'REPORT', 'MKWORKSPACE', 'MKACTIVITY',
  'BASELINE-CONTROL', 'MERGE',
]);

function layer(scope: AuthScope): AuthLayer {
  scope.settings.auth ??= {};
  return scope.settings.auth;
}

/** The container a Require line or section in `scope` joins: the open container, or the section's own (an implicit <RequireAny>). */
function targetContainer(scope: AuthScope): RequireContainer {
  if (scope.requireContainer !== null) return scope.requireContainer;
  const auth = layer(scope);
  auth.require ??= { kind: 'container', op: 'any', negate: false, children: [], merged: false };
  return auth.require;
}

function containerName(container: RequireContainer): string {
  return container.op === 'all' ? '<RequireAll>' : container.negate ? '<RequireNone>' : '<RequireAny>';
}

export function authDirectiveHandlers(host: AuthDirectiveHost): Record<string, AuthHandler> {
  const section: Level[] = ['section'];
  const providers = (kind: 'Basic' | 'Digest') => (node: DirectiveNode, scope: AuthScope): void => {
    const list: AuthnProvider[] = [];
    for (const written of node.args) {
      const name = written.toLowerCase();
      const alias = host.authnAliases.get(written);
      if (alias !== undefined) list.push(alias);
      else if (name === 'wsgi') list.push({ name, kind: 'wsgi', userScript: null });
      else if (name === 'file') list.push({ name, kind: 'file', userFile: null });
      else if (UNSUPPORTED_AUTHN.has(name)) return host.unsupported(node, `the '${name}' authentication provider is not provided by wsgi-host; use Auth${kind}Provider wsgi with a WSGIAuthUserScript, or file with an AuthUserFile`);
      else return host.error(node, `Unknown Authn provider: ${written}`);
    }
    if (kind === 'Basic') layer(scope).basicProviders = list;
    else layer(scope).digestProviders = list;
  };
  const hookScript = (what: string, set: (auth: AuthLayer, script: HookScriptConfig) => void) => (node: DirectiveNode, scope: AuthScope): void => {
    const script = parseHookScript(host, node, node.args, what);
    if (script !== null) set(layer(scope), script);
  };
  return {
    require: { contexts: section, args: [1, Infinity], apply: (node, scope) => requireLine(host, node, scope) },
    authtype: {
      contexts: section,
      args: [1, 1],
      apply: (node, scope) => {
        const value = node.args[0]!.toLowerCase();
        if (value === 'none') layer(scope).authType = null;
        else if (value === 'basic') layer(scope).authType = 'Basic';
        else if (value === 'digest') layer(scope).authType = 'Digest';
        else host.unsupported(node, `AuthType ${node.args[0]} is not supported by wsgi-host; use Basic, Digest or None`);
      },
    },
    authname: { contexts: section, args: [1, 1], apply: (node, scope) => (layer(scope).authName = node.args[0]!) },
    authbasicprovider: { contexts: section, args: [1, Infinity], apply: providers('Basic') },
    authdigestprovider: { contexts: section, args: [1, Infinity], apply: providers('Digest') },
    authuserfile: { contexts: section, args: [1, 1], apply: (node, scope) => (layer(scope).userFile = host.resolvePath(node.args[0]!)) },
    authgroupfile: { contexts: section, args: [1, 1], apply: (node, scope) => (layer(scope).groupFile = host.resolvePath(node.args[0]!)) },
    authmerging: {
      contexts: section,
      args: [1, 1],
      apply: (node, scope) => {
        const value = node.args[0]!.toLowerCase();
        if (value !== 'off' && value !== 'and' && value !== 'or') return host.error(node, 'AuthMerging must be one of: Off | And | Or');
        layer(scope).merging = value;
      },
    },
    authzsendforbiddenonfailure: {
      contexts: section,
      args: [1, 1],
      apply: (node, scope) => {
        const on = host.flag(node);
        if (on !== null) layer(scope).forbiddenOnFailure = on;
      },
    },
    authbasicauthoritative: {
      contexts: section,
      args: [1, 1],
      apply: (node) => {
        const on = host.flag(node);
        if (on === false) host.unsupported(node, 'AuthBasicAuthoritative Off is not supported: wsgi-host has no other authentication module to pass the request on to');
      },
    },
    authdigestqop: {
      contexts: section,
      args: [1, Infinity],
      // Current Apache 2.4 accepts only qop=auth (RFC 7616 dropped RFC 2069's digests without qop).
      apply: (node) => {
        if (node.args.some((value) => value.toLowerCase() !== 'auth')) host.error(node, "AuthDigestQop is deprecated: only 'auth' is supported");
      },
    },
    authdigestnoncelifetime: {
      contexts: section,
      args: [1, 1],
      apply: (node, scope) => {
        const text = node.args[0]!;
        if (!/^-?\d+$/.test(text)) return host.error(node, `Invalid time in AuthDigestNonceLifetime: ${text}`);
        const seconds = Number(text);
        if (seconds === 0) return host.unsupported(node, 'one-time nonces (AuthDigestNonceLifetime 0) are not supported by wsgi-host; give a lifetime in seconds, or a negative number for nonces that never expire');
        layer(scope).digestNonceLifetime = seconds;
      },
    },
    authdigestalgorithm: {
      contexts: section,
      args: [1, 1],
      apply: (node) => {
        const value = node.args[0]!;
        if (value.toLowerCase() === 'md5-sess') return host.error(node, "AuthDigestAlgorithm: ERROR: algorithm `MD5-sess' is not implemented");
        if (value.toLowerCase() !== 'md5') return host.error(node, `Invalid algorithm in AuthDigestAlgorithm: ${value}`);
      },
    },
    authdigestdomain: { contexts: section, args: [1, Infinity], apply: (node, scope) => (layer(scope).digestDomain = [...(layer(scope).digestDomain ?? []), ...node.args]) },
    authdigestnccheck: {
      contexts: section,
      args: [1, 1],
      apply: (node) => {
        if (host.flag(node) === true) host.unsupported(node, 'nonce-count checking (AuthDigestNcCheck On) is not supported by wsgi-host');
      },
    },
    authdigestnonceformat: { contexts: section, args: [1, 1], apply: (node) => host.error(node, 'AuthDigestNonceFormat is not implemented') },
    authdigestshmemsize: { contexts: ['server'], args: [1, 1], apply: () => {} },
    wsgiaccessscript: { contexts: section, args: [1, Infinity], usage: 'WSGIAccessScript file-path [application-group=NAME]', apply: hookScript('access', (a, s) => (a.accessScript = s)) },
    wsgiauthuserscript: { contexts: section, args: [1, Infinity], usage: 'WSGIAuthUserScript file-path [application-group=NAME]', apply: hookScript('auth user', (a, s) => (a.userScript = s)) },
    wsgiauthgroupscript: { contexts: section, args: [1, Infinity], usage: 'WSGIAuthGroupScript file-path [application-group=NAME]', apply: hookScript('auth group', (a, s) => (a.groupScript = s)) },
  };
}

/** `path [application-group=NAME]` of WSGIAccessScript and friends (mod_wsgi's messages). */
function parseHookScript(host: AuthDirectiveHost, node: DirectiveNode, words: string[], what: string): HookScriptConfig | null {
  const [script, ...options] = words;
  if (script === undefined || script === '') {
    host.error(node, `Location of ${what} script not supplied.`);
    return null;
  }
  let applicationGroup: string | null = null;
  for (const option of options) {
    const eq = option.indexOf('=');
    if (eq <= 0 || option.slice(0, eq) !== 'application-group') {
      host.error(node, `Invalid option to WSGI ${what} script definition: '${option}'. Allowed: application-group=NAME`);
      return null;
    }
    const value = option.slice(eq + 1);
    if (value === '') {
      host.error(node, 'Invalid name for WSGI application group.');
      return null;
    }
    applicationGroup = value;
  }
  const resolved = host.resolvePath(script);
  if (!fs.existsSync(resolved)) host.warn(node, `the script ${resolved} does not exist; requests that need it will be refused until it does`);
  return { script: resolved, applicationGroup };
}

/**
 * <AuthnProviderAlias wsgi NAME> with a WSGIAuthUserScript inside, or <AuthnProviderAlias file
 * NAME> with an AuthUserFile (mod_authn_core): a provider called NAME that
 * AuthBasicProvider/AuthDigestProvider can list, with a script or file of its own.
 */
export function authnProviderAlias(host: AuthDirectiveHost, node: SectionNode, level: Level): void {
  if (level !== 'server') return host.error(node, '<AuthnProviderAlias> is only allowed at the top level of the configuration');
  if (node.args.length !== 2) return host.error(node, '<AuthnProviderAlias> takes a provider and a name for it, as in <AuthnProviderAlias wsgi django>');
  const [written, name] = node.args as [string, string];
  const base = written.toLowerCase();
  if (base !== 'wsgi' && base !== 'file') {
    if (UNSUPPORTED_AUTHN.has(base)) return host.unsupported(node, `the '${written}' authentication provider is not provided by wsgi-host; alias the wsgi or file provider`);
    return host.error(node, `Unknown Authn provider: ${written}`);
  }
  const wanted = base === 'wsgi' ? 'WSGIAuthUserScript' : 'AuthUserFile';
  let provider: AuthnProvider | null = null;
  for (const child of node.children) {
    if (child.kind !== 'directive' || child.key !== wanted.toLowerCase()) return host.error(child, `only ${wanted} may appear in <AuthnProviderAlias ${written} ${name}>`);
    if (base === 'file') {
      if (child.args.length !== 1) return host.error(child, 'takes one argument: the password file');
      provider = { name, kind: 'file', userFile: host.resolvePath(child.args[0]!) };
      continue;
    }
    const words = splitModWsgiArgs(child.rawArgs);
    if (!Array.isArray(words)) return host.error(child, words.error);
    const script = parseHookScript(host, child, words, 'auth user');
    if (script === null) return;
    provider = { name, kind: 'wsgi', userScript: script };
  }
  if (provider === null) return host.error(node, `<AuthnProviderAlias ${written} ${name}> needs a${base === 'wsgi' ? ' WSGIAuthUserScript' : 'n AuthUserFile'}`);
  host.authnAliases.set(name, provider);
}

/** `Require [not] provider args...` (mod_authz_core's add_authz_provider). */
function requireLine(host: AuthDirectiveHost, node: DirectiveNode, scope: AuthScope): void {
  let words = node.args;
  let negate = false;
  if (words[0]!.toLowerCase() === 'not') {
    negate = true;
    words = words.slice(1);
    if (words.length === 0) return host.error(node, 'Require not needs a provider, as in "Require not ip 10.0.0.1"');
  }
  const provider = words[0]!.toLowerCase();
  let args = words.slice(1);
  if (UNSUPPORTED_PROVIDERS.has(provider)) return host.unsupported(node, `"Require ${provider}" is not supported by wsgi-host (it provides all, valid-user, user, group, wsgi-group, ip, host, local and method)`);
  if (!KNOWN_PROVIDERS.has(provider)) return host.error(node, `Unknown Authz provider: ${words[0]}`);
  if (provider === 'all') {
    if (args.length !== 1 || !['granted', 'denied'].includes(args[0]!.toLowerCase())) return host.error(node, "Argument for 'Require all' must be 'granted' or 'denied'");
    args = [args[0]!.toLowerCase()];
  } else if (provider === 'ip') {
    if (args.length === 0) return host.error(node, "'require ip' requires an argument");
    for (const entry of args) if (parseIpSubnet(entry) === null) return host.error(node, `ip address '${entry}' appears to be invalid`);
  } else if (provider === 'method') {
    for (const method of args) if (!METHODS.has(method)) return host.error(node, `Invalid Method '${method}'`);
  }
  const container = targetContainer(scope);
  if (negate && container.op === 'any') return host.error(node, `negative Require directive has no effect in ${containerName(container)} directive`);
  const line: RequireLine = { kind: 'require', provider, args, negate };
  container.children.push(line);
}

/** <RequireAll>, <RequireAny>, <RequireNone> (mod_authz_core's add_authz_section). */
export function requireSection(host: AuthDirectiveHost, node: SectionNode, scope: AuthScope, walk: (nodes: ConfigNode[], scope: AuthScope) => void): void {
  const display = `<${node.name}>`;
  if (scope.level !== 'section') return host.error(node, `${display} is only allowed inside <Directory>, <Location> or <Files> sections`);
  if (node.args.length > 0) return host.error(node, `${display} directive doesn't take additional arguments`);
  const container: RequireContainer = {
    kind: 'container',
    op: node.key === 'requireall' ? 'all' : 'any',
    negate: node.key === 'requirenone',
    children: [],
    merged: false,
  };
  walk(node.children, { ...scope, requireContainer: container });
  if (container.children.length === 0) return host.error(node, `${containerName(container)} directive contains no authorization directives`);
  if (container.children.every((c) => c.negate)) return host.error(node, `${containerName(container)} directive contains only negative authorization directives`);
  const parent = targetContainer(scope);
  if (container.negate && parent.op === 'any') return host.error(node, `${containerName(container)} directive has no effect in ${containerName(parent)} directive`);
  // Containers are associative: <RequireAll> in <RequireAll> adds its children to the outer one.
  if (!container.negate && container.op === parent.op) parent.children.push(...container.children);
  else parent.children.push(container);
}
