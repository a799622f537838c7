import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatProblem, loadApacheConfig, mergeSettings, type ConfigProblem, type LoadOptions, type LoadResult } from '../../src/config/apache-config';
import { DAEMON_OPTION_NAMES } from '../../src/config/daemon-options';
import { defaultProcessGroup } from '../../src/config/defaults';
import type { DirectorySettings, ListenerConfig, OptionsChange, ServerConfig, VirtualHostConfig } from '../../src/config/model';
import { resolveSettings } from '../../src/config/settings';

import { settingsLayers } from '../../src/front/sections';
import { LOG_FORMAT_NICKNAMES } from '../../src/log/access-log';

/*
 * loadApacheConfig: what each directive does to the configuration model, where it is allowed,
 * and how a virtual host inherits from the main server (Apache's and mod_wsgi's rules).
 * Every config is a real file in a temporary directory; `{{DIR}}` in a line is that directory,
 * which is also the ServerRoot unless a test says otherwise.
 */

let tmp = '';
let siteCount = 0;
before(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-host-apache-config-')));
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface Site {
  dir: string;
  file: string;
  result: LoadResult;
  /** The 1-based line of the first line that contains `needle`. */
  line(needle: string): number;
  at(rel: string): string;
}

/** Script-naming directives: the index of the script argument (after the directive name). */
const SCRIPT_ARG: Record<string, number> = { wsgiscriptalias: 2, wsgiscriptaliasmatch: 2, wsgihandlerscript: 2, wsgiimportscript: 1 };

function load(lines: string[], options: LoadOptions = {}): Site {
  const dir = path.join(tmp, `site-${++siteCount}`);
  fs.mkdirSync(dir, { recursive: true });
  const text = lines.map((l) => l.replaceAll('{{DIR}}', dir));
  // Create the scripts the WSGI directives point at (inside the site), as a real site has them.
  for (const l of text) {
    const words = l.trim().split(/\s+/);
    const index = SCRIPT_ARG[words[0]!.toLowerCase()];
    const script = index === undefined ? undefined : words[index];
    if (script === undefined || script.includes('$') || script.startsWith('"')) continue;
    const abs = path.resolve(dir, script);
    if (!abs.startsWith(dir + path.sep)) continue;
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, 'def application(environ, start_response):\n    start_response("200 OK", [])\n    return [b""]\n');
  }
  const file = path.join(dir, 'httpd.conf');
  fs.writeFileSync(file, text.join('\n') + '\n');
  const result = loadApacheConfig(file, options);
  return {
    dir,
    file,
    result,
    line(needle: string): number {
      const i = text.findIndex((l) => l.includes(needle.replaceAll('{{DIR}}', dir)));
      assert.ok(i >= 0, `no line contains ${needle}`);
      return i + 1;
    },
    at: (rel) => path.join(dir, rel),
  };
}

function show(problems: ConfigProblem[]): string {
  return problems.map(formatProblem).join('\n') || '(none)';
}

/** Loads and asserts there were no errors (warnings allowed). */
function loaded(lines: string[], options: LoadOptions = {}): Site & { config: ServerConfig } {
  const site = load(lines, options);
  assert.deepEqual(site.result.errors, [], `unexpected errors:\n${show(site.result.errors)}`);
  assert.ok(site.result.config !== null);
  return { ...site, config: site.result.config };
}

/** Loads and asserts no errors and no warnings. */
/** Listeners without where they were asked for. */
function addresses(listeners: ListenerConfig[]): { host: string; port: number }[] {
  return listeners.map(({ host, port }) => ({ host, port }));
}

function clean(lines: string[], options: LoadOptions = {}): Site & { config: ServerConfig } {
  const site = loaded(lines, options);
  assert.deepEqual(site.result.warnings, [], `unexpected warnings:\n${show(site.result.warnings)}`);
  return site;
}

/** Asserts the load failed with exactly one error, at the line holding `needle`, about `directive`. */
function refused(site: Site, needle: string, directive: string, message: RegExp): ConfigProblem {
  assert.equal(site.result.config, null, 'a configuration with errors must not load');
  assert.equal(site.result.errors.length, 1, `expected one error, got:\n${show(site.result.errors)}`);
  const problem = site.result.errors[0]!;
  assert.equal(problem.file, site.file);
  assert.equal(problem.line, site.line(needle), `line of: ${formatProblem(problem)}`);
  assert.equal(problem.directive, directive);
  assert.match(problem.message, message);
  return problem;
}

function refuse(lines: string[], needle: string, directive: string, message: RegExp, options: LoadOptions = {}): ConfigProblem {
  return refused(load(lines, options), needle, directive, message);
}

/** Asserts one of the warnings is at the line holding `needle`, about `directive`. */
function warned(site: Site, needle: string, directive: string, message: RegExp): ConfigProblem {
  const line = site.line(needle);
  const found = site.result.warnings.find((w) => w.file === site.file && w.line === line && w.directive === directive && message.test(w.message));
  assert.ok(found !== undefined, `no warning ${directive} ${message} at line ${line}; warnings:\n${show(site.result.warnings)}`);
  return found;
}

const L = 'Listen 8080';
const VH = (...body: string[]): string[] => ['<VirtualHost *:8080>', '  ServerName vh.example', ...body.map((b) => '  ' + b), '</VirtualHost>'];
const DIR = (...body: string[]): string[] => ['<Directory {{DIR}}/docs>', ...body.map((b) => '  ' + b), '</Directory>'];
const LOC = (...body: string[]): string[] => ['<Location /loc>', ...body.map((b) => '  ' + b), '</Location>'];
const FILES = (...body: string[]): string[] => ['<Files "*.py">', ...body.map((b) => '  ' + b), '</Files>'];
/** The settings a directive at `level` (as built by `at`) went into; the main server's are empty there, so a vhost's are its own. */
const ownSettings = (config: ServerConfig, level: 'server' | 'vhost' | 'section'): DirectorySettings =>
  level === 'server' ? config.mainServer.settings : level === 'vhost' ? config.virtualHosts[0]!.settings : config.mainServer.sections[0]!.settings;
const at = (level: 'server' | 'vhost' | 'section', line: string): string[] =>
  level === 'server' ? [L, line] : level === 'vhost' ? [L, ...VH(line)] : [L, ...DIR(line)];
const LEVELS = ['server', 'vhost', 'section'] as const;
const ABSOLUTE_NONE = { indexes: false, followSymlinks: false, execCgi: false };

// ------------------------------------------------------------------------------------------------

describe('where each directive is allowed', () => {
  // [directive line, levels where Apache / mod_wsgi allow it (and wsgi-host implements it), levels covered by a todo below]
  const table: [string, ('server' | 'vhost' | 'section')[], ('server' | 'vhost' | 'section')[]?][] = [
    ['Listen 8081', ['server']],
    ['ServerName x.example', ['server', 'vhost']],
    ['ServerAlias alias.example', ['vhost']],
    ['ServerAdmin admin@example.com', ['server', 'vhost']],
    ['DocumentRoot {{DIR}}', ['server', 'vhost']],
    ['DirectoryIndex index.html', ['server', 'vhost', 'section']],
    ['Alias /static {{DIR}}/static', ['server', 'vhost']],
    ['AliasMatch ^/s/(.*) {{DIR}}/static/$1', ['server', 'vhost']],
    ['Options Indexes', ['server', 'vhost', 'section']],
    ['Require all granted', ['section']],
    ['AllowOverride None', ['section']],
    ['SetEnv NAME value', ['server', 'vhost', 'section']],
    ['PassEnv HOME', ['server', 'vhost', 'section']],
    ['UnsetEnv NAME', ['server', 'vhost', 'section']],
    ['ErrorLog /dev/stderr', ['server', 'vhost']],
    ['LogFormat "%h %r" nick', ['server', 'vhost']],
    ['CustomLog /dev/stdout "%h %r"', ['server', 'vhost']],
    ['TransferLog /dev/stdout', ['server', 'vhost']],
    ['LogLevel info', ['server', 'vhost'], ['section']],
    ['Timeout 30', ['server'], ['vhost']],
    ['KeepAlive On', ['server'], ['vhost']],
    ['KeepAliveTimeout 3', ['server'], ['vhost']],
    ['MaxKeepAliveRequests 50', ['server'], ['vhost']],
    ['LimitRequestBody 1000', ['server', 'vhost', 'section']],
    ['LimitRequestFields 50', ['server'], ['vhost']],
    ['LimitRequestFieldSize 4000', ['server'], ['vhost']],
    ['LimitRequestLine 4000', ['server'], ['vhost']],
    ['AddType text/plain .txt', ['server', 'vhost', 'section']],
    ['AddHandler wsgi-script .wsgi', ['server', 'vhost', 'section']],
    ['SetHandler None', ['server', 'vhost', 'section']],
    ['User nobody', ['server']],
    ['Group nogroup', ['server']],
    ['UseCanonicalName Off', ['server', 'vhost', 'section']],
    ['AddDefaultCharset Off', ['server', 'vhost', 'section']],
    ['WSGIScriptAlias /app {{DIR}}/app.wsgi', ['server', 'vhost']],
    ['WSGIScriptAliasMatch ^/app {{DIR}}/app.wsgi', ['server', 'vhost']],
    ['WSGIHandlerScript handler {{DIR}}/handler.wsgi', ['server', 'vhost', 'section']],
    ['WSGIDaemonProcess levels', ['server', 'vhost']],
    ['WSGIProcessGroup %{GLOBAL}', ['server', 'vhost', 'section']],
    ['WSGIApplicationGroup %{GLOBAL}', ['server', 'vhost', 'section']],
    ['WSGICallableObject app', ['server', 'vhost', 'section']],
    ['WSGIRestrictProcess one two', ['server', 'vhost', 'section']],
    ['WSGIPassAuthorization On', ['server', 'vhost', 'section']],
    ['WSGIChunkedRequest On', ['server', 'vhost', 'section']],
    ['WSGIScriptReloading Off', ['server', 'vhost', 'section']],
    ['WSGIErrorOverride On', ['server', 'vhost', 'section']],
    ['WSGIEnableSendfile On', ['server', 'vhost', 'section']],
    ['WSGIRequestBodySpooling Off', ['server', 'vhost', 'section']],
    ['WSGIResponseSpoolLimit 0', ['server', 'vhost', 'section']],
    ['WSGIMapHEADToGET Off', ['server', 'vhost', 'section']],
    ['WSGITrustedProxyHeaders X-Forwarded-For', ['server', 'vhost', 'section']],
    ['WSGITrustedProxies 10.0.0.1', ['server', 'vhost', 'section']],
    ['WSGISocketPrefix run/wsgi', ['server']],
    ['WSGIPythonHome /opt/python', ['server']],
    ['WSGIPythonPath /opt/lib', ['server']],
    ['WSGIPythonOptimize 1', ['server']],
    ['WSGIPythonHashSeed 1', ['server']],
    ['WSGIPythonWarnings ignore', ['server']],
    ['WSGIDontWriteBytecode On', ['server']],
    ['WSGIRestrictEmbedded On', ['server']],
    ['WSGIRestrictStdin On', ['server']],
    ['WSGIRestrictStdout On', ['server']],
    ['WSGIRestrictSignal Off', ['server']],
    ['WSGIImportScript {{DIR}}/startup.py process-group=%{GLOBAL} application-group=%{GLOBAL}', ['server', 'vhost']],
  ];
  const described = { server: 'at server level', vhost: 'in <VirtualHost>', section: 'in <Directory>/<Location>/<Files>' };

  for (const [line, allowed, skipped = []] of table) {
    const directive = line.split(' ')[0]!;
    it(`${directive}: accepted ${allowed.map((l) => described[l]).join(', ')}; refused elsewhere with file:line`, () => {
      for (const level of LEVELS) {
        if (skipped.includes(level)) continue;
        const lines = at(level, line);
        if (allowed.includes(level)) {
          const site = load(lines);
          assert.deepEqual(site.result.errors, [], `${directive} ${described[level]}:\n${show(site.result.errors)}`);
        } else {
          const where = level === 'server' ? /not allowed at server level/ : level === 'vhost' ? /not allowed in <VirtualHost>/ : /not allowed in <directory>/;
          const problem = refuse(lines, line.split(' ').slice(0, 2).join(' '), directive, where);
          for (const l of allowed) assert.ok(problem.message.includes(described[l]), `${problem.message} lists ${described[l]}`);
        }
      }
    });
  }

  it('section-level directives work the same in <Location> and <Files>, and are refused there when not allowed', () => {
    clean([L, ...LOC('Options Indexes', 'SetEnv A b', 'WSGIProcessGroup %{GLOBAL}', 'Require all denied')]);
    clean([L, ...FILES('SetHandler wsgi-script', 'WSGICallableObject app', 'Require all granted')]);
    refuse([L, ...LOC('WSGIScriptAlias / {{DIR}}/app.wsgi')], 'WSGIScriptAlias', 'WSGIScriptAlias', /not allowed in <location>; allowed at server level, in <VirtualHost>/);
    refuse([L, ...FILES('ErrorLog /dev/stderr')], 'ErrorLog', 'ErrorLog', /not allowed in <files>; allowed at server level, in <VirtualHost>/);
  });

  it('directive names are case-insensitive and keep their spelling in messages', () => {
    const site = clean([L, 'servername Lower.Example', 'wsgipassauthorization on']);
    assert.equal(site.config.mainServer.serverName, 'lower.example');
    assert.equal(site.config.mainServer.settings.passAuthorization, true);
    refuse([L, ...VH('user nobody')], 'user nobody', 'user', /not allowed in <VirtualHost>/);
  });

  it('LogLevel in <Directory> (allowed by Apache 2.4) is reported as unsupported, and loads with --skip-unsupported', () => {
    const site = load([L, ...DIR('LogLevel debug')], { skipUnsupported: true });
    assert.deepEqual(site.result.errors, []);
    assert.ok(site.result.config !== null);
  });

  it('WSGIImportScript is allowed in <VirtualHost> (mod_wsgi: RSRC_CONF, not GLOBAL_ONLY)', () => {
    const site = clean([L, ...VH('WSGIDaemonProcess vg', 'WSGIImportScript {{DIR}}/startup.py process-group=vg application-group=%{GLOBAL}')]);
    assert.deepEqual(site.config.processGroups[0]!.preload, [{ script: site.at('startup.py'), applicationGroup: '' }]);
  });
});

// ------------------------------------------------------------------------------------------------

describe('core directives: the model fields they set', () => {
  describe('Listen', () => {
    it('takes a bare port, IP:port, *:port, [IPv6]:port, in order', () => {
      const { config } = clean(['Listen 8080', 'Listen 127.0.0.1:8081', 'Listen [::1]:8082', 'Listen *:8083', 'Listen 0.0.0.0:8084 http', 'Listen 0']);
      assert.deepEqual(addresses(config.listeners), [
        { host: '', port: 8080 },
        { host: '127.0.0.1', port: 8081 },
        { host: '::1', port: 8082 },
        { host: '', port: 8083 },
        { host: '0.0.0.0', port: 8084 },
        { host: '', port: 0 },
      ]);
      // Apache's rule: the IPv6 wildcard (dual-stack) socket covers 0.0.0.0 on the same port.
      assert.deepEqual(addresses(clean(['Listen 9090', 'Listen 0.0.0.0:9090', 'Listen 0.0.0.0:9091']).config.listeners), [
        { host: '', port: 9090 },
        { host: '0.0.0.0', port: 9091 },
      ]);
      // Where each was asked for, for start-up errors such as a port in use.
      assert.deepEqual(config.listeners[1]!.origin, { file: config.listeners[0]!.origin!.file, line: config.listeners[0]!.origin!.line + 1 });
    });

    for (const bad of ['127.0.0.1', '70000', 'abc', ':8080', '[::1', '127.0.0.1:http']) {
      it(`refuses "Listen ${bad}" with the value in the message`, () => {
        // Apache's two answers: a malformed address, or an address without a port.
        refuse([`Listen ${bad}`, 'Listen 8080'], `Listen ${bad}`, 'Listen', new RegExp(`(invalid address|Port must be specified:) "${bad.replace(/[[\].*]/g, '\\$&')}"`));
      });
    }

    it('refuses an IPv6 address without a port, as it does an IPv4 one ("Port must be specified")', () => {
      refuse(['Listen 8080', 'Listen [::1]'], 'Listen [::1]', 'Listen', /Port must be specified: "\[::1\]"/);
    });

    it('refuses the same address and port twice ("Cannot define multiple Listeners on the same IP:port")', () => {
      refuse(['Listen 8080', 'Listen *:8080'], 'Listen *:8080', 'Listen', /Cannot define multiple Listeners on the same IP:port/);
    });

    it('accepts http and https as the protocol; refuses others as unsupported', () => {
      assert.deepEqual(addresses(clean(['Listen 8080', 'Listen 8443 https']).config.listeners), [{ host: '', port: 8080 }, { host: '', port: 8443 }]);
      refuse(['Listen 8080', 'Listen 8443 ftp'], 'Listen 8443', 'Listen', /protocol "ftp" is not supported \(http, or https with SSLEngine On in the virtual hosts on the port\)\. Remove it, or run with --skip-unsupported/);
      const site = loaded(['Listen 8080', 'Listen 8443 ftp'], { skipUnsupported: true });
      warned(site, 'Listen 8443', 'Listen', /protocol "ftp" is not supported.*ignored because of --skip-unsupported/);
      assert.deepEqual(addresses(site.config.listeners), [{ host: '', port: 8080 }]);
    });

    it('checks the number of arguments', () => {
      refuse(['Listen'], 'Listen', 'Listen', /takes 1 to 2 arguments: Listen \[IP:\]PORT \[protocol\]/);
      refuse(['Listen 1 http x'], 'Listen', 'Listen', /takes 1 to 2 arguments/);
    });

    it('no Listen at all is an error (file, line 0)', () => {
      const site = load(['ServerName example.com', ...VH('DocumentRoot {{DIR}}')]);
      assert.equal(site.result.config, null);
      assert.deepEqual(site.result.errors, [{ file: site.file, line: 0, directive: 'Listen', message: 'no Listen directive: the server would listen on no port; add e.g. "Listen 8080"' }]);
    });
  });

  describe('ServerName, ServerAlias, ServerAdmin', () => {
    it('ServerName drops a scheme and port (and is compared case-insensitively, so stored lower-case)', () => {
      assert.equal(clean([L, 'ServerName www.Example.com']).config.mainServer.serverName, 'www.example.com');
      assert.equal(clean([L, 'ServerName http://www.example.com:8080']).config.mainServer.serverName, 'www.example.com');
      assert.equal(clean([L, 'ServerName https://secure.example.com']).config.mainServer.serverName, 'secure.example.com');
      assert.equal(clean([L, 'ServerName www.example.com:80']).config.mainServer.serverName, 'www.example.com');
    });

    it('the main server is named after the host when no ServerName is given', () => {
      assert.equal(clean([L]).config.mainServer.serverName, os.hostname());
    });

    it('ServerName, ServerAlias and ServerAdmin in a <VirtualHost> are that host\'s', () => {
      const { config } = clean([L, 'ServerName main.example', 'ServerAdmin root@main.example', ...VH('ServerAlias A.example *.b.example', 'ServerAlias c.example', 'ServerAdmin web@vh.example')]);
      const vh = config.virtualHosts[0]!;
      assert.equal(vh.serverName, 'vh.example');
      assert.deepEqual(vh.serverAliases, ['a.example', '*.b.example', 'c.example']);
      assert.equal(vh.serverAdmin, 'web@vh.example');
      assert.equal(config.mainServer.serverName, 'main.example');
      assert.equal(config.mainServer.serverAdmin, 'root@main.example');
      assert.deepEqual(config.mainServer.serverAliases, []);
    });

    it('ServerName takes exactly one argument', () => {
      refuse([L, 'ServerName'], 'ServerName', 'ServerName', /takes 1 argument$/);
      refuse([L, 'ServerName a b'], 'ServerName', 'ServerName', /takes 1 argument$/);
    });
  });

  describe('DocumentRoot', () => {
    it('defaults to ServerRoot/htdocs; a relative path is relative to ServerRoot; a trailing slash is dropped', () => {
      const defaults = clean([L]);
      assert.equal(defaults.config.mainServer.documentRoot, path.join(defaults.dir, 'htdocs'));
      assert.equal(defaults.config.serverRoot, defaults.dir);
      const relative = clean([L, 'DocumentRoot public/']);
      assert.equal(relative.config.mainServer.documentRoot, relative.at('public'));
      assert.equal(clean([L, 'DocumentRoot /srv/www/']).config.mainServer.documentRoot, '/srv/www');
      assert.equal(clean([L, 'DocumentRoot /']).config.mainServer.documentRoot, '/');
    });

    it('relative paths follow a ServerRoot directive and the serverRoot option', () => {
      const other = fs.mkdtempSync(path.join(tmp, 'root-'));
      const site = clean([`ServerRoot ${other}`, L, 'DocumentRoot docs', 'ErrorLog logs/err.log']);
      assert.equal(site.config.serverRoot, other);
      assert.equal(site.config.mainServer.documentRoot, path.join(other, 'docs'));
      assert.deepEqual(site.config.mainServer.errorLog, { kind: 'file', path: path.join(other, 'logs', 'err.log') });
      const viaOption = clean([L, 'DocumentRoot docs'], { serverRoot: other });
      assert.equal(viaOption.config.mainServer.documentRoot, path.join(other, 'docs'));
    });
  });

  describe('DirectoryIndex', () => {
    it('sets the list at every level; "disabled" alone empties it; with other names it is a name', () => {
      for (const level of LEVELS) {
        assert.deepEqual(ownSettings(clean(at(level, 'DirectoryIndex index.py index.html')).config, level).directoryIndex, ['index.py', 'index.html']);
        assert.deepEqual(ownSettings(clean(at(level, 'DirectoryIndex disabled')).config, level).directoryIndex, []);
        assert.deepEqual(ownSettings(clean(at(level, 'DirectoryIndex Disabled')).config, level).directoryIndex, []);
      }
      assert.deepEqual(clean([L, 'DirectoryIndex disabled index.html']).config.mainServer.settings.directoryIndex, ['disabled', 'index.html']);
    });

    it('a second DirectoryIndex in the same context adds to the list (mod_dir add_index pushes onto one array)', () => {
      assert.deepEqual(clean([L, 'DirectoryIndex a.html', 'DirectoryIndex b.html']).config.mainServer.settings.directoryIndex, ['a.html', 'b.html']);
    });
  });

  describe('Alias and AliasMatch', () => {
    it('Alias maps a URL prefix to an absolute path (relative to ServerRoot), recording where it came from', () => {
      const site = clean([L, 'Alias /static/ /srv/static/', 'Alias /media media']);
      assert.deepEqual(site.config.mainServer.aliases, [
        { urlPrefix: '/static/', pattern: null, target: '/srv/static', origin: { file: site.file, line: 2 } },
        { urlPrefix: '/media', pattern: null, target: site.at('media'), origin: { file: site.file, line: 3 } },
      ]);
    });

    it('AliasMatch keeps the regular expression and the $n target', () => {
      const site = clean([L, 'AliasMatch "^/icons/(.*)\\.png$" /srv/icons/$1.png']);
      const alias = site.config.mainServer.aliases[0]!;
      assert.equal(alias.urlPrefix, '');
      assert.ok(alias.pattern instanceof RegExp);
      assert.equal(alias.pattern.source, '^\\/icons\\/(.*)\\.png$');
      assert.equal(alias.target, '/srv/icons/$1.png');
      assert.deepEqual(alias.origin, { file: site.file, line: 2 });
    });

    it('a bad regular expression and a wrong argument count are errors', () => {
      refuse([L, 'AliasMatch ^/(unclosed /srv'], 'AliasMatch', 'AliasMatch', /invalid regular expression "\^\/\(unclosed"/);
      refuse([L, 'Alias /only-one'], 'Alias', 'Alias', /takes 2 arguments: Alias URL-path file-path/);
    });

    it('a <VirtualHost> has its own aliases', () => {
      const { config } = clean([L, ...VH('Alias /vh /srv/vh')]);
      assert.deepEqual(config.virtualHosts[0]!.aliases.map((a) => a.urlPrefix), ['/vh']);
      assert.deepEqual(config.mainServer.aliases, []);
    });
  });

  describe('Options', () => {
    const options = (line: string, level: 'server' | 'vhost' | 'section' = 'section', opts: LoadOptions = {}): OptionsChange[] | undefined =>
      ownSettings(loaded(at(level, line), opts).config, level).options;

    it('without +/- replaces the set; with +/- changes it; at every level', () => {
      for (const level of LEVELS) {
        assert.deepEqual(options('Options Indexes FollowSymLinks', level), [{ set: { indexes: true, followSymlinks: true, execCgi: false }, add: [], remove: [] }]);
        assert.deepEqual(options('Options +Indexes -FollowSymLinks +ExecCGI', level), [{ set: null, add: ['indexes', 'execCgi'], remove: ['followSymlinks'] }]);
      }
    });

    it('All, None and -All', () => {
      assert.deepEqual(options('Options All'), [{ set: { indexes: true, followSymlinks: true, execCgi: true }, add: [], remove: [] }]);
      assert.deepEqual(options('Options None'), [{ set: ABSOLUTE_NONE, add: [], remove: [] }]);
      assert.deepEqual(options('Options -All'), [{ set: null, add: [], remove: ['indexes', 'followSymlinks', 'execCgi'] }]);
      assert.deepEqual(options('Options execcgi'), [{ set: { indexes: false, followSymlinks: false, execCgi: true }, add: [], remove: [] }]);
    });

    it('several Options directives in one context accumulate, in order', () => {
      const { config } = clean([L, 'Options Indexes', 'Options +ExecCGI']);
      assert.deepEqual(config.mainServer.settings.options, [
        { set: { indexes: true, followSymlinks: false, execCgi: false }, add: [], remove: [] },
        { set: null, add: ['execCgi'], remove: [] },
      ]);
      assert.deepEqual(resolveSettings([config.mainServer.settings]).options, { indexes: true, followSymlinks: false, execCgi: true });
    });

    it('mixing +/- with plain options is an error (as in Apache)', () => {
      refuse(at('section', 'Options Indexes +ExecCGI'), 'Options', 'Options', /Either all Options must start with \+ or -, or no Option may/);
    });

    it('an unknown option is an error naming it', () => {
      refuse(at('section', 'Options Indexes Bogus'), 'Options', 'Options', /Illegal option Bogus; allowed: None, All, Indexes, FollowSymLinks, ExecCGI/);
    });

    it('MultiViews (and Includes, SymLinksIfOwnerMatch) are unsupported: an error, or a warning with --skip-unsupported', () => {
      refuse(at('section', 'Options Indexes MultiViews'), 'Options', 'Options', /option MultiViews is not supported by wsgi-host.*--skip-unsupported/);
      refuse(at('section', 'Options +SymLinksIfOwnerMatch'), 'Options', 'Options', /option \+SymLinksIfOwnerMatch is not supported/);
      const site = loaded(at('section', 'Options Indexes MultiViews'), { skipUnsupported: true });
      warned(site, 'Options', 'Options', /option MultiViews is not supported.*ignored because of --skip-unsupported/);
      assert.deepEqual(site.config.mainServer.sections[0]!.settings.options, [{ set: { indexes: true, followSymlinks: false, execCgi: false }, add: [], remove: [] }]);
    });
  });

  describe('Require and AllowOverride', () => {
    it('"Require all granted" and "Require all denied" become the section\'s requirements', () => {
      const line = (arg: string) => ({ kind: 'container', op: 'any', negate: false, merged: false, children: [{ kind: 'require', provider: 'all', args: [arg], negate: false }] });
      assert.deepEqual(clean(at('section', 'Require all granted')).config.mainServer.sections[0]!.settings.auth?.require, line('granted'));
      assert.deepEqual(clean(at('section', 'Require all Denied')).config.mainServer.sections[0]!.settings.auth?.require, line('denied'));
      assert.deepEqual(clean([L, ...LOC('Require all denied')]).config.mainServer.sections[0]!.settings.auth?.require, line('denied'));
      assert.equal(resolveSettings([clean(at('section', 'Require all granted')).config.mainServer.sections[0]!.settings]).access, null, 'granted to all: nothing to check per request');
      assert.equal(resolveSettings([clean(at('section', 'Require all denied')).config.mainServer.sections[0]!.settings]).access?.fixed, 'denied');
    });

    it('several Require lines in one section are alternatives (an implicit <RequireAny>)', () => {
      const { config } = clean([L, ...DIR('Require all granted', 'Require all denied')]);
      assert.equal(resolveSettings([config.mainServer.sections[0]!.settings]).access, null);
      const denied = clean([L, ...DIR('Require all denied', 'Require all denied')]).config;
      assert.equal(resolveSettings([denied.mainServer.sections[0]!.settings]).access?.fixed, 'denied');
    });

    it('AllowOverride None is quiet; anything else warns that .htaccess files are not read', () => {
      clean(at('section', 'AllowOverride None'));
      const site = loaded(at('section', 'AllowOverride All'));
      warned(site, 'AllowOverride', 'AllowOverride', /wsgi-host does not read \.htaccess files; this has no effect/);
    });
  });

  describe('SetEnv, PassEnv, UnsetEnv', () => {
    it('set, accumulate and unset at every level', () => {
      for (const level of LEVELS) {
        const lines = level === 'server'
          ? [L, 'SetEnv A 1', 'SetEnv EMPTY', 'PassEnv HOME', 'PassEnv PATH LANG', 'UnsetEnv X Y']
          : level === 'vhost'
            ? [L, ...VH('SetEnv A 1', 'SetEnv EMPTY', 'PassEnv HOME', 'PassEnv PATH LANG', 'UnsetEnv X Y')]
            : [L, ...DIR('SetEnv A 1', 'SetEnv EMPTY', 'PassEnv HOME', 'PassEnv PATH LANG', 'UnsetEnv X Y')];
        const settings = ownSettings(clean(lines).config, level);
        // In the order written; PassEnv takes the server's value when it starts.
        const passed = ['HOME', 'PATH', 'LANG'].filter((n) => process.env[n] !== undefined).map((name) => ({ op: 'set', name, value: process.env[name] }));
        assert.deepEqual(settings.envOps, [
          { op: 'set', name: 'A', value: '1' },
          { op: 'set', name: 'EMPTY', value: '' },
          ...passed,
          { op: 'unset', name: 'X' },
          { op: 'unset', name: 'Y' },
        ]);
      }
    });

    it('SetEnv takes one or two arguments', () => {
      refuse([L, 'SetEnv A b c'], 'SetEnv', 'SetEnv', /takes 1 to 2 arguments/);
    });
  });

  describe('ErrorLog', () => {
    it('defaults to ServerRoot/logs/error_log; takes a file (relative to ServerRoot), /dev/stderr, /dev/stdout', () => {
      const d = clean([L]);
      assert.deepEqual(d.config.mainServer.errorLog, { kind: 'file', path: path.join(d.dir, 'logs', 'error_log') });
      const f = clean([L, 'ErrorLog logs/mine.log']);
      assert.deepEqual(f.config.mainServer.errorLog, { kind: 'file', path: f.at('logs/mine.log') });
      assert.deepEqual(clean([L, 'ErrorLog /var/log/x.log']).config.mainServer.errorLog, { kind: 'file', path: '/var/log/x.log' });
      assert.deepEqual(clean([L, 'ErrorLog /dev/stderr']).config.mainServer.errorLog, { kind: 'stderr' });
      assert.deepEqual(clean([L, 'ErrorLog /dev/stdout']).config.mainServer.errorLog, { kind: 'stdout' });
      assert.deepEqual(clean([L, ...VH('ErrorLog /dev/stdout')]).config.virtualHosts[0]!.errorLog, { kind: 'stdout' });
    });

    it('refuses piped logs and syslog (warnings with --skip-unsupported, the default log stays)', () => {
      refuse([L, 'ErrorLog "|/usr/bin/rotatelogs logs/error_log 86400"'], 'ErrorLog', 'ErrorLog', /piped logs are not supported; log to a file, \/dev\/stdout or \/dev\/stderr/);
      refuse([L, 'ErrorLog syslog:local7'], 'ErrorLog', 'ErrorLog', /syslog is not supported/);
      refuse([L, 'ErrorLog syslog'], 'ErrorLog', 'ErrorLog', /syslog is not supported/);
      const site = loaded([L, 'ErrorLog syslog'], { skipUnsupported: true });
      warned(site, 'ErrorLog', 'ErrorLog', /syslog is not supported.*--skip-unsupported/);
      assert.deepEqual(site.config.mainServer.errorLog, { kind: 'file', path: site.at('logs/error_log') });
    });
  });

  describe('LogFormat, CustomLog, TransferLog', () => {
    it('CustomLog with a LogFormat nickname uses that format', () => {
      const site = clean([L, 'LogFormat "%h %>s %b" short', 'CustomLog logs/access.log short']);
      assert.deepEqual(site.config.mainServer.accessLogs, [{ target: { kind: 'file', path: site.at('logs/access.log') }, format: '%h %>s %b' }]);
    });

    it('CustomLog with a literal format, and with the usual nicknames', () => {
      const site = clean([L, 'CustomLog /dev/stdout "%h %U %{User-Agent}i"', 'CustomLog logs/c.log combined', 'CustomLog logs/d.log common']);
      assert.deepEqual(site.config.mainServer.accessLogs, [
        { target: { kind: 'stdout' }, format: '%h %U %{User-Agent}i' },
        { target: { kind: 'file', path: site.at('logs/c.log') }, format: LOG_FORMAT_NICKNAMES['combined']! },
        { target: { kind: 'file', path: site.at('logs/d.log') }, format: LOG_FORMAT_NICKNAMES['common']! },
      ]);
    });

    it('a nickname defined by LogFormat may be redefined; CustomLog uses the definition current at that line', () => {
      const site = clean([L, 'LogFormat "%h" nick', 'LogFormat "%h %U" nick', 'CustomLog /dev/stdout nick']);
      assert.deepEqual(site.config.mainServer.accessLogs, [{ target: { kind: 'stdout' }, format: '%h %U' }]);
    });

    it('TransferLog uses the common format', () => {
      const site = clean([L, 'TransferLog logs/t.log']);
      assert.deepEqual(site.config.mainServer.accessLogs, [{ target: { kind: 'file', path: site.at('logs/t.log') }, format: LOG_FORMAT_NICKNAMES['common']! }]);
    });

    it('a bad format is an error at the LogFormat or CustomLog line', () => {
      refuse([L, 'LogFormat "%{Referer" broken'], 'LogFormat', 'LogFormat', /unterminated %\{\.\.\.\} in log format "%\{Referer"/);
      refuse([L, 'LogFormat "%h %Z" odd'], 'LogFormat', 'LogFormat', /unsupported directive %Z in log format "%h %Z"/);
      refuse([L, 'CustomLog /dev/stdout "%h %"'], 'CustomLog', 'CustomLog', /ends with an incomplete % directive; give a LogFormat string or a nickname defined with LogFormat/);
    });

    it('conditional logging and piped logs are refused; argument counts are checked', () => {
      refuse([L, 'CustomLog /dev/stdout common env=!dontlog'], 'CustomLog', 'CustomLog', /conditional logging \(env=\.\.\.\) is not supported/);
      refuse([L, 'CustomLog "|/usr/bin/logger" common'], 'CustomLog', 'CustomLog', /piped logs are not supported/);
      refuse([L, 'CustomLog /dev/stdout'], 'CustomLog', 'CustomLog', /takes 2 to 3 arguments: CustomLog file format\|nickname \[env=\.\.\.\]/);
      refuse([L, 'LogFormat'], 'LogFormat', 'LogFormat', /takes 1 to 2 arguments: LogFormat format \[nickname\]/);
    });

    it('a <VirtualHost> collects its own access logs', () => {
      const { config } = clean([L, 'CustomLog /dev/stdout common', ...VH('CustomLog /dev/stderr "%v %h"')]);
      assert.deepEqual(config.virtualHosts[0]!.accessLogs, [{ target: { kind: 'stderr' }, format: '%v %h' }]);
      assert.deepEqual(config.mainServer.accessLogs, [{ target: { kind: 'stdout' }, format: LOG_FORMAT_NICKNAMES['common']! }]);
    });

    it('a nickname may be defined after the CustomLog that uses it (mod_log_config resolves nicknames when it opens the logs)', () => {
      const site = clean([L, 'CustomLog /dev/stdout myfmt', 'LogFormat "%h %U" myfmt']);
      assert.deepEqual(site.config.mainServer.accessLogs, [{ target: { kind: 'stdout' }, format: '%h %U' }]);
    });

    it('LogFormat without a nickname sets the format TransferLog uses', () => {
      const site = clean([L, 'LogFormat "%h %U"', 'TransferLog /dev/stdout']);
      assert.deepEqual(site.config.mainServer.accessLogs, [{ target: { kind: 'stdout' }, format: '%h %U' }]);
    });

    it('"CLF" is the one nickname mod_log_config predefines', () => {
      const site = clean([L, 'CustomLog /dev/stdout CLF']);
      assert.deepEqual(site.config.mainServer.accessLogs, [{ target: { kind: 'stdout' }, format: LOG_FORMAT_NICKNAMES['common']! }]);
    });
  });

  describe('LogLevel', () => {
    it('plain levels, module:level, trace levels (as debug); defaults to warn', () => {
      assert.equal(clean([L]).config.mainServer.logLevel, 'warn');
      assert.equal(clean([L, 'LogLevel info']).config.mainServer.logLevel, 'info');
      assert.equal(clean([L, 'LogLevel ERROR']).config.mainServer.logLevel, 'error');
      assert.equal(clean([L, 'LogLevel trace1']).config.mainServer.logLevel, 'debug');
      assert.equal(clean([L, 'LogLevel trace8']).config.mainServer.logLevel, 'debug');
      const both = clean([L, 'LogLevel notice wsgi:info core:trace3']).config.mainServer;
      assert.equal(both.logLevel, 'notice');
      assert.deepEqual(both.moduleLogLevels, { wsgi: 'info', core: 'debug' });
      const vh = clean([L, 'LogLevel info', ...VH('LogLevel error')]).config;
      assert.equal(vh.virtualHosts[0]!.logLevel, 'error');
      assert.equal(vh.mainServer.logLevel, 'info');
    });

    it('an unknown level is an error naming it', () => {
      refuse([L, 'LogLevel loud'], 'LogLevel', 'LogLevel', /unknown level "loud"; levels are emerg, alert, crit, error, warn, notice, info, debug \(and trace1-8, treated as debug\)/);
      refuse([L, 'LogLevel warn wsgi:loud'], 'LogLevel', 'LogLevel', /unknown level "wsgi:loud"/);
      refuse([L, 'LogLevel'], 'LogLevel', 'LogLevel', /takes at least 1 argument/);
    });

    it('trace levels stop at trace8', () => {
      refuse([L, 'LogLevel trace9'], 'LogLevel', 'LogLevel', /unknown level "trace9"/);
      refuse([L, 'LogLevel trace0'], 'LogLevel', 'LogLevel', /unknown level "trace0"/);
    });

    it('a plain level resets the module levels set before it in the same context', () => {
      assert.deepEqual(clean([L, 'LogLevel wsgi:debug', 'LogLevel info']).config.mainServer.moduleLogLevels, {});
    });
  });

  describe('timeouts and limits', () => {
    it('Timeout, KeepAlive, KeepAliveTimeout, MaxKeepAliveRequests; Apache\'s defaults without them', () => {
      assert.deepEqual(clean([L]).config.timeouts, { socket: 60, keepAlive: true, keepAliveTimeout: 5, maxKeepAliveRequests: 100, requestRead: { handshake: null, header: { timeout: 20, maxTimeout: 40, minRate: 500 }, body: { timeout: 20, maxTimeout: 0, minRate: 500 } } });
      assert.deepEqual(clean([L, 'Timeout 30', 'KeepAlive Off', 'KeepAliveTimeout 2.5', 'MaxKeepAliveRequests 0']).config.timeouts, { socket: 30, keepAlive: false, keepAliveTimeout: 2.5, maxKeepAliveRequests: 0, requestRead: { handshake: null, header: { timeout: 20, maxTimeout: 40, minRate: 500 }, body: { timeout: 20, maxTimeout: 0, minRate: 500 } } });
    });

    it('bad values are errors', () => {
      refuse([L, 'Timeout 0'], 'Timeout', 'Timeout', /needs a number of at least 1, not "0"/);
      refuse([L, 'Timeout soon'], 'Timeout', 'Timeout', /needs a number of at least 1, not "soon"/);
      refuse([L, 'KeepAlive maybe'], 'KeepAlive', 'KeepAlive', /takes On or Off, not "maybe"/);
      refuse([L, 'KeepAliveTimeout -1'], 'KeepAliveTimeout', 'KeepAliveTimeout', /needs a number, not "-1"/);
      refuse([L, 'MaxKeepAliveRequests many'], 'MaxKeepAliveRequests', 'MaxKeepAliveRequests', /needs a number, not "many"/);
    });

    it('LimitRequestBody is per directory; LimitRequestFields/FieldSize/Line are server-wide', () => {
      for (const level of LEVELS) assert.equal(ownSettings(clean(at(level, 'LimitRequestBody 1000')).config, level).limitRequestBody, 1000);
      assert.deepEqual(clean([L]).config.limits, { requestLine: 8190, requestFields: 100, requestFieldSize: 8190, bufferedBodySize: 1048576, maxConnections: 8192, listenBacklog: 511 });
      assert.deepEqual(clean([L, 'LimitRequestFields 50', 'LimitRequestFieldSize 4000', 'LimitRequestLine 2000']).config.limits, { requestLine: 2000, requestFields: 50, requestFieldSize: 4000, bufferedBodySize: 1048576, maxConnections: 8192, listenBacklog: 511 });
      refuse([L, 'LimitRequestBody lots'], 'LimitRequestBody', 'LimitRequestBody', /needs a number, not "lots"/);
      refuse([L, 'LimitRequestFields -1'], 'LimitRequestFields', 'LimitRequestFields', /needs a number, not "-1"/);
      refuse([L, 'LimitRequestLine x'], 'LimitRequestLine', 'LimitRequestLine', /needs a number of at least 1, not "x"/);
    });

    it('WSGIResponseSpoolLimit is per directory, in bytes; 1 GiB by default, 0 turns response spooling off', () => {
      for (const level of LEVELS) assert.equal(ownSettings(clean(at(level, 'WSGIResponseSpoolLimit 1048576')).config, level).responseSpoolLimit, 1048576);
      assert.equal(resolveSettings([clean([L]).config.mainServer.settings]).responseSpoolLimit, 1073741824);
      assert.equal(resolveSettings([clean([L, 'WSGIResponseSpoolLimit 0']).config.mainServer.settings]).responseSpoolLimit, 0);
      refuse([L, 'WSGIResponseSpoolLimit 1G'], 'WSGIResponseSpoolLimit', 'WSGIResponseSpoolLimit', /needs a number, not "1G"/);
      refuse([L, 'WSGIResponseSpoolLimit'], 'WSGIResponseSpoolLimit', 'WSGIResponseSpoolLimit', /takes 1 argument/);
    });

    it('RequestReadTimeout sets the stages it names; mod_reqtimeout\'s defaults for the others; 0 turns a stage off', () => {
      const r = clean([L, 'RequestReadTimeout header=10-30,MinRate=1000 body=0']).config.timeouts.requestRead;
      assert.deepEqual(r, { handshake: null, header: { timeout: 10, maxTimeout: 30, minRate: 1000 }, body: null });
      assert.deepEqual(clean([L, 'RequestReadTimeout body=5']).config.timeouts.requestRead.header, { timeout: 20, maxTimeout: 40, minRate: 500 });
      assert.deepEqual(clean([L, '<IfModule reqtimeout_module>', 'RequestReadTimeout handshake=5 header=7', '</IfModule>']).config.timeouts.requestRead.handshake, { timeout: 5, maxTimeout: 0, minRate: 0 });
    });

    it('RequestReadTimeout: bad stages, ranges and rates are errors at their line', () => {
      refuse([L, 'RequestReadTimeout header=20-40,MinRate=500 request=5'], 'RequestReadTimeout', 'RequestReadTimeout', /unknown parameter "request=5": use handshake=, header= or body=/);
      refuse([L, 'RequestReadTimeout header=20-10,MinRate=500'], 'RequestReadTimeout', 'RequestReadTimeout', /the maximum timeout must be larger than the initial timeout/);
      refuse([L, 'RequestReadTimeout header=20-40'], 'RequestReadTimeout', 'RequestReadTimeout', /a timeout range needs MinRate=BYTES/);
      refuse([L, 'RequestReadTimeout body=soon'], 'RequestReadTimeout', 'RequestReadTimeout', /"body=soon" is not of the form body=SECONDS\[-MAXSECONDS\]\[,MinRate=BYTES\]/);
      refuse([L, ...VH('RequestReadTimeout body=5')], 'RequestReadTimeout', 'RequestReadTimeout', /per virtual host is not supported/);
    });

    it('SSLEngine On in a <VirtualHost> takes its certificate files, or the main server\'s', () => {
      const { config } = clean([L, 'Listen 8443 https', 'SSLCertificateFile main.crt', 'SSLCertificateKeyFile main.key', '<VirtualHost *:8443>', 'ServerName a.test', 'SSLEngine On', '</VirtualHost>', '<VirtualHost *:8443>', 'ServerName b.test', 'SSLEngine On', 'SSLCertificateFile b.crt', 'SSLCertificateKeyFile b.key', 'SSLCertificateChainFile chain.pem', '</VirtualHost>']);
      const [a, b] = config.virtualHosts;
      assert.equal(a!.tls?.certificateFile, path.join(path.dirname(config.configFile!), 'main.crt'));
      assert.equal(a!.tls?.keyFile, path.join(path.dirname(config.configFile!), 'main.key'));
      assert.equal(b!.tls?.certificateFile, path.join(path.dirname(config.configFile!), 'b.crt'));
      assert.equal(b!.tls?.chainFile, path.join(path.dirname(config.configFile!), 'chain.pem'));
      assert.equal(config.mainServer.tls, undefined);
    });

    it('SSLEngine On without a certificate, or outside a <VirtualHost>, is an error at its line', () => {
      refuse([L, '<VirtualHost *:8443>', 'SSLEngine On', '</VirtualHost>'], 'SSLEngine', 'SSLEngine', /SSLEngine On needs SSLCertificateFile/);
      refuse([L, 'SSLEngine On'], 'SSLEngine', 'SSLEngine', /not allowed at server level/);
      refuse([L, '<VirtualHost *:8443>', 'SSLEngine maybe', '</VirtualHost>'], 'SSLEngine', 'SSLEngine', /takes On or Off/);
    });

    it('MaxRequestWorkers (and MaxClients) cap open connections; ListenBacklog sets the backlog', () => {
      assert.equal(clean([L, 'MaxRequestWorkers 150']).config.limits.maxConnections, 150);
      assert.equal(clean([L, 'MaxClients 40']).config.limits.maxConnections, 40);
      assert.equal(clean([L, 'ListenBacklog 100']).config.limits.listenBacklog, 100);
      refuse([L, 'MaxRequestWorkers 0'], 'MaxRequestWorkers', 'MaxRequestWorkers', /needs a number of at least 1, not "0"/);
    });

    it('refuses Timeout and the other server-wide limits in a <VirtualHost> as unsupported, and never lets them leak', () => {
      // Apache keeps them per server; wsgi-host has one value for the whole server.
      refuse([L, 'Timeout 60', ...VH('Timeout 5')], 'Timeout 5', 'Timeout', /Timeout per virtual host is not supported: wsgi-host applies it to the whole server/);
      const skipped = load([L, 'Timeout 60', ...VH('Timeout 5')], { skipUnsupported: true });
      assert.equal(skipped.result.config?.timeouts.socket, 60);
    });
  });

  describe('AddType, AddHandler, SetHandler', () => {
    it('map extensions (lower case, no dot), at every level; SetHandler None is null', () => {
      for (const level of LEVELS) {
        const lines = level === 'server'
          ? [L, 'AddType text/x-foo .foo BAR', 'AddType text/plain txt', 'AddHandler wsgi-script .wsgi .PY', 'SetHandler wsgi-script']
          : level === 'vhost'
            ? [L, ...VH('AddType text/x-foo .foo BAR', 'AddType text/plain txt', 'AddHandler wsgi-script .wsgi .PY', 'SetHandler wsgi-script')]
            : [L, ...DIR('AddType text/x-foo .foo BAR', 'AddType text/plain txt', 'AddHandler wsgi-script .wsgi .PY', 'SetHandler wsgi-script')];
        const settings = ownSettings(clean(lines).config, level);
        assert.deepEqual(settings.addTypes, { foo: 'text/x-foo', bar: 'text/x-foo', txt: 'text/plain' });
        assert.deepEqual(settings.addHandlers, { wsgi: 'wsgi-script', py: 'wsgi-script' });
        assert.equal(settings.setHandler, 'wsgi-script');
      }
      assert.equal(clean([L, ...FILES('SetHandler None')]).config.mainServer.sections[0]!.settings.setHandler, null);
      assert.equal(clean([L, 'SetHandler none']).config.mainServer.settings.setHandler, null);
    });

    it('checks argument counts', () => {
      refuse([L, 'AddType text/plain'], 'AddType', 'AddType', /takes at least 2 arguments: AddType media-type extension \.\.\./);
      refuse([L, 'AddHandler wsgi-script'], 'AddHandler', 'AddHandler', /takes at least 2 arguments: AddHandler handler extension/);
      refuse([L, 'SetHandler a b'], 'SetHandler', 'SetHandler', /takes 1 argument/);
    });
  });

  describe('User, Group, UseCanonicalName', () => {
    it('User and Group are the default user and group of every daemon process group', () => {
      const { config } = clean([L, 'User www-data', 'Group www', 'WSGIDaemonProcess a', 'WSGIDaemonProcess b user=alice group=staff']);
      assert.equal(config.user, 'www-data');
      assert.equal(config.group, 'www');
      assert.deepEqual(config.processGroups.map((g) => [g.user, g.group]), [['www-data', 'www'], ['alice', 'staff']]);
      const none = clean([L, 'WSGIDaemonProcess a']).config;
      assert.equal(none.user, null);
      assert.equal(none.processGroups[0]!.user, null);
    });

    it('only "UseCanonicalName Off" is supported', () => {
      clean([L, 'UseCanonicalName off']);
      refuse([L, 'UseCanonicalName On'], 'UseCanonicalName', 'UseCanonicalName', /only "UseCanonicalName Off" \(the default\) is supported/);
      warned(loaded([L, 'UseCanonicalName DNS'], { skipUnsupported: true }), 'UseCanonicalName', 'UseCanonicalName', /ignored because of --skip-unsupported/);
    });
  });
});

// ------------------------------------------------------------------------------------------------

describe('mod_wsgi directives', () => {
  describe('WSGIScriptAlias', () => {
    it('mounts a script at / (prefix "") and at a prefix; a relative script is relative to ServerRoot', () => {
      const site = clean([L, 'WSGIScriptAlias /api api/api.wsgi', 'WSGIScriptAlias / {{DIR}}/app.wsgi']);
      assert.deepEqual(site.config.mainServer.scriptAliases, [
        { urlPrefix: '/api', pattern: null, target: site.at('api/api.wsgi'), processGroup: null, applicationGroup: null, callableObject: null, passAuthorization: null, origin: { file: site.file, line: 2 } },
        { urlPrefix: '', pattern: null, target: site.at('app.wsgi'), processGroup: null, applicationGroup: null, callableObject: null, passAuthorization: null, origin: { file: site.file, line: 3 } },
      ]);
    });

    it('takes every option', () => {
      const site = clean([L, 'WSGIDaemonProcess api', 'WSGIScriptAlias /api {{DIR}}/app.wsgi process-group=api application-group=%{SERVER} callable-object=app pass-authorization=On']);
      const alias = site.config.mainServer.scriptAliases[0]!;
      assert.equal(alias.processGroup, 'api');
      assert.equal(alias.applicationGroup, '%{SERVER}');
      assert.equal(alias.callableObject, 'app');
      assert.equal(alias.passAuthorization, true);
    });

    it('pass-authorization takes On or Off (any case); anything else is an error', () => {
      assert.equal(clean([L, 'WSGIScriptAlias / {{DIR}}/app.wsgi pass-authorization=off']).config.mainServer.scriptAliases[0]!.passAuthorization, false);
      assert.equal(clean([L, 'WSGIScriptAlias / {{DIR}}/app.wsgi pass-authorization=ON']).config.mainServer.scriptAliases[0]!.passAuthorization, true);
      refuse([L, 'WSGIScriptAlias / {{DIR}}/app.wsgi pass-authorization=yes'], 'WSGIScriptAlias', 'WSGIScriptAlias', /option pass-authorization takes On or Off, not "yes"/);
    });

    it('an invalid option is named in the error, with the allowed ones', () => {
      refuse([L, 'WSGIScriptAlias / {{DIR}}/app.wsgi threads=5'], 'WSGIScriptAlias', 'WSGIScriptAlias', /Invalid option to WSGI script alias definition: 'threads=5'\. Allowed: process-group=, application-group=, callable-object=, pass-authorization=/);
      refuse([L, 'WSGIScriptAlias /'], 'WSGIScriptAlias', 'WSGIScriptAlias', /takes at least 2 arguments: WSGIScriptAlias URL-path file-path/);
    });

    it('an option without "=value", or with an empty value, is an error (mod_wsgi: wsgi_parse_option needs name=value; "Invalid name for WSGI process group.")', () => {
      refuse([L, 'WSGIScriptAlias / {{DIR}}/app.wsgi process-group'], 'WSGIScriptAlias', 'WSGIScriptAlias', /process-group/);
      refuse([L, 'WSGIScriptAlias / {{DIR}}/app.wsgi process-group='], 'WSGIScriptAlias', 'WSGIScriptAlias', /process-group/);
    });

    it('an option value may be quoted (mod_wsgi wsgi_parse_option reads the value with ap_getword_conf)', () => {
      const site = clean([
        L,
        'WSGIDaemonProcess www home="/srv/my app" display-name="%{GROUP}" python-path="/a b:/c"',
        'WSGIScriptAlias / {{DIR}}/app.wsgi process-group="www" application-group="site"',
        'WSGIImportScript {{DIR}}/startup.py process-group="www" application-group="site"',
      ]);
      const group = site.config.processGroups[0]!;
      assert.equal(group.home, '/srv/my app');
      assert.equal(group.displayName, '(wsgi:www)');
      assert.deepEqual(group.pythonPath, ['/a b', '/c']);
      assert.equal(site.config.mainServer.scriptAliases[0]!.processGroup, 'www');
      assert.equal(site.config.mainServer.scriptAliases[0]!.applicationGroup, 'site');
    });

    it('in a <VirtualHost> it is that host\'s', () => {
      const { config } = clean([L, ...VH('WSGIScriptAlias / {{DIR}}/app.wsgi')]);
      assert.equal(config.virtualHosts[0]!.scriptAliases.length, 1);
      assert.deepEqual(config.mainServer.scriptAliases, []);
    });
  });

  describe('WSGIScriptAliasMatch', () => {
    it('keeps the regex and the $n target; takes the same options', () => {
      const site = clean([L, 'WSGIScriptAliasMatch ^/wsgi/([^/]+) /srv/wsgi/$1.wsgi application-group=%{RESOURCE} callable-object=app']);
      const alias = site.config.mainServer.scriptAliases[0]!;
      assert.ok(alias.pattern instanceof RegExp);
      assert.equal(alias.pattern.source, '^\\/wsgi\\/([^/]+)');
      assert.equal(alias.urlPrefix, '');
      assert.equal(alias.target, '/srv/wsgi/$1.wsgi');
      assert.equal(alias.applicationGroup, '%{RESOURCE}');
      assert.equal(alias.callableObject, 'app');
      assert.deepEqual(alias.origin, { file: site.file, line: 2 });
    });

    it('a bad regex or option is an error', () => {
      refuse([L, 'WSGIScriptAliasMatch ^/(x {{DIR}}/app.wsgi'], 'WSGIScriptAliasMatch', 'WSGIScriptAliasMatch', /invalid regular expression "\^\/\(x"/);
      refuse([L, 'WSGIScriptAliasMatch ^/x {{DIR}}/app.wsgi bogus=1'], 'WSGIScriptAliasMatch', 'WSGIScriptAliasMatch', /Invalid option to WSGI script alias definition: 'bogus=1'/);
    });
  });

  describe('WSGIHandlerScript', () => {
    it('defines a named handler with process-group, application-group, pass-authorization', () => {
      const site = clean([L, 'WSGIHandlerScript my-handler handler.wsgi process-group=%{GLOBAL} application-group=%{GLOBAL} pass-authorization=On']);
      assert.deepEqual(site.config.mainServer.settings.handlerScripts, { 'my-handler': { name: 'my-handler', script: site.at('handler.wsgi'), processGroup: '%{GLOBAL}', applicationGroup: '%{GLOBAL}', passAuthorization: true } });
    });

    it('callable-object is not one of its options', () => {
      refuse([L, 'WSGIHandlerScript h {{DIR}}/h.wsgi callable-object=x'], 'WSGIHandlerScript', 'WSGIHandlerScript', /Invalid option to WSGI (script alias|handler script) definition: 'callable-object=x'\. Allowed: process-group=, application-group=, pass-authorization=/);
    });

    it('one defined in a <Directory> applies only there (mod_wsgi stores it in the directory config)', () => {
      const { config } = clean([L, ...DIR('WSGIHandlerScript h {{DIR}}/h.wsgi')]);
      assert.equal(config.mainServer.settings.handlerScripts, undefined);
      assert.deepEqual(Object.keys(config.mainServer.sections[0]!.settings.handlerScripts ?? {}), ['h']);
    });
  });

  describe('WSGIDaemonProcess', () => {
    const APPLIED = [
      'processes', 'threads', 'user', 'group', 'umask', 'home', 'lang', 'locale', 'display-name', 'python-home', 'python-path', 'python-eggs',
      'switch-interval', 'maximum-requests', 'maximum-requests-jitter', 'restart-interval', 'inactivity-timeout', 'request-timeout',
      'interrupt-timeout', 'deadlock-timeout', 'startup-timeout', 'graceful-timeout', 'eviction-timeout', 'shutdown-timeout', 'queue-timeout',
      'socket-timeout', 'cpu-time-limit', 'cpu-priority', 'memory-limit', 'virtual-memory-limit', 'maximum-rss', 'stack-size',
      'reload-on-changes', 'python-executable', 'response-buffer-size', 'application-groups', 'send-ahead', 'scheduling-policy',
    ];
    const TRANSPORT = ['connect-timeout', 'response-socket-timeout', 'listen-backlog', 'send-buffer-size', 'receive-buffer-size', 'header-buffer-size', 'response-flush-delay', 'socket-user', 'server-metrics'];
    const REFUSED: Record<string, RegExp> = {
      chroot: /option 'chroot' is not supported by wsgi-host \(deprecated in mod_wsgi\); run the server in a container instead/,
      'supplementary-groups': /option 'supplementary-groups' is not supported by wsgi-host yet/,
      'script-user': /option 'script-user' is not supported by wsgi-host/,
      'script-group': /option 'script-group' is not supported by wsgi-host/,
    };

    it('this test covers every option daemon-options.ts knows', () => {
      assert.deepEqual([...APPLIED, ...TRANSPORT, ...Object.keys(REFUSED)].sort(), [...DAEMON_OPTION_NAMES].sort());
    });

    it('response-buffer-size= is how much of a response the front end holds for a slow client (at least 65536, as mod_wsgi requires)', () => {
      assert.equal(clean([L, 'WSGIDaemonProcess a response-buffer-size=262144']).config.processGroups[0]!.responseBufferSize, 262144);
      assert.equal(clean([L, 'WSGIDaemonProcess a']).config.processGroups[0]!.responseBufferSize, 1024 * 1024);
      refuse([L, 'WSGIDaemonProcess a response-buffer-size=1000'], 'WSGIDaemonProcess', 'WSGIDaemonProcess', /response-buffer-size.*at least 65536, not "1000"/);
    });

    it('send-ahead= (a wsgi-host extension) is in milliseconds, 2 by default, 0 turns it off', () => {
      assert.equal(clean([L, 'WSGIDaemonProcess a send-ahead=0']).config.processGroups[0]!.sendAheadMs, 0);
      assert.equal(clean([L, 'WSGIDaemonProcess a send-ahead=7.5']).config.processGroups[0]!.sendAheadMs, 7.5);
      assert.equal(clean([L, 'WSGIDaemonProcess a']).config.processGroups[0]!.sendAheadMs, 2);
      refuse([L, 'WSGIDaemonProcess a send-ahead=soon'], 'WSGIDaemonProcess', 'WSGIDaemonProcess', /send-ahead.*number of milliseconds.*not "soon"/);
      refuse([L, 'WSGIDaemonProcess a send-ahead=-1'], 'WSGIDaemonProcess', 'WSGIDaemonProcess', /send-ahead.*not "-1"/);
    });

    it('python-executable= (a wsgi-host extension) names the interpreter itself', () => {
      const site = clean([L, 'WSGIDaemonProcess a python-executable=/opt/venv/bin/python', 'WSGIDaemonProcess b python-executable=python3.12']);
      assert.equal(site.config.processGroups[0]!.python, '/opt/venv/bin/python');
      assert.equal(site.config.processGroups[1]!.python, 'python3.12');
    });

    it('defaults are mod_wsgi\'s', () => {
      const site = clean([L, 'WSGIDaemonProcess plain']);
      const group = site.config.processGroups[0]!;
      assert.deepEqual(group, { ...defaultProcessGroup('plain', 'python3'), origin: { file: site.file, line: 2 } });
      assert.equal(group.threads, 15);
      assert.equal(group.multiprocess, false);
    });

    it('applies every option that means something for wsgi-host', () => {
      const site = clean([
        L,
        'WSGIDaemonProcess full processes=3 threads=7 user=alice group=staff umask=0027 home=work \\',
        '  lang=en_US.UTF-8 locale=C.UTF-8 display-name=%{GROUP} python-home=/opt/venv python-path=lib:/abs/lib2 python-eggs=eggs \\',
        '  switch-interval=0.01 maximum-requests=100 maximum-requests-jitter=10 restart-interval=3600 inactivity-timeout=300 \\',
        '  request-timeout=60 interrupt-timeout=5 deadlock-timeout=30 startup-timeout=15 graceful-timeout=20 eviction-timeout=25 \\',
        '  shutdown-timeout=8 queue-timeout=45 socket-timeout=9 cpu-time-limit=120 cpu-priority=-5 memory-limit=512M \\',
        '  virtual-memory-limit=1G maximum-rss=1048576 stack-size=512k reload-on-changes=On application-groups=processes send-ahead=0.5 \\',
        '  scheduling-policy=Normal',
      ]);
      assert.deepEqual(site.config.processGroups[0]!, {
        ...defaultProcessGroup('full', 'python3'),
        processes: 3,
        threads: 7,
        multiprocess: true,
        user: 'alice',
        group: 'staff',
        umask: 0o027,
        home: site.at('work'),
        lang: 'en_US.UTF-8',
        locale: 'C.UTF-8',
        displayName: '(wsgi:full)',
        python: '/opt/venv/bin/python3',
        pythonPath: [site.at('lib'), '/abs/lib2'],
        environment: { PYTHON_EGG_CACHE: site.at('eggs') },
        switchInterval: 0.01,
        maximumRequests: 100,
        maximumRequestsJitter: 10,
        restartInterval: 3600,
        inactivityTimeout: 300,
        requestTimeout: 60,
        interruptTimeout: 5,
        deadlockTimeout: 30,
        startupTimeout: 15,
        gracefulTimeout: 20,
        evictionTimeout: 25,
        shutdownTimeout: 8,
        queueTimeout: 45,
        sendAheadMs: 0.5,
        socketTimeout: 9,
        cpuTimeLimit: 120,
        cpuPriority: -5,
        schedulingPolicy: 'normal',
        memoryLimit: 512 * 1024 * 1024,
        virtualMemoryLimit: 1024 ** 3,
        maximumRss: 1048576,
        stackSize: 512 * 1024,
        reloadOnChanges: true,
        applicationGroups: 'processes',
        origin: { file: site.file, line: 2 },
      });
    });

    it('application-groups= (a wsgi-host extension): sub-interpreters by default, or processes', () => {
      const site = clean([L, 'WSGIDaemonProcess a', 'WSGIDaemonProcess b application-groups=Processes', 'WSGIDaemonProcess c application-groups=sub-interpreters']);
      assert.deepEqual(site.config.processGroups.map((g) => g.applicationGroups), ['sub-interpreters', 'processes', 'sub-interpreters']);
    });

    it('display-name other than %{GROUP} is kept as written; option names are case-insensitive', () => {
      const g = clean([L, 'WSGIDaemonProcess g display-name=my-app THREADS=2']).config.processGroups[0]!;
      assert.equal(g.displayName, 'my-app');
      assert.equal(g.threads, 2);
    });

    it('processes= makes wsgi.multiprocess true even with processes=1; without it, false', () => {
      const { config } = clean([L, 'WSGIDaemonProcess one processes=1', 'WSGIDaemonProcess none threads=1']);
      assert.deepEqual(config.processGroups.map((g) => [g.processes, g.multiprocess]), [[1, true], [1, false]]);
    });

    for (const option of TRANSPORT) {
      it(`${option}= has no effect in wsgi-host and says so in a warning`, () => {
        const site = loaded([L, `WSGIDaemonProcess t ${option}=10 threads=2`]);
        warned(site, 'WSGIDaemonProcess', 'WSGIDaemonProcess', new RegExp(`^option '${option}' has no effect in wsgi-host: `));
        assert.equal(site.result.warnings.length, 1);
        assert.deepEqual(site.config.processGroups[0]!, { ...defaultProcessGroup('t', 'python3'), threads: 2, origin: { file: site.file, line: 2 } });
      });
    }

    for (const [option, reason] of Object.entries(REFUSED)) {
      it(`${option}= is refused with its reason`, () => {
        refuse([L, `WSGIDaemonProcess r ${option}=x`], 'WSGIDaemonProcess', 'WSGIDaemonProcess', reason);
      });
    }

    it('an unknown option is named, with the allowed ones; an option without = is an error', () => {
      const problem = refuse([L, 'WSGIDaemonProcess u threads=2 max-requests=5'], 'WSGIDaemonProcess', 'WSGIDaemonProcess', /^Invalid option to WSGI daemon process definition: 'max-requests'\. Allowed: /);
      for (const name of APPLIED.concat(TRANSPORT)) assert.ok(problem.message.includes(name), `lists ${name}`);
      refuse([L, 'WSGIDaemonProcess u threads'], 'WSGIDaemonProcess', 'WSGIDaemonProcess', /Invalid option to WSGI daemon process definition: "threads" \(options are name=value\)/);
      refuse([L, 'WSGIDaemonProcess u =5'], 'WSGIDaemonProcess', 'WSGIDaemonProcess', /Invalid option to WSGI daemon process definition: "=5"/);
    });

    const malformed: [string, RegExp][] = [
      ['processes=0', /option 'processes' needs a whole number of at least 1, not "0"/],
      ['processes=two', /option 'processes' needs a whole number of at least 1, not "two"/],
      ['threads=1.5', /option 'threads' needs a whole number of at least 1, not "1\.5"/],
      ['threads=', /option 'threads' needs a whole number of at least 1, not ""/],
      ['umask=999', /option 'umask' needs an octal mask such as 0022, not "999"/],
      ['maximum-requests=-1', /option 'maximum-requests' needs a whole number of at least 0, not "-1"/],
      ['request-timeout=soon', /option 'request-timeout' needs a number of seconds \(0 or more\), not "soon"/],
      ['queue-timeout=-2', /option 'queue-timeout' needs a number of seconds \(0 or more\), not "-2"/],
      ['switch-interval=0', /option 'switch-interval' needs a positive number of seconds, not "0"/],
      ['cpu-priority=30', /option 'cpu-priority' needs a nice value from -20 to 20, not "30"/],
      ['memory-limit=lots', /option 'memory-limit' needs a size in bytes \(e\.g\. 536870912 or 512M\), not "lots"/],
      ['stack-size=1T', /option 'stack-size' needs a size in bytes/],
      ['reload-on-changes=maybe', /option 'reload-on-changes' takes On or Off, not "maybe"/],
      ['application-groups=threads', /option 'application-groups' takes sub-interpreters or processes, not "threads"/],
      ['scheduling-policy=fifo', /option 'scheduling-policy' takes batch or normal, not "fifo"/],
      // JavaScript's number syntax is not a configuration's: mod_wsgi reads digits (atoi).
      ['threads=1e2', /option 'threads' needs a whole number of at least 1, not "1e2"/],
      ['processes=0x2', /option 'processes' needs a whole number of at least 1, not "0x2"/],
      ['processes=99999999999999999999', /option 'processes' needs a whole number of at least 1/],
      ['maximum-requests=Infinity', /option 'maximum-requests' needs a whole number of at least 0, not "Infinity"/],
      ['request-timeout=1e3', /option 'request-timeout' needs a number of seconds \(0 or more\), not "1e3"/],
      ['request-timeout=Infinity', /option 'request-timeout' needs a number of seconds \(0 or more\), not "Infinity"/],
      ['cpu-priority=0x5', /option 'cpu-priority' needs a nice value from -20 to 20, not "0x5"/],
      ['response-buffer-size=1e6', /option 'response-buffer-size' needs a size in bytes of at least 65536, not "1e6"/],
      ['user=', /option 'user' needs a user name or #uid, not an empty value/],
      ['group=', /option 'group' needs a group name or #gid, not an empty value/],
    ];
    for (const [option, message] of malformed) {
      it(`a malformed value is an error: ${option}`, () => {
        refuse([L, `WSGIDaemonProcess m ${option}`], 'WSGIDaemonProcess', 'WSGIDaemonProcess', message);
      });
    }

    it('a group name may be defined once, across the main server and virtual hosts', () => {
      refuse([L, 'WSGIDaemonProcess www', 'WSGIDaemonProcess www threads=2'], 'WSGIDaemonProcess www threads', 'WSGIDaemonProcess', /^Name duplicates previous WSGI daemon definition: 'www'$/);
      refuse([L, 'WSGIDaemonProcess www', ...VH('WSGIDaemonProcess www')], '  WSGIDaemonProcess www', 'WSGIDaemonProcess', /Name duplicates previous WSGI daemon definition: 'www'/);
    });

    it('needs a name, which cannot be a %{...} expansion', () => {
      refuse([L, 'WSGIDaemonProcess'], 'WSGIDaemonProcess', 'WSGIDaemonProcess', /takes at least 1 arguments?: WSGIDaemonProcess name \[option=value \.\.\.\]/);
      refuse([L, 'WSGIDaemonProcess %{GLOBAL}'], 'WSGIDaemonProcess', 'WSGIDaemonProcess', /a daemon process group cannot be called "%\{GLOBAL\}"/);
      refuse([L, 'WSGIDaemonProcess "" processes=2'], 'WSGIDaemonProcess', 'WSGIDaemonProcess', /Name of WSGI daemon process not supplied/);
    });

    it('a group defined in a <VirtualHost> is scoped to that host\'s ServerName; one at server level is not scoped', () => {
      const { config } = clean([L, 'ServerName main.example', 'WSGIDaemonProcess global', ...VH('WSGIDaemonProcess scoped'), '<VirtualHost *:8080>', '  WSGIDaemonProcess unnamed', '</VirtualHost>']);
      assert.deepEqual(config.processGroups.map((g) => [g.name, g.scope]), [['global', null], ['scoped', 'vh.example'], ['unnamed', 'main.example']]);
    });

    it('a group in a <VirtualHost> without ServerName is scoped to the main server\'s name even when ServerName comes later', () => {
      const { config } = clean([L, '<VirtualHost *:8080>', '  WSGIDaemonProcess unnamed', '</VirtualHost>', 'ServerName main.example']);
      assert.equal(config.processGroups[0]!.scope, 'main.example');
    });
  });

  describe('WSGIProcessGroup, WSGIApplicationGroup, WSGICallableObject, WSGIRestrictProcess', () => {
    it('set the per-directory settings at every level', () => {
      for (const level of LEVELS) {
        const body = ['WSGIProcessGroup %{GLOBAL}', 'WSGIApplicationGroup %{SERVER}', 'WSGICallableObject app', 'WSGIRestrictProcess a b'];
        const lines = level === 'server' ? [L, ...body] : level === 'vhost' ? [L, ...VH(...body)] : [L, ...DIR(...body)];
        const s = ownSettings(loaded(lines).config, level);
        assert.equal(s.processGroup, '%{GLOBAL}');
        assert.equal(s.applicationGroup, '%{SERVER}');
        assert.equal(s.callableObject, 'app');
        assert.deepEqual(s.restrictProcess, ['a', 'b']);
      }
    });

    it('a WSGIProcessGroup or process-group= naming no defined group is a warning (requests get 500), not an error', () => {
      const site = loaded([L, 'WSGIProcessGroup nope', ...DIR('WSGIProcessGroup missing'), 'WSGIScriptAlias / {{DIR}}/app.wsgi process-group=absent']);
      assert.equal(site.result.warnings.length, 3);
      warned(site, 'WSGIProcessGroup nope', 'WSGIProcessGroup', /^no WSGIDaemonProcess called 'nope' is defined: requests for it will get 500 \(WSGI0150\)$/);
      warned(site, 'WSGIProcessGroup missing', 'WSGIProcessGroup', /'missing'/);
      warned(site, 'WSGIScriptAlias', 'WSGIScriptAlias', /no WSGIDaemonProcess called 'absent'/);
      assert.ok(site.config.warnings.some((w) => w.includes("'nope'")), 'the warnings are also on the config');
    });

    it('no warning for a group defined later in the file, %{GLOBAL} or %{ENV:...}', () => {
      clean([L, 'WSGIProcessGroup later', 'WSGIScriptAlias / {{DIR}}/app.wsgi process-group=%{ENV:GROUP}', ...DIR('WSGIProcessGroup %{GLOBAL}'), 'WSGIDaemonProcess later']);
    });

    it('take exactly one argument', () => {
      refuse([L, 'WSGIProcessGroup a b'], 'WSGIProcessGroup', 'WSGIProcessGroup', /takes 1 argument/);
      refuse([L, 'WSGIApplicationGroup'], 'WSGIApplicationGroup', 'WSGIApplicationGroup', /takes 1 argument/);
    });
  });

  describe('flags', () => {
    const FLAGS: [string, keyof DirectorySettings][] = [
      ['WSGIPassAuthorization', 'passAuthorization'],
      ['WSGIChunkedRequest', 'chunkedRequest'],
      ['WSGIScriptReloading', 'scriptReloading'],
      ['WSGIErrorOverride', 'errorOverride'],
      ['WSGIEnableSendfile', 'enableSendfile'],
      ['WSGIRequestBodySpooling', 'requestBodySpooling'],
    ];
    for (const [name, key] of FLAGS) {
      it(`${name} On|Off sets ${key} at every level; a bad value is an error`, () => {
        for (const level of LEVELS) {
          assert.equal(ownSettings(clean(at(level, `${name} On`)).config, level)[key], true);
          assert.equal(ownSettings(clean(at(level, `${name} off`)).config, level)[key], false);
        }
        refuse([L, `${name} yes`], name, name, /takes On or Off, not "yes"/);
        refuse([L, `${name}`], name, name, /takes one argument: On or Off/);
        refuse([L, `${name} On Off`], name, name, /takes one argument: On or Off/);
      });
    }

    it('WSGIMapHEADToGET takes On, Off or Auto', () => {
      assert.equal(clean([L, 'WSGIMapHEADToGET On']).config.mainServer.settings.mapHeadToGet, 'on');
      assert.equal(clean([L, ...VH('WSGIMapHEADToGET OFF')]).config.virtualHosts[0]!.settings.mapHeadToGet, 'off');
      assert.equal(clean([L, ...DIR('WSGIMapHEADToGET auto')]).config.mainServer.sections[0]!.settings.mapHeadToGet, 'auto');
      refuse([L, 'WSGIMapHEADToGET sometimes'], 'WSGIMapHEADToGET', 'WSGIMapHEADToGET', /takes On, Off or Auto, not "sometimes"/);
    });

    it('WSGITrustedProxyHeaders are stored as environ names; WSGITrustedProxies as written', () => {
      const s = clean([L, 'WSGITrustedProxyHeaders X-Forwarded-For x-forwarded-proto', 'WSGITrustedProxies 10.0.0.1 192.168.0.0/16']).config.mainServer.settings;
      assert.deepEqual(s.trustedProxyHeaders, ['HTTP_X_FORWARDED_FOR', 'HTTP_X_FORWARDED_PROTO']);
      assert.deepEqual(s.trustedProxies, ['10.0.0.1', '192.168.0.0/16']);
      assert.deepEqual(clean([L, 'WSGITrustedProxies ::1 fd00::/8']).config.mainServer.settings.trustedProxies, ['::1', 'fd00::/8']);
      refuse([L, 'WSGITrustedProxies 10.0.0.1 proxy.example.com'], 'WSGITrustedProxies', 'WSGITrustedProxies', /"proxy\.example\.com" is not an IP address or a subnet/);
      refuse([L, 'WSGITrustedProxies 10.0.0.0/33'], 'WSGITrustedProxies', 'WSGITrustedProxies', /bad prefix length: use 0 to 32/);
    });
  });

  describe('interpreter settings (server level only)', () => {
    it('defaults', () => {
      const { config } = clean([L, 'WSGIDaemonProcess g']);
      assert.deepEqual(config.python, {
        home: null, defaultInterpreter: 'python3', path: [], optimize: 0, hashSeed: null, warnings: [], dontWriteBytecode: false,
        restrictEmbedded: false, restrictStdin: false, restrictStdout: false, restrictSignal: true,
      });
      assert.deepEqual(config.processGroups[0]!.interpreterFlags, []);
      assert.equal(config.socketPrefix, path.join(config.serverRoot, 'logs', 'wsgi'));
    });

    it('WSGIPythonHome: its bin/python3 runs the groups without python-home=; WSGIPythonPath: for the embedded group', () => {
      const site = clean([L, 'WSGIPythonHome /opt/py:/opt/py-exec', 'WSGIPythonPath lib:/abs/lib', 'WSGIDaemonProcess a', 'WSGIDaemonProcess b python-home=/opt/venv']);
      assert.equal(site.config.python.home, '/opt/py');
      assert.deepEqual(site.config.python.path, [site.at('lib'), '/abs/lib']);
      assert.deepEqual(site.config.processGroups.map((g) => g.python), ['/opt/py/bin/python3', '/opt/venv/bin/python3']);
      assert.deepEqual(site.config.processGroups.map((g) => g.pythonPath), [[], []]);
    });

    it('WSGIPythonOptimize, WSGIPythonWarnings and WSGIDontWriteBytecode become interpreter flags of every group, wherever defined', () => {
      const { config } = clean([
        L,
        'WSGIDaemonProcess before',
        'WSGIPythonOptimize 2',
        'WSGIPythonWarnings ignore::DeprecationWarning',
        'WSGIPythonWarnings error',
        ...VH('WSGIDaemonProcess invhost'),
        'WSGIDontWriteBytecode On',
        'WSGIDaemonProcess after',
      ]);
      assert.equal(config.python.optimize, 2);
      assert.equal(config.python.dontWriteBytecode, true);
      assert.deepEqual(config.python.warnings, ['ignore::DeprecationWarning', 'error']);
      for (const group of config.processGroups) assert.deepEqual(group.interpreterFlags, ['-OO', '-B', '-W', 'ignore::DeprecationWarning', '-W', 'error'], group.name);
      assert.deepEqual(clean([L, 'WSGIPythonOptimize 1', 'WSGIDaemonProcess g']).config.processGroups[0]!.interpreterFlags, ['-O']);
    });

    it('bad values', () => {
      refuse([L, 'WSGIPythonOptimize 3'], 'WSGIPythonOptimize', 'WSGIPythonOptimize', /takes 0, 1 or 2, not "3"/);
      refuse([L, 'WSGIPythonHashSeed abc'], 'WSGIPythonHashSeed', 'WSGIPythonHashSeed', /takes "random" or a number from 0 to 4294967295, not "abc"/);
      refuse([L, 'WSGIPythonHashSeed 4294967296'], 'WSGIPythonHashSeed', 'WSGIPythonHashSeed', /not "4294967296"/);
      refuse([L, 'WSGIDontWriteBytecode maybe'], 'WSGIDontWriteBytecode', 'WSGIDontWriteBytecode', /takes On or Off, not "maybe"/);
      refuse([L, 'WSGIRestrictEmbedded 1'], 'WSGIRestrictEmbedded', 'WSGIRestrictEmbedded', /takes On or Off, not "1"/);
    });

    it('WSGIPythonHashSeed goes into every group\'s environment', () => {
      const { config } = clean([L, 'WSGIPythonHashSeed 123', 'WSGIDaemonProcess a', 'WSGIDaemonProcess b']);
      assert.equal(config.python.hashSeed, '123');
      for (const group of config.processGroups) assert.equal(group.environment['PYTHONHASHSEED'], '123');
      assert.equal(clean([L, 'WSGIPythonHashSeed random']).config.python.hashSeed, 'random');
    });

    it('WSGIRestrictEmbedded, WSGIRestrictStdin, WSGIRestrictStdout, WSGIRestrictSignal, WSGISocketPrefix', () => {
      const site = clean([L, 'WSGIRestrictEmbedded On', 'WSGIRestrictStdin On', 'WSGIRestrictStdout On', 'WSGIRestrictSignal Off', 'WSGISocketPrefix run/wsgi']);
      assert.equal(site.config.python.restrictEmbedded, true);
      assert.equal(site.config.python.restrictStdin, true);
      assert.equal(site.config.python.restrictStdout, true);
      assert.equal(site.config.python.restrictSignal, false);
      assert.equal(site.config.socketPrefix, site.at('run/wsgi'));
    });
  });

  describe('WSGIImportScript and preloading', () => {
    it('preloads the script into the group, in the application group given (%{GLOBAL} is the main interpreter, "")', () => {
      const site = clean([L, 'WSGIDaemonProcess www', 'WSGIImportScript {{DIR}}/startup.py process-group=www application-group=%{GLOBAL}', 'WSGIImportScript lib/warm.py application-group=site process-group=www']);
      assert.deepEqual(site.config.importScripts, [
        { script: site.at('startup.py'), processGroup: 'www', applicationGroup: '%{GLOBAL}' },
        { script: site.at('lib/warm.py'), processGroup: 'www', applicationGroup: 'site' },
      ]);
      assert.deepEqual(site.config.processGroups[0]!.preload, [
        { script: site.at('startup.py'), applicationGroup: '' },
        { script: site.at('lib/warm.py'), applicationGroup: 'site' },
      ]);
    });

    it('both options are required; unknown options are named', () => {
      refuse([L, 'WSGIDaemonProcess www', 'WSGIImportScript {{DIR}}/s.py process-group=www'], 'WSGIImportScript', 'WSGIImportScript', /takes 3 arguments: WSGIImportScript file-path process-group=NAME application-group=NAME/);
      refuse([L, 'WSGIDaemonProcess www', 'WSGIImportScript {{DIR}}/s.py application-group=a other=b'], 'WSGIImportScript', 'WSGIImportScript', /Invalid option to WSGI import script definition: 'other=b'\. Allowed: process-group=, application-group=/);
      refuse([L, 'WSGIImportScript {{DIR}}/s.py application-group=a application-group=b'], 'WSGIImportScript', 'WSGIImportScript', /Name of WSGI daemon process group required/);
    });

    it('the application group is required even when process-group= is given twice', () => {
      refuse([L, 'WSGIDaemonProcess g', 'WSGIImportScript {{DIR}}/s.py process-group=g process-group=g'], 'WSGIImportScript', 'WSGIImportScript', /application-group/);
    });

    it('the group must be defined before the WSGIImportScript line', () => {
      refuse([L, 'WSGIImportScript {{DIR}}/s.py process-group=later application-group=%{GLOBAL}', 'WSGIDaemonProcess later'], 'WSGIImportScript', 'WSGIImportScript', /no WSGIDaemonProcess called 'later' is defined before this line; define the group first/);
      refuse([L, 'WSGIImportScript {{DIR}}/s.py process-group=nowhere application-group=%{GLOBAL}'], 'WSGIImportScript', 'WSGIImportScript', /'nowhere'/);
    });

    it('%{GLOBAL} as process group needs no WSGIDaemonProcess (embedded mode)', () => {
      const site = clean([L, 'WSGIImportScript {{DIR}}/s.py process-group=%{GLOBAL} application-group=%{GLOBAL}']);
      assert.deepEqual(site.config.importScripts, [{ script: site.at('s.py'), processGroup: '%{GLOBAL}', applicationGroup: '%{GLOBAL}' }]);
    });

    it('WSGIScriptAlias with both process-group= and application-group= preloads the script (mod_wsgi\'s rule)', () => {
      const site = clean([L, 'WSGIDaemonProcess www', 'WSGIScriptAlias / {{DIR}}/app.wsgi process-group=www application-group=site']);
      assert.deepEqual(site.config.processGroups[0]!.preload, [{ script: site.at('app.wsgi'), applicationGroup: 'site' }]);
      assert.deepEqual(site.config.importScripts, [{ script: site.at('app.wsgi'), processGroup: 'www', applicationGroup: 'site' }]);
    });

    it('no preload with only one of the two options, or with a %{...} expansion other than %{GLOBAL}', () => {
      for (const options of ['process-group=www', 'application-group=site', 'process-group=www application-group=%{RESOURCE}', 'process-group=www application-group=%{ENV:APP}', 'process-group=%{ENV:G} application-group=site']) {
        const site = loaded([L, 'WSGIDaemonProcess www', `WSGIScriptAlias / {{DIR}}/app.wsgi ${options}`]);
        assert.deepEqual(site.config.processGroups[0]!.preload, [], options);
        assert.deepEqual(site.config.importScripts, [], options);
      }
    });

    it('application-group=%{GLOBAL} with a process group preloads too (mod_wsgi turns %{GLOBAL} into "" before checking for "%{")', () => {
      const site = clean([L, 'WSGIDaemonProcess www', 'WSGIScriptAlias / {{DIR}}/app.wsgi process-group=www application-group=%{GLOBAL}']);
      assert.deepEqual(site.config.processGroups[0]!.preload, [{ script: site.at('app.wsgi'), applicationGroup: '' }]);
    });

    it('WSGIScriptAliasMatch preloads too when its target has no $ substitution', () => {
      const site = clean([L, 'WSGIDaemonProcess www', 'WSGIScriptAliasMatch ^/app {{DIR}}/app.wsgi process-group=www application-group=site']);
      assert.deepEqual(site.config.processGroups[0]!.preload, [{ script: site.at('app.wsgi'), applicationGroup: 'site' }]);
    });

    it('WSGIScriptAliasMatch with $n in the target does not preload', () => {
      const site = clean([L, 'WSGIDaemonProcess www', 'WSGIScriptAliasMatch ^/(\\w+) /srv/$1.wsgi process-group=www application-group=site']);
      assert.deepEqual(site.config.processGroups[0]!.preload, []);
    });

    it('the same script is preloaded once per application group', () => {
      const site = clean([L, 'WSGIDaemonProcess www', 'WSGIScriptAlias /a {{DIR}}/app.wsgi process-group=www application-group=site', 'WSGIScriptAlias /b {{DIR}}/app.wsgi process-group=www application-group=site', 'WSGIImportScript {{DIR}}/app.wsgi process-group=www application-group=other']);
      assert.deepEqual(site.config.processGroups[0]!.preload, [{ script: site.at('app.wsgi'), applicationGroup: 'site' }, { script: site.at('app.wsgi'), applicationGroup: 'other' }]);
    });
  });
});

// ------------------------------------------------------------------------------------------------

describe('unknown and unsupported directives, sections, nesting', () => {
  it('an unknown directive is an "Invalid command" error at its line', () => {
    refuse([L, 'ServerName a.example', 'Bogus on'], 'Bogus', 'Bogus', /^Invalid command 'Bogus': wsgi-host does not implement this directive \(perhaps misspelled\?\)\. Remove it, or run with --skip-unsupported/);
    refuse([L, ...DIR('WSGIPassAuthorisation On')], 'WSGIPassAuthorisation', 'WSGIPassAuthorisation', /Invalid command 'WSGIPassAuthorisation'/);
  });

  it('with skipUnsupported it is a warning and the configuration loads', () => {
    const site = loaded([L, 'Bogus on', 'ServerName b.example'], { skipUnsupported: true });
    assert.equal(site.result.warnings.length, 1);
    warned(site, 'Bogus', 'Bogus', /^Invalid command 'Bogus': wsgi-host does not implement this directive \(perhaps misspelled\?\) \(ignored because of --skip-unsupported\)$/);
    assert.equal(site.config.mainServer.serverName, 'b.example');
    assert.deepEqual(site.config.warnings, site.result.warnings.map(formatProblem));
  });

  it('known but unimplemented directives say why', () => {
    refuse([L, 'RewriteEngine On'], 'RewriteEngine', 'RewriteEngine', /mod_rewrite is not provided by wsgi-host/);
    refuse([L, 'ScriptAlias /cgi-bin/ /srv/cgi/'], 'ScriptAlias', 'ScriptAlias', /CGI is not provided by wsgi-host; use WSGIScriptAlias/);
    refuse([L, 'WSGIDispatchScript /srv/dispatch.py'], 'WSGIDispatchScript', 'WSGIDispatchScript', /WSGIDispatchScript is not supported/);
    refuse([L, ...DIR('AuthBasicProvider dbm')], 'AuthBasicProvider', 'AuthBasicProvider', /the 'dbm' authentication provider is not provided by wsgi-host/);
    warned(loaded([L, 'Header set X-A b'], { skipUnsupported: true }), 'Header', 'Header', /mod_headers is not supported yet/);
  });

  it('LoadModule, LoadFile, PidFile, Mutex and other process-level directives are accepted with no effect', () => {
    const site = clean([
      'LoadModule wsgi_module modules/mod_wsgi.so',
      'LoadFile /usr/lib/libpython3.so',
      'PidFile run/httpd.pid',
      'Mutex default',
      'ServerTokens Prod',
      'ServerSignature Off',
      'TraceEnable Off',
      'HostnameLookups Off',
      'StartServers 4',
      'WSGISocketRotation Off',
      'WSGILazyInitialization On',
      L,
    ]);
    const baseline = clean([L]);
    assert.deepEqual({ ...site.config, configFile: '', serverRoot: '', socketPrefix: '', listeners: addresses(site.config.listeners), mainServer: { ...site.config.mainServer, documentRoot: '', errorLog: null } },
      { ...baseline.config, configFile: '', serverRoot: '', socketPrefix: '', listeners: addresses(baseline.config.listeners), mainServer: { ...baseline.config.mainServer, documentRoot: '', errorLog: null } });
  });

  it('<IfModule mod_wsgi.c> and <IfModule wsgi_module> are true; <IfModule mod_rewrite.c> is false', () => {
    const { config } = clean([
      L,
      '<IfModule mod_wsgi.c>', '  WSGIPassAuthorization On', '</IfModule>',
      '<IfModule wsgi_module>', '  WSGIChunkedRequest On', '</IfModule>',
      '<IfModule !mod_wsgi.c>', '  Bogus', '</IfModule>',
      '<IfModule mod_rewrite.c>', '  RewriteEngine On', '</IfModule>',
      '<IfModule !rewrite_module>', '  WSGIErrorOverride On', '</IfModule>',
      '<IfModule mod_alias.c>', '  Alias /a /srv/a', '</IfModule>',
    ]);
    assert.equal(config.mainServer.settings.passAuthorization, true);
    assert.equal(config.mainServer.settings.chunkedRequest, true);
    assert.equal(config.mainServer.settings.errorOverride, true);
    assert.equal(config.mainServer.aliases.length, 1);
  });

  for (const section of ['Limit GET POST', 'LimitExcept GET', 'If "%{HTTPS} == \'on\'"', 'Proxy *']) {
    const name = section.split(' ')[0]!;
    it(`<${name}> is an unsupported section: an error, or a warning with --skip-unsupported`, () => {
      const lines = [L, ...DIR(`<${section}>`, '  Require all granted', `</${name}>`)];
      refuse(lines, `<${name}`, `<${name}>`, new RegExp(`^<${name}> sections are not supported by wsgi-host\\. Remove it`));
      const site = loaded(lines, { skipUnsupported: true });
      warned(site, `<${name}`, `<${name}>`, /sections are not supported.*--skip-unsupported/);
      assert.equal(site.config.mainServer.sections[0]!.settings.auth, undefined, 'nothing inside is applied');
    });
  }

  it('<Location>, <Directory> and <LocationMatch> cannot be nested in <Directory>; <Files> can', () => {
    refuse([L, '<Directory /srv>', '  <Location /x>', '  </Location>', '</Directory>'], '<Location', '<Location>', /^<Location> cannot be nested in <directory>; only <Files> may appear inside <Directory>$/);
    refuse([L, '<Directory /srv>', '  <Directory /srv/a>', '  </Directory>', '</Directory>'], '<Directory /srv/a', '<Directory>', /cannot be nested in <directory>/);
    refuse([L, '<Location /x>', '  <Files a.py>', '  </Files>', '</Location>'], '<Files', '<Files>', /^<Files> cannot be nested in <location>/);
    const { config } = clean([L, '<Directory /srv>', '  <Files "*.wsgi">', '    SetHandler wsgi-script', '  </Files>', '  <FilesMatch "\\.py$">', '    Require all denied', '  </FilesMatch>', '</Directory>']);
    const dir = config.mainServer.sections[0]!;
    assert.equal(config.mainServer.sections.length, 1);
    assert.deepEqual(dir.files.map((f) => [f.kind, f.path, f.pattern?.source ?? null, f.settings]), [
      ['files', '*.wsgi', null, { setHandler: 'wsgi-script' }],
      ['files', '\\.py$', '\\.py$', { auth: { require: { kind: 'container', op: 'any', negate: false, merged: false, children: [{ kind: 'require', provider: 'all', args: ['denied'], negate: false }] } } }],
    ]);
  });

  it('<VirtualHost> only at top level', () => {
    refuse([L, '<VirtualHost *:8080>', '  <VirtualHost *:8080>', '  </VirtualHost>', '</VirtualHost>'], '  <VirtualHost', '<VirtualHost>', /^<VirtualHost> is only allowed at the top level of the configuration$/);
    refuse([L, '<Directory /srv>', '  <VirtualHost *:8080>', '  </VirtualHost>', '</Directory>'], '<VirtualHost', '<VirtualHost>', /only allowed at the top level/);
  });

  it('<VirtualHost> addresses: *:port, IP:port, [IPv6]:port, _default_, several; a bad one is an error', () => {
    const { config } = clean([L, '<VirtualHost *:8080 127.0.0.1:8080 [::1]:8080 _default_:8080 *>', '</VirtualHost>']);
    assert.deepEqual(config.virtualHosts[0]!.addresses, [
      { host: '*', port: 8080 }, { host: '127.0.0.1', port: 8080 }, { host: '::1', port: 8080 }, { host: '*', port: 8080 }, { host: '*', port: 0 },
    ]);
    refuse([L, '<VirtualHost>', '</VirtualHost>'], '<VirtualHost', '<VirtualHost>', /needs at least one address, e\.g\. <VirtualHost \*:80>/);
    refuse([L, '<VirtualHost 8080>', '</VirtualHost>'], '<VirtualHost', '<VirtualHost>', /invalid address "8080"; use \*:PORT, IP:PORT or \[IPv6\]:PORT/);
  });

  it('a <VirtualHost> on a port no Listen covers is a warning', () => {
    const site = loaded([L, '<VirtualHost *:9090>', '</VirtualHost>']);
    assert.deepEqual(site.result.warnings, [{ file: site.file, line: 0, directive: '<VirtualHost>', message: 'no Listen directive covers port 9090: this virtual host will never be used' }]);
  });

  it('section arguments: one path, or ~ and a regex; a bad regex is an error', () => {
    const site = clean([L, '<Directory ~ "^/srv/(a|b)">', '</Directory>', '<Location ~ "^/api">', '</Location>', '<DirectoryMatch "^/x">', '</DirectoryMatch>', '<Directory docs/>', '</Directory>']);
    assert.deepEqual(site.config.mainServer.sections.map((s) => [s.kind, s.path, s.pattern?.source ?? null]), [
      ['directory', '^/srv/(a|b)', '^\\/srv\\/(a|b)'],
      ['location', '^/api', '^\\/api'],
      ['directory', '^/x', '^\\/x'],
      ['directory', site.at('docs'), null],
    ]);
    refuse([L, '<Directory /a /b>', '</Directory>'], '<Directory', '<Directory>', /takes one argument \(a path, or ~ and a regular expression\)/);
    refuse([L, '<LocationMatch "^/(x">', '</LocationMatch>'], '<LocationMatch', '<LocationMatch>', /invalid regular expression "\^\/\(x"/);
  });

  it('a syntax error from the parser stops the load, with its file and line', () => {
    const site = load([L, '<Directory /srv>', '  Options Indexes']);
    assert.equal(site.result.config, null);
    assert.ok(site.result.errors.length >= 1);
    assert.equal(site.result.errors[0]!.file, site.file);
  });

  it('Define, ${VAR} and <IfDefine> reach the semantic layer already resolved', () => {
    const site = clean(['Define PORT 8181', 'Listen ${PORT}', '<IfDefine PROD>', '  LogLevel error', '</IfDefine>', 'ServerName ${HOST_NAME}'], { defines: ['PROD'], env: { HOST_NAME: 'env.example' } });
    assert.deepEqual(addresses(site.config.listeners), [{ host: '', port: 8181 }]);
    assert.equal(site.config.mainServer.logLevel, 'error');
    assert.equal(site.config.mainServer.serverName, 'env.example');
  });

  it('every problem carries file, line, directive and message; formatProblem prints them', () => {
    const site = load([L, 'Timeout x']);
    assert.equal(formatProblem(site.result.errors[0]!), `${site.file}:2: Timeout: needs a number of at least 1, not "x"`);
  });
});

// ------------------------------------------------------------------------------------------------

describe('virtual host inheritance (Apache\'s merge of the main server into each <VirtualHost>)', () => {
  const MAIN = [
    L,
    'ServerName main.example',
    'ServerAdmin admin@main.example',
    'DocumentRoot main-docs',
    'ErrorLog logs/main-error.log',
    'LogLevel info wsgi:debug',
    'CustomLog logs/main-access.log common',
    'Alias /static /srv/static',
    'WSGIScriptAlias /main {{DIR}}/main.wsgi',
    'WSGIHandlerScript main-handler {{DIR}}/mh.wsgi',
    'SetEnv FROM main',
    'SetEnv SHARED main',
    'PassEnv HOME',
    'AddType text/x-main .main',
    'Options -FollowSymLinks',
    'WSGIPassAuthorization On',
    'WSGIApplicationGroup main-app',
    '<Directory /srv>',
    '  Options Indexes',
    '</Directory>',
  ];
  const BARE = ['<VirtualHost *:8080>', '  ServerName bare.example', '</VirtualHost>'];
  const OWN = [
    '<VirtualHost *:8080>',
    '  ServerName own.example',
    '  ServerAdmin admin@own.example',
    '  DocumentRoot own-docs',
    '  ErrorLog /dev/stderr',
    '  LogLevel error',
    '  CustomLog logs/own-access.log "%v %h"',
    '  Alias /own /srv/own',
    '  WSGIScriptAlias / {{DIR}}/own.wsgi',
    '  WSGIHandlerScript own-handler {{DIR}}/oh.wsgi',
    '  SetEnv SHARED vhost',
    '  PassEnv LANG',
    '  AddType text/x-own .own',
    '  Options +ExecCGI',
    '  WSGIApplicationGroup own-app',
    '  <Location /own>',
    '    Require all denied',
    '  </Location>',
    '</VirtualHost>',
  ];

  it('a vhost without its own ErrorLog, DocumentRoot, LogLevel, CustomLog, ServerAdmin takes the main server\'s', () => {
    const site = clean([...MAIN, ...BARE]);
    const main = site.config.mainServer;
    const bare = site.config.virtualHosts[0]!;
    assert.deepEqual(bare.errorLog, { kind: 'file', path: site.at('logs/main-error.log') });
    assert.equal(bare.documentRoot, site.at('main-docs'));
    assert.equal(bare.logLevel, 'info');
    assert.deepEqual(bare.moduleLogLevels, { wsgi: 'debug' });
    assert.deepEqual(bare.accessLogs, main.accessLogs);
    assert.equal(bare.serverAdmin, 'admin@main.example');
    assert.equal(bare.serverName, 'bare.example');
  });

  it('the inheritance does not depend on the order: main-server directives after the vhost count too', () => {
    const site = clean([L, ...BARE, 'ErrorLog /dev/stdout', 'DocumentRoot late-docs', 'LogLevel notice', 'CustomLog /dev/stdout "%h"', 'ServerAdmin late@main.example', 'Alias /late /srv/late']);
    const bare = site.config.virtualHosts[0]!;
    assert.deepEqual(bare.errorLog, { kind: 'stdout' });
    assert.equal(bare.documentRoot, site.at('late-docs'));
    assert.equal(bare.logLevel, 'notice');
    assert.deepEqual(bare.accessLogs, [{ target: { kind: 'stdout' }, format: '%h' }]);
    assert.equal(bare.serverAdmin, 'late@main.example');
    assert.deepEqual(bare.aliases.map((a) => a.urlPrefix), ['/late']);
  });

  it('a vhost with its own keeps them, and the main server is unchanged', () => {
    const site = clean([...MAIN, ...OWN]);
    const own = site.config.virtualHosts[0]!;
    assert.deepEqual(own.errorLog, { kind: 'stderr' });
    assert.equal(own.documentRoot, site.at('own-docs'));
    assert.equal(own.logLevel, 'error');
    assert.deepEqual(own.moduleLogLevels, {}, 'a plain LogLevel in the vhost does not inherit module levels (ap_merge_log_config)');
    assert.deepEqual(own.accessLogs, [{ target: { kind: 'file', path: site.at('logs/own-access.log') }, format: '%v %h' }]);
    assert.equal(own.serverAdmin, 'admin@own.example');
    const main = site.config.mainServer;
    assert.equal(main.serverName, 'main.example');
    assert.equal(main.logLevel, 'info');
    assert.deepEqual(main.aliases.map((a) => a.urlPrefix), ['/static']);
    assert.deepEqual(main.scriptAliases.map((a) => a.urlPrefix), ['/main']);
    assert.equal(main.sections.length, 1);
    const home = process.env['HOME'] !== undefined ? { HOME: process.env['HOME'] } : {};
    assert.deepEqual(resolveSettings([main.settings]).env, { FROM: 'main', SHARED: 'main', ...home });
  });

  it('aliases, script aliases and handler scripts: the vhost\'s own first, then the main server\'s', () => {
    const site = clean([...MAIN, ...OWN, ...BARE]);
    const [own, bare] = site.config.virtualHosts;
    assert.deepEqual(own!.aliases.map((a) => a.urlPrefix), ['/own', '/static']);
    assert.deepEqual(own!.scriptAliases.map((a) => a.urlPrefix), ['', '/main']);
    assert.deepEqual(Object.keys(resolveSettings([own!.settings]).handlerScripts).sort(), ['main-handler', 'own-handler']);
    assert.deepEqual(bare!.aliases.map((a) => a.urlPrefix), ['/static']);
    assert.deepEqual(bare!.scriptAliases.map((a) => a.target), [site.at('main.wsgi')]);
  });

  it('sections: the main server\'s first, then the vhost\'s', () => {
    const { config } = clean([...OWN, ...MAIN]);
    assert.deepEqual(config.virtualHosts[0]!.sections.map((s) => [s.kind, s.path]), [['directory', '/srv'], ['location', '/own']]);
  });

  it('settings merge: resolving the vhost\'s settings gives the main server\'s values overridden by the vhost\'s; Options changes accumulate', () => {
    const { config } = clean([...MAIN, ...OWN, ...BARE]);
    const [own, bare] = config.virtualHosts;
    const r = resolveSettings([own!.settings]);
    const passed = Object.fromEntries(['HOME', 'LANG'].filter((n) => process.env[n] !== undefined).map((n) => [n, process.env[n]]));
    assert.deepEqual(r.env, { FROM: 'main', SHARED: 'vhost', ...passed });
    assert.deepEqual(r.addTypes, { main: 'text/x-main', own: 'text/x-own' });
    assert.equal(r.passAuthorization, true);
    assert.equal(r.applicationGroup, 'own-app');
    assert.deepEqual(r.options, { indexes: false, followSymlinks: false, execCgi: true });
    assert.deepEqual(own!.settings.options, [
      { set: null, add: [], remove: ['followSymlinks'] },
      { set: null, add: ['execCgi'], remove: [] },
    ]);
    const b = resolveSettings([bare!.settings]);
    assert.deepEqual(b.env, { FROM: 'main', SHARED: 'main', ...Object.fromEntries(['HOME'].filter((n) => process.env[n] !== undefined).map((n) => [n, process.env[n]])) });
    assert.equal(b.applicationGroup, 'main-app');
    assert.deepEqual(b.options, { indexes: false, followSymlinks: false, execCgi: false });
    assert.deepEqual(resolveSettings([config.mainServer.settings]).options, { indexes: false, followSymlinks: false, execCgi: false });
  });

  it('mergeSettings copies, it does not share the main server\'s objects', () => {
    const base: DirectorySettings = { envOps: [{ op: 'set', name: 'A', value: '1' }], addTypes: { a: 'x/a' }, options: [] };
    const merged = mergeSettings(base, { envOps: [{ op: 'set', name: 'B', value: '2' }] });
    merged.envOps!.push({ op: 'set', name: 'C', value: '3' });
    assert.deepEqual(resolveSettings([merged]).env, { A: '1', B: '2', C: '3' });
    assert.deepEqual(base.envOps, [{ op: 'set', name: 'A', value: '1' }], 'the main server\'s SetEnv list is not changed through the merged one');
  });

  it('a vhost without ServerName takes the main server\'s, wherever the main ServerName is (Apache does it after reading the whole file)', () => {
    const { config } = clean([L, '<VirtualHost *:8080>', '</VirtualHost>', 'ServerName main.example']);
    assert.equal(config.virtualHosts[0]!.serverName, 'main.example');
  });

  it('a vhost without ServerName declared after the main ServerName takes it', () => {
    const { config } = clean([L, 'ServerName main.example', '<VirtualHost *:8080>', '</VirtualHost>']);
    assert.equal(config.virtualHosts[0]!.serverName, 'main.example');
  });

  it('a vhost setting only module log levels keeps the main server\'s level and merges module levels', () => {
    const { config } = clean([L, 'LogLevel info core:notice', ...VH('LogLevel wsgi:debug')]);
    const vh = config.virtualHosts[0]!;
    assert.equal(vh.logLevel, 'info');
    assert.deepEqual(vh.moduleLogLevels, { core: 'notice', wsgi: 'debug' });
  });

  it('UnsetEnv in a vhost removes what the main server set', () => {
    const { config } = clean([L, 'SetEnv A 1', 'SetEnv B 2', ...VH('UnsetEnv A')]);
    assert.deepEqual(resolveSettings([config.virtualHosts[0]!.settings]).env, { B: '2' });
  });

  it('SetEnv in a vhost wins over UnsetEnv in the main server (mod_env applies a layer\'s unsets to the inherited values only)', () => {
    const { config } = clean([L, 'UnsetEnv A', ...VH('SetEnv A 1')]);
    assert.deepEqual(resolveSettings([config.virtualHosts[0]!.settings]).env, { A: '1' });
  });
});

// ------------------------------------------------------------------------------------------------

describe('per-request settings layers: settingsLayers + resolveSettings', () => {
  /** Each section is labelled by its WSGIApplicationGroup; the layers are listed by label. */
  function labels(vhost: VirtualHostConfig, url: string, file: string | null): string[] {
    return settingsLayers(vhost, url, file).map((l) => l.applicationGroup ?? '(server)');
  }
  const label = (open: string, name: string, close: string): string[] => [open, `  WSGIApplicationGroup ${name}`, close];

  it('<Directory> sections apply from the shortest path to the longest, whatever their order in the file', () => {
    const { config } = clean([
      L,
      ...label('<Directory /srv/site/app>', 'deep', '</Directory>'),
      ...label('<Directory />', 'root', '</Directory>'),
      ...label('<Directory /srv/site>', 'mid', '</Directory>'),
      ...label('<Directory /srv>', 'top', '</Directory>'),
      ...label('<Directory /other>', 'other', '</Directory>'),
    ]);
    assert.deepEqual(labels(config.mainServer, '/x.py', '/srv/site/app/x.py'), ['(server)', 'root', 'top', 'mid', 'deep']);
    assert.deepEqual(labels(config.mainServer, '/x.py', '/srv/site/x.py'), ['(server)', 'root', 'top', 'mid']);
    assert.deepEqual(labels(config.mainServer, '/', '/srv/site/'), ['(server)', 'root', 'top', 'mid']);
    assert.equal(resolveSettings(settingsLayers(config.mainServer, '/x.py', '/srv/site/app/x.py')).applicationGroup, 'deep');
  });

  it('<Directory> matches whole path components', () => {
    const { config } = clean([L, ...label('<Directory /srv/app>', 'app', '</Directory>')]);
    assert.deepEqual(labels(config.mainServer, '/', '/srv/app/x.py'), ['(server)', 'app']);
    assert.deepEqual(labels(config.mainServer, '/', '/srv/application/x.py'), ['(server)']);
  });

  it('<DirectoryMatch> (and <Directory ~>) come after all <Directory> sections', () => {
    const { config } = clean([
      L,
      ...label('<DirectoryMatch "^/srv/site">', 'regex', '</DirectoryMatch>'),
      ...label('<Directory ~ "/app/?$">', 'tilde', '</Directory>'),
      ...label('<Directory /srv/site/app>', 'deep', '</Directory>'),
      ...label('<Directory /srv>', 'top', '</Directory>'),
    ]);
    assert.deepEqual(labels(config.mainServer, '/x.py', '/srv/site/app/x.py'), ['(server)', 'top', 'deep', 'regex', 'tilde']);
  });

  it('<Files> come after the directory sections; <Files> nested in an applicable <Directory> after the top-level ones', () => {
    const { config } = clean([
      L,
      '<Directory /srv/site>',
      '  WSGIApplicationGroup site',
      '  <Files "x.py">',
      '    WSGIApplicationGroup nested-x',
      '  </Files>',
      '</Directory>',
      '<Directory /srv/elsewhere>',
      '  <Files "*.py">',
      '    WSGIApplicationGroup nested-elsewhere',
      '  </Files>',
      '</Directory>',
      ...label('<Files "*.py">', 'files-py', '</Files>'),
      ...label('<FilesMatch "^x\\.">', 'filesmatch-x', '</FilesMatch>'),
      ...label('<Files "*.html">', 'files-html', '</Files>'),
      ...label('<Directory /srv>', 'top', '</Directory>'),
    ]);
    assert.deepEqual(labels(config.mainServer, '/x.py', '/srv/site/x.py'), ['(server)', 'top', 'site', 'files-py', 'filesmatch-x', 'nested-x']);
    assert.deepEqual(labels(config.mainServer, '/y.py', '/srv/site/y.py'), ['(server)', 'top', 'site', 'files-py']);
  });

  it('<Location> and <LocationMatch> come last, in file order, whatever their length', () => {
    const { config } = clean([
      L,
      ...label('<Location /app/admin>', 'loc-admin', '</Location>'),
      ...label('<Location />', 'loc-root', '</Location>'),
      ...label('<LocationMatch "^/app/">', 'loc-match', '</LocationMatch>'),
      ...label('<Location /app>', 'loc-app', '</Location>'),
      ...label('<Directory /srv>', 'top', '</Directory>'),
      ...label('<Files "*.py">', 'files', '</Files>'),
    ]);
    assert.deepEqual(labels(config.mainServer, '/app/admin/x.py', '/srv/x.py'), ['(server)', 'top', 'files', 'loc-admin', 'loc-root', 'loc-match', 'loc-app']);
    assert.equal(resolveSettings(settingsLayers(config.mainServer, '/app/admin/x.py', '/srv/x.py')).applicationGroup, 'loc-app');
    assert.deepEqual(labels(config.mainServer, '/app/x', null), ['(server)', 'loc-root', 'loc-match', 'loc-app'], 'no file: no directory or files sections');
  });

  it('<Location /app> matches /app, /app/ and /app/x, not /application; <Location /app/> needs the slash', () => {
    const { config } = clean([L, ...label('<Location /app>', 'app', '</Location>'), ...label('<Location /slash/>', 'slash', '</Location>')]);
    const v = config.mainServer;
    assert.deepEqual(labels(v, '/app', null), ['(server)', 'app']);
    assert.deepEqual(labels(v, '/app/', null), ['(server)', 'app']);
    assert.deepEqual(labels(v, '/app/x/y', null), ['(server)', 'app']);
    assert.deepEqual(labels(v, '/application', null), ['(server)']);
    assert.deepEqual(labels(v, '/ap', null), ['(server)']);
    assert.deepEqual(labels(v, '/slash/', null), ['(server)', 'slash']);
    assert.deepEqual(labels(v, '/slash/x', null), ['(server)', 'slash']);
    assert.deepEqual(labels(v, '/slash', null), ['(server)']);
  });

  it('<Directory> with wildcards: * and ? match within one path component, [..] a character class', () => {
    const { config } = clean([
      L,
      ...label('<Directory /srv/*/public>', 'public', '</Directory>'),
      ...label('<Directory /data/site?>', 'site-n', '</Directory>'),
      ...label('<Directory /opt/[ab]*>', 'class', '</Directory>'),
    ]);
    const v = config.mainServer;
    assert.deepEqual(labels(v, '/', '/srv/one/public/index.html'), ['(server)', 'public']);
    assert.deepEqual(labels(v, '/', '/srv/one/public/deeper/index.html'), ['(server)', 'public']);
    assert.deepEqual(labels(v, '/', '/srv/one/private/index.html'), ['(server)']);
    assert.deepEqual(labels(v, '/', '/srv/one/two/public/index.html'), ['(server)']);
    assert.deepEqual(labels(v, '/', '/data/site1/x'), ['(server)', 'site-n']);
    assert.deepEqual(labels(v, '/', '/data/site12/x'), ['(server)']);
    assert.deepEqual(labels(v, '/', '/opt/alpha/x'), ['(server)', 'class']);
    assert.deepEqual(labels(v, '/', '/opt/gamma/x'), ['(server)']);
  });

  it('a vhost\'s layers: the merged server settings first, the main server\'s sections before its own', () => {
    const { config } = clean([L, 'WSGIApplicationGroup main', ...label('<Location />', 'main-loc', '</Location>'), ...VH('WSGIApplicationGroup vhost', '<Location />', '  WSGIApplicationGroup vhost-loc', '</Location>')]);
    assert.deepEqual(labels(config.virtualHosts[0]!, '/x', null), ['vhost', 'main-loc', 'vhost-loc']);
  });

  it('Options accumulate through the layers: absolute resets, +/- modify', () => {
    const { config } = clean([
      L,
      '<Directory /srv>', '  Options Indexes FollowSymLinks', '</Directory>',
      '<Directory /srv/site>', '  Options +ExecCGI -Indexes', '</Directory>',
      '<Directory /srv/site/plain>', '  Options None', '</Directory>',
      '<Location /cgi>', '  Options +Indexes', '</Location>',
    ]);
    const v = config.mainServer;
    assert.deepEqual(resolveSettings(settingsLayers(v, '/x', '/srv/x')).options, { indexes: true, followSymlinks: true, execCgi: false });
    assert.deepEqual(resolveSettings(settingsLayers(v, '/x', '/srv/site/x')).options, { indexes: false, followSymlinks: true, execCgi: true });
    assert.deepEqual(resolveSettings(settingsLayers(v, '/cgi/x', '/srv/site/plain/x')).options, { indexes: true, followSymlinks: false, execCgi: false });
    assert.deepEqual(resolveSettings(settingsLayers(v, '/x', '/elsewhere/x')).options, { indexes: false, followSymlinks: true, execCgi: false }, 'Apache\'s default');
  });

  it('SetEnv adds to, UnsetEnv removes from, what outer layers set', () => {
    const { config } = clean([L, 'SetEnv A 1', 'SetEnv B 2', '<Directory /srv>', '  SetEnv C 3', '  UnsetEnv A', '</Directory>']);
    assert.deepEqual(resolveSettings(settingsLayers(config.mainServer, '/x', '/srv/x')).env, { B: '2', C: '3' });
  });

  it('SetEnv in an inner section wins over an UnsetEnv in an outer one', () => {
    const { config } = clean([L, 'UnsetEnv A', '<Directory /srv>', '  SetEnv A inner', '</Directory>']);
    assert.deepEqual(resolveSettings(settingsLayers(config.mainServer, '/x', '/srv/x')).env, { A: 'inner' });
  });

  it('"UnsetEnv A" then "SetEnv A x" in one section leaves A=x (mod_env: UnsetEnv removes only what precedes it)', () => {
    const { config } = clean([L, 'UnsetEnv A', 'SetEnv A x']);
    assert.deepEqual(resolveSettings([config.mainServer.settings]).env, { A: 'x' });
  });

  it('resolveSettings of no layers is mod_wsgi\'s and Apache\'s defaults', () => {
    const r = resolveSettings([]);
    assert.equal(r.processGroup, '%{GLOBAL}');
    assert.equal(r.applicationGroup, '%{RESOURCE}');
    assert.equal(r.callableObject, 'application');
    assert.equal(r.passAuthorization, false);
    assert.equal(r.mapHeadToGet, 'auto');
    assert.equal(r.scriptReloading, true);
    assert.deepEqual(r.directoryIndex, ['index.html']);
    assert.deepEqual(r.options, { indexes: false, followSymlinks: true, execCgi: false });
    assert.equal(r.auth.require, null, 'no requirements: everything is granted');
    assert.equal(r.auth.authType, null);
    assert.equal(r.access, null);
    assert.equal(r.restrictProcess, null);
  });
});

