import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatProblem, loadApacheConfig, type LoadResult } from '../../src/config/apache-config';
import type { AuthLayer } from '../../src/config/auth-model';
import { resolveSettings } from '../../src/config/settings';
import { settingsLayers } from '../../src/front/sections';

/*
 * Reading the access control directives: what each puts in the model, where it is allowed, and
 * the errors (file:line, directive, Apache's message where Apache has one).
 */

let tmp = '';
let count = 0;
before(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-host-auth-config-')));
  fs.writeFileSync(path.join(tmp, 'auth.wsgi'), 'def check_password(environ, user, password):\n    return None\n');
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function load(lines: string[]): { file: string; result: LoadResult; lineOf(needle: string): number } {
  const file = path.join(tmp, `site-${++count}.conf`);
  const text = lines.map((l) => l.replaceAll('{{DIR}}', tmp));
  fs.writeFileSync(file, ['Listen 8080', `ServerRoot ${tmp}`, ...text].join('\n') + '\n');
  return { file, result: loadApacheConfig(file), lineOf: (needle) => text.findIndex((l) => l.includes(needle)) + 3 };
}

function auth(lines: string[], section = 0): AuthLayer {
  const { result } = load(lines);
  assert.deepEqual(result.errors.map(formatProblem), []);
  return result.config!.mainServer.sections[section]!.settings.auth!;
}

function refuse(lines: string[], needle: string, directive: string, message: RegExp): void {
  const site = load(lines);
  assert.equal(site.result.config, null);
  assert.equal(site.result.errors.length, 1, site.result.errors.map(formatProblem).join('\n'));
  const problem = site.result.errors[0]!;
  assert.equal(problem.file, site.file);
  assert.equal(problem.line, site.lineOf(needle), formatProblem(problem));
  assert.equal(problem.directive, directive);
  assert.match(problem.message, message);
}

const LOC = (...body: string[]): string[] => ['<Location /x>', ...body.map((b) => '  ' + b), '</Location>'];

describe('authentication directives', () => {
  it('AuthType, AuthName, Auth*Provider, the hook scripts and the digest settings reach the section', () => {
    const a = auth(LOC(
      'AuthType digest', 'AuthName "Members Only"', 'AuthDigestProvider wsgi', 'AuthDigestQop Auth', 'AuthDigestNonceLifetime 60', 'AuthDigestDomain /x /y',
      'AuthDigestAlgorithm MD5', 'AuthGroupFile groups', 'AuthzSendForbiddenOnFailure On', 'AuthMerging And',
      'WSGIAuthUserScript auth.wsgi application-group=site', 'WSGIAuthGroupScript "{{DIR}}/auth.wsgi"', 'WSGIAccessScript auth.wsgi application-group=%{GLOBAL}',
    ));
    assert.deepEqual(a, {
      authType: 'Digest',
      authName: 'Members Only',
      digestProviders: [{ name: 'wsgi', kind: 'wsgi', userScript: null }],
      digestNonceLifetime: 60,
      digestDomain: ['/x', '/y'],
      groupFile: path.join(tmp, 'groups'),
      forbiddenOnFailure: true,
      merging: 'and',
      userScript: { script: path.join(tmp, 'auth.wsgi'), applicationGroup: 'site' },
      groupScript: { script: path.join(tmp, 'auth.wsgi'), applicationGroup: null },
      accessScript: { script: path.join(tmp, 'auth.wsgi'), applicationGroup: '%{GLOBAL}' },
    });
    assert.equal(auth(LOC('AuthType None')).authType, null);
    assert.deepEqual(auth(LOC('AuthType Basic', 'AuthBasicProvider WSGI file', 'AuthUserFile users')), { authType: 'Basic', basicProviders: [{ name: 'wsgi', kind: 'wsgi', userScript: null }, { name: 'file', kind: 'file', userFile: null }], userFile: path.join(tmp, 'users') });
  });

  it('are per-directory (AuthConfig) directives: not allowed at server level or in <VirtualHost>', () => {
    for (const directive of ['AuthType Basic', 'AuthName x', 'Require valid-user', 'WSGIAuthUserScript auth.wsgi', 'WSGIAccessScript auth.wsgi', 'WSGIAuthGroupScript auth.wsgi']) {
      const name = directive.split(' ')[0]!;
      refuse([directive], directive, name, /not allowed at server level; allowed in <Directory>\/<Location>\/<Files>/);
      refuse(['<VirtualHost *:8080>', `  ${directive}`, '</VirtualHost>'], directive, name, /not allowed in <VirtualHost>/);
    }
  });

  it('refuses what wsgi-host does not provide, saying what to use instead', () => {
    refuse(LOC('AuthType Form'), 'AuthType', 'AuthType', /AuthType Form is not supported by wsgi-host; use Basic, Digest or None/);
    refuse(LOC('AuthBasicProvider ldap'), 'AuthBasicProvider', 'AuthBasicProvider', /the 'ldap' authentication provider is not provided by wsgi-host; use AuthBasicProvider wsgi with a WSGIAuthUserScript, or file with an AuthUserFile/);
    refuse(LOC('AuthDigestProvider dbm'), 'AuthDigestProvider', 'AuthDigestProvider', /use AuthDigestProvider wsgi/);
    refuse(LOC('AuthBasicProvider mystery'), 'AuthBasicProvider', 'AuthBasicProvider', /^Unknown Authn provider: mystery$/);
    refuse(LOC('AuthDigestNonceLifetime 0'), 'AuthDigestNonceLifetime', 'AuthDigestNonceLifetime', /one-time nonces/);
    refuse(LOC('AuthDigestNcCheck On'), 'AuthDigestNcCheck', 'AuthDigestNcCheck', /nonce-count checking/);
    refuse(LOC('AuthBasicAuthoritative Off'), 'AuthBasicAuthoritative', 'AuthBasicAuthoritative', /AuthBasicAuthoritative Off is not supported/);
  });

  it('gives Apache\'s messages for bad values', () => {
    refuse(LOC('AuthDigestQop none'), 'AuthDigestQop', 'AuthDigestQop', /^AuthDigestQop is deprecated: only 'auth' is supported$/);
    refuse(LOC('AuthDigestQop auth-int'), 'AuthDigestQop', 'AuthDigestQop', /^AuthDigestQop is deprecated: only 'auth' is supported$/);
    refuse(LOC('AuthDigestAlgorithm MD5-sess'), 'AuthDigestAlgorithm', 'AuthDigestAlgorithm', /algorithm `MD5-sess' is not implemented/);
    refuse(LOC('AuthDigestAlgorithm SHA-256'), 'AuthDigestAlgorithm', 'AuthDigestAlgorithm', /^Invalid algorithm in AuthDigestAlgorithm: SHA-256$/);
    refuse(LOC('AuthDigestNonceLifetime soon'), 'AuthDigestNonceLifetime', 'AuthDigestNonceLifetime', /^Invalid time in AuthDigestNonceLifetime: soon$/);
    refuse(LOC('AuthMerging Both'), 'AuthMerging', 'AuthMerging', /^AuthMerging must be one of: Off \| And \| Or$/);
    refuse(LOC('AuthDigestNonceFormat x'), 'AuthDigestNonceFormat', 'AuthDigestNonceFormat', /^AuthDigestNonceFormat is not implemented$/);
  });

  it('hook script options: only application-group=, with a value (mod_wsgi\'s messages)', () => {
    refuse(LOC('WSGIAuthUserScript auth.wsgi process-group=x'), 'WSGIAuthUserScript', 'WSGIAuthUserScript', /Invalid option to WSGI auth user script definition: 'process-group=x'\. Allowed: application-group=NAME/);
    refuse(LOC('WSGIAccessScript auth.wsgi application-group='), 'WSGIAccessScript', 'WSGIAccessScript', /^Invalid name for WSGI application group\.$/);
  });

  it('<AuthnProviderAlias wsgi NAME> names a provider with its own WSGIAuthUserScript', () => {
    const a = auth(['<AuthnProviderAlias wsgi Django>', '  WSGIAuthUserScript auth.wsgi application-group=django', '</AuthnProviderAlias>', ...LOC('AuthType Basic', 'AuthBasicProvider Django wsgi')]);
    assert.deepEqual(a.basicProviders, [{ name: 'Django', kind: 'wsgi', userScript: { script: path.join(tmp, 'auth.wsgi'), applicationGroup: 'django' } }, { name: 'wsgi', kind: 'wsgi', userScript: null }]);
    const files = auth(['<AuthnProviderAlias file staff>', '  AuthUserFile staff.htpasswd', '</AuthnProviderAlias>', ...LOC('AuthType Basic', 'AuthBasicProvider staff')]);
    assert.deepEqual(files.basicProviders, [{ name: 'staff', kind: 'file', userFile: path.join(tmp, 'staff.htpasswd') }]);
    refuse([...LOC('AuthBasicProvider later'), '<AuthnProviderAlias wsgi later>', '  WSGIAuthUserScript auth.wsgi', '</AuthnProviderAlias>'], 'AuthBasicProvider', 'AuthBasicProvider', /^Unknown Authn provider: later$/);
    refuse(LOC('<AuthnProviderAlias wsgi x>', '  WSGIAuthUserScript auth.wsgi', '</AuthnProviderAlias>'), '<AuthnProviderAlias', '<AuthnProviderAlias>', /only allowed at the top level/);
    refuse(['<AuthnProviderAlias wsgi x>', '  AuthName x', '</AuthnProviderAlias>'], 'AuthName', 'AuthName', /only WSGIAuthUserScript may appear in <AuthnProviderAlias wsgi x>/);
    refuse(['<AuthnProviderAlias file x>', '  WSGIAuthUserScript auth.wsgi', '</AuthnProviderAlias>'], 'WSGIAuthUserScript', 'WSGIAuthUserScript', /only AuthUserFile may appear in <AuthnProviderAlias file x>/);
    refuse(['<AuthnProviderAlias dbm x>', '</AuthnProviderAlias>'], '<AuthnProviderAlias', '<AuthnProviderAlias>', /the 'dbm' authentication provider is not provided by wsgi-host/);
    refuse(['<AuthnProviderAlias wsgi x>', '</AuthnProviderAlias>'], '<AuthnProviderAlias', '<AuthnProviderAlias>', /needs a WSGIAuthUserScript/);
  });

  it('warns about a hook script that does not exist', () => {
    const { result } = load(LOC('WSGIAuthGroupScript missing.wsgi'));
    assert.ok(result.config !== null);
    assert.match(result.warnings.map(formatProblem).join('\n'), /WSGIAuthGroupScript: the script .*missing\.wsgi does not exist; requests that need it will be refused until it does/);
  });
});

describe('Require and its containers', () => {
  it('builds the requirement tree: a section\'s lines are an implicit <RequireAny>; same-kind containers merge into their parent', () => {
    const a = auth(LOC('Require ip 10.1 192.168.0.0/16', '<RequireAll>', '  Require valid-user', '  Require not user bob', '  <RequireAll>', '    Require method GET', '  </RequireAll>', '</RequireAll>', '<RequireAny>', '  Require host example.org', '</RequireAny>'));
    assert.deepEqual(a.require, {
      kind: 'container', op: 'any', negate: false, merged: false, children: [
        { kind: 'require', provider: 'ip', args: ['10.1', '192.168.0.0/16'], negate: false },
        { kind: 'container', op: 'all', negate: false, merged: false, children: [
          { kind: 'require', provider: 'valid-user', args: [], negate: false },
          { kind: 'require', provider: 'user', args: ['bob'], negate: true },
          { kind: 'require', provider: 'method', args: ['GET'], negate: false },
        ] },
        { kind: 'require', provider: 'host', args: ['example.org'], negate: false },
      ],
    });
  });

  it('refuses unknown providers, bad arguments and Apache\'s impossible combinations', () => {
    refuse(LOC('Require wizard merlin'), 'Require', 'Require', /^Unknown Authz provider: wizard$/);
    refuse(LOC('Require all maybe'), 'Require', 'Require', /^Argument for 'Require all' must be 'granted' or 'denied'$/);
    refuse(LOC('Require ip'), 'Require', 'Require', /^'require ip' requires an argument$/);
    refuse(LOC('Require ip 10.0.0.300'), 'Require', 'Require', /^ip address '10\.0\.0\.300' appears to be invalid$/);
    refuse(LOC('Require ip 10.0.0.0/33'), 'Require', 'Require', /appears to be invalid/);
    refuse(LOC('Require method FETCH'), 'Require', 'Require', /^Invalid Method 'FETCH'$/);
    refuse(LOC('Require not ip 10.0.0.1'), 'Require', 'Require', /^negative Require directive has no effect in <RequireAny> directive$/);
    refuse(LOC('<RequireAny>', '  Require not user a', '  Require valid-user', '</RequireAny>'), 'Require not', 'Require', /negative Require directive has no effect in <RequireAny> directive/);
    refuse(LOC('<RequireNone>', '  Require user a', '</RequireNone>'), '<RequireNone>', '<RequireNone>', /^<RequireNone> directive has no effect in <RequireAny> directive$/);
    refuse(LOC('<RequireAll>', '</RequireAll>'), '<RequireAll>', '<RequireAll>', /^<RequireAll> directive contains no authorization directives$/);
    refuse(LOC('<RequireAll>', '  Require not user a', '</RequireAll>'), '<RequireAll>', '<RequireAll>', /^<RequireAll> directive contains only negative authorization directives$/);
    refuse(LOC('<RequireAll extra>', '  Require valid-user', '</RequireAll>'), '<RequireAll', '<RequireAll>', /doesn't take additional arguments/);
    refuse(LOC('<RequireAll>', '  AuthType Basic', '  Require valid-user', '</RequireAll>'), 'AuthType', 'AuthType', /not allowed inside a Require container/);
    refuse(['<RequireAll>', '  Require valid-user', '</RequireAll>'], '<RequireAll>', '<RequireAll>', /only allowed inside <Directory>, <Location> or <Files> sections/);
    refuse(LOC('Require expr "%{REMOTE_ADDR} == \'1.2.3.4\'"'), 'Require', 'Require', /"Require expr" is not supported by wsgi-host/);
  });
});

describe('how requirements merge between sections (mod_authz_core)', () => {
  const merged = (lines: string[], urlPath: string) => {
    const { result } = load(lines);
    assert.deepEqual(result.errors.map(formatProblem), []);
    return resolveSettings(settingsLayers(result.config!.mainServer, urlPath, '/nowhere'));
  };

  it('an inner section with Require lines replaces the outer ones unless AuthMerging says And or Or', () => {
    const lines = ['<Location /a>', '  Require user outer', '</Location>', '<Location /a/b>', '  Require user inner', '</Location>', '<Location /a/c>', '  AuthMerging Or', '  Require user inner', '</Location>', '<Location /a/d>', '  SetEnv X y', '</Location>'];
    assert.deepEqual(merged(lines, '/a/b').auth.require?.children, [{ kind: 'require', provider: 'user', args: ['inner'], negate: false }]);
    const or = merged(lines, '/a/c').auth.require!;
    assert.equal(or.merged, true);
    assert.equal(or.op, 'any');
    assert.equal(or.children.length, 2);
    assert.deepEqual(merged(lines, '/a/d').auth.require?.children, [{ kind: 'require', provider: 'user', args: ['outer'], negate: false }]);
  });

  it('decides once per settings object whether a request needs checking at all', () => {
    const lines = ['<Location /open>', '  Require all granted', '</Location>', '<Location /closed>', '  Require all denied', '</Location>', '<Location /users>', '  Require valid-user', '</Location>'];
    assert.equal(merged(lines, '/elsewhere').access, null);
    assert.equal(merged(lines, '/open').access, null);
    assert.equal(merged(lines, '/closed').access?.fixed, 'denied');
    assert.equal(merged(lines, '/users').access?.fixed, null);
  });
});
