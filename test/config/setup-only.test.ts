import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseFlags } from '../../src/cli/flags';
import { formatProblem, loadApacheConfig, type LoadResult } from '../../src/config/apache-config';
import { configFromStartServerFlags, START_SERVER_FLAGS } from '../../src/config/express';
import type { ServerConfig } from '../../src/config/model';
import { resolveSettings } from '../../src/config/settings';
import { renderApacheConfig } from '../../src/config/write-apache-config';

/*
 * `wsgi-host start-server --setup-only DIR` writes the configuration the flags describe as an
 * Apache-style file for `wsgi-host serve -f`. The round trip flags -> model -> file -> model must
 * give the same model in everything that changes what the server does.
 *
 * Fields that legitimately differ, and are left out of the comparison:
 *  - configFile: null when configured from flags, the file when read from one (used for reloads).
 *  - mainServer.id: a label for messages ("localhost:8000" vs "main server").
 *  - origin of script aliases, sections and process groups: a file:line only exists for a file.
 *  - importScripts: the file lists preloads as directives (WSGIImportScript, or WSGIScriptAlias with
 *    both group options); the flags model keeps them on the group only. group.preload is compared.
 *  - Where the process/application group of the mount is written: the file names them with
 *    WSGIProcessGroup/WSGIApplicationGroup (so that WSGIScriptAlias does not preload by mod_wsgi's
 *    rule) where the flags model has them on the script alias. The effective values for the mount
 *    (alias option, else the resolved per-directory setting) are compared; the server-wide
 *    processGroup/applicationGroup settings are not, because no request outside the mount reaches a
 *    WSGI handler (no AddHandler/SetHandler is configured).
 *  - python.defaultInterpreter: the interpreter of the embedded (%{GLOBAL}) group, which neither
 *    configuration routes any request to; the groups' own interpreters are compared.
 */

let tmp = '';
let count = 0;
before(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-host-setup-only-')));
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface RoundTrip {
  dir: string;
  file: string;
  text: string;
  flags: ServerConfig;
  result: LoadResult;
}

/** start-server ARGV app.wsgi, run from a fresh directory with its own server root, written and read back. */
function roundTrip(argv: string[]): RoundTrip {
  const dir = path.join(tmp, `run-${++count}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'app.wsgi'), 'def application(environ, start_response):\n    start_response("200 OK", [])\n    return [b"ok"]\n');
  fs.writeFileSync(path.join(dir, 'auth hooks.wsgi'), 'def check_password(environ, user, password):\n    return None\n');
  const { values, positionals } = parseFlags([...argv, '--server-root', path.join(dir, 'server-root'), 'app.wsgi'], START_SERVER_FLAGS);
  const flags = configFromStartServerFlags(values, positionals, dir);
  // renderApacheConfig writes ServerRoot, which must be an existing directory (start-server creates it).
  fs.mkdirSync(flags.serverRoot, { recursive: true });
  const text = renderApacheConfig(flags, ['wsgi-host', 'start-server', ...argv].join(' '));
  const file = path.join(dir, 'httpd.conf');
  fs.writeFileSync(file, text);
  return { dir, file, text, flags, result: loadApacheConfig(file) };
}

/** The model without the fields that legitimately differ (see the comment at the top). */
function comparable(config: ServerConfig): unknown {
  const main = config.mainServer;
  const resolved = resolveSettings([main.settings]);
  const { processGroup: _pg, applicationGroup: _ag, ...settings } = resolved;
  return {
    serverRoot: config.serverRoot,
    socketPrefix: config.socketPrefix,
    listeners: config.listeners.map(({ host, port, tls }) => ({ host, port, ...(tls !== undefined ? { tls } : {}) })),
    limits: config.limits,
    timeouts: config.timeouts,
    user: config.user,
    group: config.group,
    shutdownTimeout: config.shutdownTimeout,
    slowRequests: config.slowRequests ?? null,
    python: { ...config.python, defaultInterpreter: null },
    virtualHosts: config.virtualHosts,
    mainServer: {
      serverName: main.serverName,
      serverAliases: main.serverAliases,
      serverAdmin: main.serverAdmin,
      documentRoot: main.documentRoot,
      errorLog: main.errorLog,
      logLevel: main.logLevel,
      moduleLogLevels: main.moduleLogLevels,
      accessLogs: main.accessLogs,
      aliases: main.aliases,
      sections: main.sections.map((section) => ({ ...section, origin: null })),
      addresses: main.addresses,
      settings,
      scriptAliases: main.scriptAliases.map((a) => ({
        urlPrefix: a.urlPrefix,
        pattern: a.pattern,
        target: a.target,
        processGroup: a.processGroup ?? resolved.processGroup,
        applicationGroup: a.applicationGroup ?? resolved.applicationGroup,
        callableObject: a.callableObject ?? resolved.callableObject,
        passAuthorization: a.passAuthorization ?? resolved.passAuthorization,
      })),
    },
    processGroups: config.processGroups.map((g) => ({ ...g, origin: null })),
  };
}

function assertSameModel(run: RoundTrip): void {
  assert.deepEqual(run.result.errors, [], `the written file does not load:\n${run.result.errors.map(formatProblem).join('\n')}\n--- file ---\n${run.text}`);
  assert.deepEqual(run.result.warnings, [], `warnings:\n${run.result.warnings.map(formatProblem).join('\n')}`);
  assert.ok(run.result.config !== null);
  assert.deepEqual(comparable(run.result.config), comparable(run.flags), `--- file ---\n${run.text}`);
}

const FLAG_SETS: string[][] = [
  [],
  ['--processes', '2', '--threads', '3', '--mount-point', '/app', '--pass-authorization', '--chunked-request', '--limit-request-body', '1000', '--queue-timeout', '10', '--python-path', 'X', '--access-log', '--log-level', 'info'],
  ['--host', '127.0.0.1', '--port', '8123', '--server-name', 'app.example', '--log-to-terminal', '--access-log', '--access-log-format', 'combined', '--callable-object', 'app', '--keep-alive-timeout', '7', '--socket-timeout', '30', '--log-directory', 'logs', '--socket-prefix', 'run/wsgi', '--python', '/opt/venv/bin/python3', '--mount-point', '/deep/mount/'],
  ['--host', '::1', '--port', '0', '--access-log', '--access-log-format', '%h "%r" %>s %{User-Agent}i \\ %D', '--working-directory', 'work', '--python-path', 'lib', '--python-path', '/abs/lib'],
  ['--auth-user-script', 'auth hooks.wsgi', '--auth-group-script', 'auth hooks.wsgi', '--auth-group', 'site admins', '--host-access-script', 'auth hooks.wsgi'],
  ['--auth-user-script', 'auth hooks.wsgi', '--auth-type', 'Digest', '--pass-authorization=off'],
  ['--server-status', '--server-metrics', '--slow-requests', '2.5', '--trust-proxy-header', 'X-Request-Id', '--trust-proxy', '10.0.0.0/8', '--trust-proxy', '::1', '--access-log', '--access-log-format', 'json'],
  ['--graceful-timeout', '20', '--eviction-timeout', '5', '--request-timeout', '0', '--interrupt-timeout', '3', '--startup-timeout', '0', '--deadlock-timeout', '120', '--maximum-requests', '1000', '--maximum-requests-jitter', '50', '--restart-interval', '3600', '--inactivity-timeout', '600', '--maximum-rss', '512M', '--memory-limit', '1G', '--cpu-time-limit', '300', '--reload-on-changes', '--disable-reloading', '--scheduling-policy', 'normal', '--front-end-priority', '-5', '--front-end-scheduling-policy', 'normal'],
  ['--request-body-spooling=off', '--chunked-request'],
  ['--header-timeout', '10', '--header-max-timeout', '20', '--header-min-rate', '100', '--body-timeout', '0', '--max-clients', '50', '--trust-proxy-header', 'X-Forwarded-For', '--trust-proxy-header', 'X-Forwarded-Proto', '--trust-proxy', '10.0.0.0/8'],
];

describe('start-server --setup-only: flags -> model -> httpd.conf -> model', () => {
  for (const argv of FLAG_SETS) {
    it(`gives the same model for: start-server ${argv.join(' ') || '(defaults)'}`, () => {
      assertSameModel(roundTrip(argv));
    });
  }

  it('the comparison is not vacuous: the flags reach the model and the file', () => {
    const run = roundTrip(FLAG_SETS[1]!);
    const config = run.result.config!;
    const group = config.processGroups[0]!;
    assert.equal(group.processes, 2);
    assert.equal(group.multiprocess, true);
    assert.equal(group.threads, 3);
    assert.equal(group.queueTimeout, 10);
    assert.deepEqual(group.pythonPath, [path.join(run.dir, 'X')]);
    assert.equal(group.home, run.dir);
    assert.equal(config.mainServer.scriptAliases[0]!.urlPrefix, '/app');
    assert.equal(config.mainServer.scriptAliases[0]!.target, path.join(run.dir, 'app.wsgi'));
    assert.equal(config.mainServer.scriptAliases[0]!.passAuthorization, true);
    assert.equal(config.mainServer.settings.chunkedRequest, true);
    assert.equal(config.mainServer.settings.limitRequestBody, 1000);
    assert.equal(config.mainServer.logLevel, 'info');
    assert.deepEqual(config.mainServer.accessLogs.map((l) => l.target), [{ kind: 'file', path: path.join(run.dir, 'server-root', 'access_log') }]);
    assert.match(run.text, /^WSGIDaemonProcess /m);
    assert.match(run.text, /^WSGIScriptAlias \/app /m);
  });

  it('the defaults are mod_wsgi-express\'s, read back from the file', () => {
    const run = roundTrip([]);
    const config = run.result.config!;
    assert.deepEqual(config.listeners.map(({ host, port }) => ({ host, port })), [{ host: '', port: 8000 }]);
    assert.equal(config.mainServer.serverName, 'localhost');
    assert.equal(config.processGroups[0]!.name, 'localhost:8000');
    assert.equal(config.processGroups[0]!.threads, 5);
    assert.equal(config.processGroups[0]!.multiprocess, false);
    assert.equal(config.processGroups[0]!.queueTimeout, 45);
    assert.equal(config.timeouts.keepAliveTimeout, 2);
    assert.equal(config.mainServer.settings.limitRequestBody, 10485760);
    assert.deepEqual(config.mainServer.errorLog, { kind: 'file', path: path.join(run.dir, 'server-root', 'error_log') });
  });

  it('writes --request-body-spooling=off as WSGIRequestBodySpooling Off, and nothing for the default', () => {
    const off = roundTrip(['--request-body-spooling=off']);
    assertSameModel(off);
    assert.match(off.text, /^WSGIRequestBodySpooling Off$/m);
    assert.equal(resolveSettings([off.result.config!.mainServer.settings]).requestBodySpooling, false);
    const on = roundTrip([]);
    assert.doesNotMatch(on.text, /WSGIRequestBodySpooling/);
    assert.equal(resolveSettings([on.result.config!.mainServer.settings]).requestBodySpooling, true);
  });

  it('writes --response-spool-limit as WSGIResponseSpoolLimit in bytes, and nothing for the default', () => {
    const small = roundTrip(['--response-spool-limit', '64M']);
    assertSameModel(small);
    assert.match(small.text, /^WSGIResponseSpoolLimit 67108864$/m);
    assert.equal(resolveSettings([small.result.config!.mainServer.settings]).responseSpoolLimit, 67108864);
    const off = roundTrip(['--response-spool-limit', '0']);
    assertSameModel(off);
    assert.match(off.text, /^WSGIResponseSpoolLimit 0$/m);
    assert.equal(resolveSettings([off.result.config!.mainServer.settings]).responseSpoolLimit, 0);
    const byDefault = roundTrip([]);
    assert.doesNotMatch(byDefault.text, /WSGIResponseSpoolLimit/);
    assert.equal(resolveSettings([byDefault.result.config!.mainServer.settings]).responseSpoolLimit, 1073741824);
  });

  it('keeps --preload (the script is preloaded into the main interpreter of the group)', () => {
    assertSameModel(roundTrip(['--preload']));
  });

  it('keeps --shutdown-timeout for the server as a whole', () => {
    assertSameModel(roundTrip(['--shutdown-timeout', '9']));
  });

  it('handles paths with spaces (home=, python-path= values are quoted in the file)', () => {
    assertSameModel(roundTrip(['--working-directory', 'my app', '--python-path', 'lib dir']));
  });

  it('keeps --host localhost as the address to bind', () => {
    assertSameModel(roundTrip(['--host', 'localhost']));
  });

  it('writes the status and metrics locations, the slow-request threshold and the trusted proxy settings', () => {
    const run = roundTrip(['--server-status', '--server-metrics', '--slow-requests', '0', '--trust-proxy-header', 'X-Request-Id', '--trust-proxy', '10.0.0.1']);
    assertSameModel(run);
    assert.match(run.text, /^<Location \/server-status>\n    SetHandler server-status\n    Require local\n<\/Location>$/m);
    assert.match(run.text, /^<Location \/server-metrics>\n    SetHandler server-metrics\n    Require local\n<\/Location>$/m);
    assert.match(run.text, /^WSGISlowRequests 0$/m);
    assert.doesNotMatch(run.text, /WSGIFrontEndPriority/, 'the default priority is not written out');
    assert.match(run.text, /^WSGITrustedProxyHeaders X-Request-Id$/m);
    assert.match(run.text, /^WSGITrustedProxies 10\.0\.0\.1$/m);
    const config = run.result.config!;
    assert.equal(config.slowRequests, 0);
    assert.deepEqual(config.mainServer.settings.trustedProxyHeaders, ['HTTP_X_REQUEST_ID']);
    assert.deepEqual(config.mainServer.sections.map((s) => [s.path, s.settings.setHandler]), [['/server-status', 'server-status'], ['/server-metrics', 'server-metrics']]);
  });

  it('keeps the interpreter named by --python', () => {
    const run = roundTrip(['--python', '/opt/venv/bin/python']);
    assert.equal(run.result.config?.processGroups[0]!.python, run.flags.processGroups[0]!.python);
  });
});
