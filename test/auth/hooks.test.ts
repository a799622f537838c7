import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { basic, digestAuthorization, expectedRspauth, parseChallenge, serveSite, type Site } from '../helpers/auth';
import { sleep, waitForFileLine } from '../helpers/server';

/*
 * mod_wsgi's three hook scripts (WSGIAccessScript, WSGIAuthUserScript, WSGIAuthGroupScript)
 * with every return convention of wsgi_auth.c, against real hook processes and a real client.
 * test/apps/auth/hooks.wsgi picks its answer from the user name (or the X-Access header).
 */

const CONFIG = `
Listen 127.0.0.1:{{PORT}}
ServerName hooks.test
ErrorLog {{ROOT}}/error_log
LogLevel info
LogFormat "%u %>s %r" auth
CustomLog {{ROOT}}/access_log auth
DocumentRoot {{ROOT}}/htdocs
WSGIDaemonProcess app threads=4
WSGIProcessGroup app
WSGIApplicationGroup %{GLOBAL}
SetEnv FROM_SETENV yes
Alias /static {{ROOT}}/static
WSGIScriptAlias / {{APPS}}/environ.wsgi

<Location /access>
  WSGIAccessScript {{APPS}}/auth/hooks.wsgi
</Location>
<Location /access-denied>
  WSGIAccessScript {{APPS}}/auth/hooks.wsgi
  Require all denied
</Location>
<Location /basic>
  AuthType Basic
  AuthName "Basic Realm"
  AuthBasicProvider wsgi
  WSGIAuthUserScript {{APPS}}/auth/hooks.wsgi
  Require valid-user
</Location>
<Location /passing>
  WSGIPassAuthorization On
  AuthType Basic
  AuthName "Basic Realm"
  AuthBasicProvider wsgi
  WSGIAuthUserScript {{APPS}}/auth/hooks.wsgi
  Require valid-user
</Location>
<Location /digest>
  AuthType Digest
  AuthName "Digest Realm"
  AuthDigestProvider wsgi
  AuthDigestDomain /digest /elsewhere
  WSGIAuthUserScript {{APPS}}/auth/hooks.wsgi
  Require valid-user
</Location>
<Location /short>
  AuthType Digest
  AuthName "Short"
  AuthDigestProvider wsgi
  AuthDigestNonceLifetime 2
  WSGIAuthUserScript {{APPS}}/auth/hooks.wsgi
  Require valid-user
</Location>
<Location /groups>
  AuthType Basic
  AuthName "Groups"
  AuthBasicProvider wsgi
  WSGIAuthUserScript {{APPS}}/auth/hooks.wsgi
  WSGIAuthGroupScript {{APPS}}/auth/hooks.wsgi
  Require wsgi-group agents
</Location>
<AuthnProviderAlias wsgi fallback>
  WSGIAuthUserScript {{APPS}}/auth/namespace.wsgi application-group=aliased
</AuthnProviderAlias>
<Location /chain>
  AuthType Basic
  AuthName "Chain"
  AuthBasicProvider wsgi fallback
  WSGIAuthUserScript {{APPS}}/auth/hooks.wsgi
  Require valid-user
</Location>
<Location /static>
  AuthType Basic
  AuthName "Static"
  AuthBasicProvider wsgi
  WSGIAuthUserScript {{APPS}}/auth/hooks.wsgi
  Require valid-user
</Location>
`;

type Environ = Record<string, unknown>;

let site: Site;
before(async () => {
  site = await serveSite(CONFIG, { 'static/page.txt': 'a protected static file\n', 'htdocs/.keep': '' });
});
after(async () => {
  await site.stop();
});

async function json(urlPath: string, headers: Record<string, string> = {}): Promise<Environ> {
  const res = await site.get(urlPath, headers);
  assert.equal(res.status, 200, res.text);
  return JSON.parse(res.body.toString('utf8')) as Environ;
}

describe('WSGIAccessScript: allow_access(environ, host)', () => {
  it('True lets the request through', async () => {
    assert.equal((await site.get('/access/x', { 'X-Access': 'true' })).status, 200);
  });

  it('False refuses with 403 and logs WSGI0057', async () => {
    const mark = site.logMark();
    const res = await site.get('/access/x', { 'X-Access': 'false' });
    assert.equal(res.status, 403);
    assert.equal(res.headers['www-authenticate'], undefined);
    await site.waitForLog(/\[wsgi:error\] .*\[client 127\.0\.0\.1:\d+\] WSGI0057: Client denied by server configuration: '.*environ\.wsgi'\./, mark);
  });

  it('True does not override Require: it only does not refuse', async () => {
    assert.equal((await site.get('/access-denied/x', { 'X-Access': 'true' })).status, 403);
  });

  it('None declines: the other checks decide (here there are none, so it is served)', async () => {
    assert.equal((await site.get('/access/x', { 'X-Access': 'none' })).status, 200);
  });

  it('a value that is not a boolean or None refuses with 403 (WSGI0055)', async () => {
    const mark = site.logMark();
    assert.equal((await site.get('/access/x', { 'X-Access': 'int' })).status, 403);
    await site.waitForLog(/WSGI0055: Result returned from 'allow_access' in '.*hooks\.wsgi' must be a boolean or None\./, mark);
  });

  it('an exception refuses with 403 and its traceback goes to the error log', async () => {
    const mark = site.logMark();
    assert.equal((await site.get('/access/x', { 'X-Access': 'raise' })).status, 403);
    await site.waitForLog(/WSGI0174: \[script .*hooks\.wsgi\] RuntimeError exception raised processing WSGI script/, mark);
    await site.waitForLog(/RuntimeError: access hook exploded/, mark);
  });

  it('gets the client address as host and mod_wsgi\'s cut-down environ (no Authorization, no SetEnv values)', async () => {
    const mark = site.logMark();
    assert.equal((await site.get('/access/sub?q=1', { 'X-Report': 'r1', Authorization: basic('a', 'b') })).status, 200);
    const line = await site.waitForLog(/access-report \{.*"HTTP_X_REPORT": "r1"/, mark);
    assert.match(line, /\[client 127\.0\.0\.1:\d+\]/, 'wsgi.errors lines carry the request\'s client');
    const report = JSON.parse(line.slice(line.indexOf('{'))) as Record<string, unknown>;
    assert.equal(report['host'], '127.0.0.1');
    assert.equal(report['REMOTE_ADDR'], '127.0.0.1');
    assert.equal(report['REQUEST_URI'], '/access/sub?q=1');
    assert.equal(report['QUERY_STRING'], 'q=1');
    assert.equal(report['REQUEST_METHOD'], 'GET');
    assert.equal(report['SCRIPT_NAME'], '');
    assert.equal(report['PATH_INFO'], '/access/sub');
    assert.equal(report['SERVER_NAME'], '127.0.0.1');
    assert.equal(report['HTTP_AUTHORIZATION'], null, 'hooks never see Authorization');
    assert.equal(report['FROM_SETENV'], null, 'hooks never see SetEnv values');
    assert.equal(report['mod_wsgi.application_group'], '');
    assert.equal(report['mod_wsgi.process_group'], '');
    assert.equal(report['https'], 0);
    assert.deepEqual(report['version'], [6, 0, 5]);
  });
});

describe('WSGIAuthUserScript with AuthType Basic: check_password(environ, user, password)', () => {
  it('no credentials: 401 with a Basic challenge for the AuthName', async () => {
    const res = await site.get('/basic/x');
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Basic realm="Basic Realm"');
  });

  it('True: the application gets REMOTE_USER and AUTH_TYPE, and no HTTP_AUTHORIZATION (WSGIPassAuthorization Off)', async () => {
    const env = await json('/basic/x', { Authorization: basic('spy', 'secret') });
    assert.equal(env['REMOTE_USER'], 'spy');
    assert.equal(env['AUTH_TYPE'], 'Basic');
    assert.equal(env['HTTP_AUTHORIZATION'], undefined);
    await waitForFileLine(site.accessLog, /^spy 200 GET \/basic\/x HTTP\/1\.1$/);
  });

  it('with WSGIPassAuthorization On the application gets HTTP_AUTHORIZATION as well', async () => {
    const env = await json('/passing/x', { Authorization: basic('spy', 'secret') });
    assert.equal(env['REMOTE_USER'], 'spy');
    assert.equal(env['HTTP_AUTHORIZATION'], basic('spy', 'secret'));
  });

  it('False: 401 with a fresh challenge, "Password Mismatch" in the log, the user in the access log', async () => {
    const mark = site.logMark();
    const res = await site.get('/basic/wrong', { Authorization: basic('spy', 'guess') });
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Basic realm="Basic Realm"');
    await site.waitForLog(/\[auth_basic:error\] .*AH01617: user spy: authentication failure for "\/basic\/wrong": Password Mismatch/, mark);
    await waitForFileLine(site.accessLog, /^spy 401 GET \/basic\/wrong HTTP\/1\.1$/);
  });

  it('None: unknown user, 401 with a challenge', async () => {
    const mark = site.logMark();
    const res = await site.get('/basic/x', { Authorization: basic('nobody', 'x') });
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Basic realm="Basic Realm"');
    await site.waitForLog(/AH01618: user nobody not found: \/basic\/x/, mark);
  });

  it('a non-empty string: granted, and the string is the user from then on', async () => {
    const env = await json('/basic/x', { Authorization: basic('alias', 'pw') });
    assert.equal(env['REMOTE_USER'], 'canonical');
  });

  it('an empty string is a provider error: 500 (WSGI0176)', async () => {
    const mark = site.logMark();
    const res = await site.get('/basic/x', { Authorization: basic('empty', 'x') });
    assert.equal(res.status, 500);
    assert.equal(res.headers['www-authenticate'], undefined);
    await site.waitForLog(/WSGI0176: Basic auth provider returned empty user name string\./, mark);
  });

  for (const user of ['int', 'bytes']) {
    it(`a ${user} is the wrong type: 500 (WSGI0177)`, async () => {
      const mark = site.logMark();
      assert.equal((await site.get('/basic/x', { Authorization: basic(user, 'x') })).status, 500);
      await site.waitForLog(/WSGI0177: Basic auth provider must return True, False, None or user name as string\./, mark);
    });
  }

  it('an exception: 500, with the traceback in the error log', async () => {
    const mark = site.logMark();
    assert.equal((await site.get('/basic/x', { Authorization: basic('raise', 'x') })).status, 500);
    await site.waitForLog(/ValueError: check_password exploded/, mark);
  });

  it('another scheme in Authorization: 401 with a challenge (AH01614)', async () => {
    const mark = site.logMark();
    const res = await site.get('/basic/x', { Authorization: 'Bearer abc' });
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Basic realm="Basic Realm"');
    await site.waitForLog(/AH01614: client used wrong authentication scheme: \/basic\/x/, mark);
  });

  it('protects static files as well as WSGI applications', async () => {
    assert.equal((await site.get('/static/page.txt')).status, 401);
    const res = await site.get('/static/page.txt', { Authorization: basic('spy', 'secret') });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'a protected static file\n');
    assert.equal((await site.get('/static/page.txt', { Authorization: basic('spy', 'no') })).status, 401);
  });
});

describe('several providers, and <AuthnProviderAlias wsgi NAME>', () => {
  it('are asked in turn until one knows the user; a known user with a wrong password stops there', async () => {
    assert.equal((await json('/chain/x', { Authorization: basic('spy', 'secret') }))['REMOTE_USER'], 'spy');
    assert.equal((await site.get('/chain/x', { Authorization: basic('spy', 'wrong') })).status, 401);
    const fallback = String((await json('/chain/x', { Authorization: basic('nobody', 'x') }))['REMOTE_USER']);
    assert.match(fallback, /^aliased\|\d+\|\d+$/, 'the alias\'s own script, in its own application group');
  });
});

describe('WSGIAuthUserScript with AuthType Digest: get_realm_hash(environ, user, realm)', () => {
  async function challenge(urlPath = '/digest/x'): Promise<Record<string, string>> {
    const res = await site.get(urlPath);
    assert.equal(res.status, 401);
    const params = parseChallenge(res.headers['www-authenticate']);
    assert.equal(params['realm'], 'Digest Realm');
    assert.equal(params['algorithm'], 'MD5');
    assert.equal(params['qop'], 'auth');
    assert.equal(params['stale'], undefined);
    assert.equal(params['domain'], '/digest /elsewhere');
    return params;
  }

  it('a hex MD5 of user:realm:password as str: the client that knows the password is let in, with Authentication-Info', async () => {
    const { nonce } = await challenge();
    const options = { user: 'spy', password: 'secret', realm: 'Digest Realm', nonce: nonce!, method: 'GET', uri: '/digest/x?a=1' };
    const res = await site.get('/digest/x?a=1', { Authorization: digestAuthorization(options) });
    assert.equal(res.status, 200, res.text);
    const env = JSON.parse(res.text) as Environ;
    assert.equal(env['REMOTE_USER'], 'spy');
    assert.equal(env['AUTH_TYPE'], 'Digest');
    assert.match(String(res.headers['authentication-info']), new RegExp(`^rspauth="${expectedRspauth(options)}", cnonce="a1b2c3d4", nc=00000001, qop=auth$`));
  });

  it('the same nonce serves further requests while it is fresh', async () => {
    const { nonce } = await challenge();
    for (const nc of ['00000001', '00000002']) {
      const res = await site.get('/digest/y', { Authorization: digestAuthorization({ user: 'spy', password: 'secret', realm: 'Digest Realm', nonce: nonce!, method: 'GET', uri: '/digest/y', nc }) });
      assert.equal(res.status, 200);
    }
  });

  it('the RFC 2069 form without qop is refused, as Apache 2.4 does now: 401 (AH10560)', async () => {
    const { nonce } = await challenge();
    const mark = site.logMark();
    const old = await site.get('/digest/y', { Authorization: digestAuthorization({ user: 'spy', password: 'secret', realm: 'Digest Realm', nonce: nonce!, method: 'GET', uri: '/digest/y', qop: null }) });
    assert.equal(old.status, 401);
    assert.equal(parseChallenge(old.headers['www-authenticate'])['qop'], 'auth');
    await site.waitForLog(/AH10560: invalid or missing qop value '\(null\)', RFC 2069 is no longer supported: \/digest\/y/, mark);
  });

  it('bytes are accepted as the hash', async () => {
    const { nonce } = await challenge();
    const res = await site.get('/digest/x', { Authorization: digestAuthorization({ user: 'bytes', password: 'secret', realm: 'Digest Realm', nonce: nonce!, method: 'GET', uri: '/digest/x' }) });
    assert.equal(res.status, 200);
  });

  it('a wrong password: 401 with a fresh challenge (not stale)', async () => {
    const { nonce } = await challenge();
    const mark = site.logMark();
    const res = await site.get('/digest/x', { Authorization: digestAuthorization({ user: 'spy', password: 'guess', realm: 'Digest Realm', nonce: nonce!, method: 'GET', uri: '/digest/x' }) });
    assert.equal(res.status, 401);
    const fresh = parseChallenge(res.headers['www-authenticate']);
    assert.equal(fresh['stale'], undefined);
    assert.ok(fresh['nonce'] !== undefined && fresh['nonce'].length === 52);
    await site.waitForLog(/\[auth_digest:error\] .*AH01794: user spy: password mismatch: \/digest\/x/, mark);
  });

  it('None: unknown user, 401 (AH01790)', async () => {
    const { nonce } = await challenge();
    const mark = site.logMark();
    const res = await site.get('/digest/x', { Authorization: digestAuthorization({ user: 'nobody', password: 'x', realm: 'Digest Realm', nonce: nonce!, method: 'GET', uri: '/digest/x' }) });
    assert.equal(res.status, 401);
    await site.waitForLog(/AH01790: user `nobody' in realm `Digest Realm' not found: \/digest\/x/, mark);
  });

  for (const [user, pattern] of [
    ['empty', /WSGI0178: Digest auth provider returned empty realm hash\./],
    ['int', /WSGI0179: Digest auth provider must return None or string object\./],
    ['raise', /KeyError: 'get_realm_hash exploded'/],
  ] as const) {
    it(`${user === 'raise' ? 'an exception' : `a${user === 'int' ? 'n int' : 'n empty string'}`} is a provider error: 500`, async () => {
      const { nonce } = await challenge();
      const mark = site.logMark();
      const res = await site.get('/digest/x', { Authorization: digestAuthorization({ user, password: 'x', realm: 'Digest Realm', nonce: nonce!, method: 'GET', uri: '/digest/x' }) });
      assert.equal(res.status, 500);
      await site.waitForLog(pattern, mark);
    });
  }

  it('a nonce past AuthDigestNonceLifetime: 401 with stale=true; one about to expire brings its successor (nextnonce)', async () => {
    const ask = async (nonce: string): Promise<Awaited<ReturnType<Site['get']>>> =>
      site.get('/short/x', { Authorization: digestAuthorization({ user: 'spy', password: 'secret', realm: 'Short', nonce, method: 'GET', uri: '/short/x' }) });
    let nonce = '';
    let fresh = null;
    // A slow machine may take longer than the 2-second lifetime between two requests: retry.
    for (let attempt = 0; attempt < 5 && fresh?.status !== 200; attempt++) {
      nonce = parseChallenge((await site.get('/short/x')).headers['www-authenticate'])['nonce']!;
      fresh = await ask(nonce);
    }
    assert.equal(fresh?.status, 200);
    assert.match(String(fresh!.headers['authentication-info']), /, nextnonce="[^"]{52}"/);
    await sleep(2500);
    const mark = site.logMark();
    const stale = await ask(nonce);
    assert.equal(stale.status, 401);
    assert.equal(parseChallenge(stale.headers['www-authenticate'])['stale'], 'true');
    await site.waitForLog(/\[auth_digest:info\] .*AH01778: user spy: nonce expired \([\d.]+ seconds old - max lifetime 2\.00\) - sending new nonce/, mark);
  });

  it('a nonce this server did not issue: 401 with stale=true', async () => {
    const forged = Buffer.alloc(8).toString('base64') + '0'.repeat(40);
    const res = await site.get('/digest/x', { Authorization: digestAuthorization({ user: 'spy', password: 'secret', realm: 'Digest Realm', nonce: forged, method: 'GET', uri: '/digest/x' }) });
    assert.equal(res.status, 401);
    assert.equal(parseChallenge(res.headers['www-authenticate'])['stale'], 'true');
  });

  it('a realm that is not the AuthName: 401; a uri that is not the request\'s: 400', async () => {
    const { nonce } = await challenge();
    const realm = await site.get('/digest/x', { Authorization: digestAuthorization({ user: 'spy', password: 'secret', realm: 'Other', nonce: nonce!, method: 'GET', uri: '/digest/x' }) });
    assert.equal(realm.status, 401);
    const mark = site.logMark();
    const uri = await site.get('/digest/x', { Authorization: digestAuthorization({ user: 'spy', password: 'secret', realm: 'Digest Realm', nonce: nonce!, method: 'GET', uri: '/digest/elsewhere' }) });
    assert.equal(uri.status, 400);
    await site.waitForLog(/AH01786: uri mismatch - <\/digest\/elsewhere> does not match request-uri <\/digest\/x>/, mark);
  });
});

describe('WSGIAuthGroupScript: groups_for_user(environ, user) with Require wsgi-group', () => {
  it('a user in one of the groups gets in (str or bytes names)', async () => {
    assert.equal((await json('/groups/x', { Authorization: basic('agent', 'pw') }))['REMOTE_USER'], 'agent');
    assert.equal((await site.get('/groups/x', { Authorization: basic('agent-bytes', 'pw') })).status, 200);
  });

  it('a user in other groups: 401 with a fresh challenge (AuthzSendForbiddenOnFailure Off), WSGI0060', async () => {
    const mark = site.logMark();
    const res = await site.get('/groups/x', { Authorization: basic('staffer', 'pw') });
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Basic realm="Groups"');
    await site.waitForLog(/WSGI0060: Authorization of user 'staffer' to access '\/groups\/x' failed\. User is not a member of designated groups\./, mark);
    await site.waitForLog(/\[authz_core:error\] .*AH01631: user staffer: authorization failure for "\/groups\/x": /, mark);
  });

  it('a user in no group: 401 (WSGI0059)', async () => {
    const mark = site.logMark();
    assert.equal((await site.get('/groups/x', { Authorization: basic('nogroups', 'pw') })).status, 401);
    await site.waitForLog(/WSGI0059: Authorization of user 'nogroups' to access '\/groups\/x' failed\. User is not a member of any groups\./, mark);
  });

  it('a wrong password is refused before the groups are asked', async () => {
    const mark = site.logMark();
    assert.equal((await site.get('/groups/x', { Authorization: basic('agent', 'wrong') })).status, 401);
    await site.waitForLog(/AH01617: user agent: authentication failure/, mark);
  });

  it('an item that is not a string (WSGI0050), a result that is not iterable (WSGI0051) or an exception: denied, 401', async () => {
    let mark = site.logMark();
    assert.equal((await site.get('/groups/x', { Authorization: basic('badtype', 'pw') })).status, 401);
    await site.waitForLog(/WSGI0050: Item returned from 'groups_for_user' in '.*hooks\.wsgi' is not a byte string\./, mark);
    mark = site.logMark();
    assert.equal((await site.get('/groups/x', { Authorization: basic('notiter', 'pw') })).status, 401);
    await site.waitForLog(/WSGI0051: Result returned from 'groups_for_user' in '.*hooks\.wsgi' is not iterable/, mark);
    mark = site.logMark();
    assert.equal((await site.get('/groups/x', { Authorization: basic('grouperror', 'pw') })).status, 401);
    await site.waitForLog(/LookupError: groups_for_user exploded/, mark);
  });
});

describe('hook processes', () => {
  it('run in a process group of their own, not in the application\'s daemon processes', async () => {
    const env = await json('/basic/x', { Authorization: basic('spy', 'secret') });
    const line = await site.waitForLog(/Daemon process 'auth-hooks' \(pid=(\d+)\) is ready/);
    const hookPid = Number(/pid=(\d+)/.exec(line)![1]);
    assert.notEqual(hookPid, env['__pid__']);
  });
});
