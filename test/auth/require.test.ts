import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { basic, serveSite, type Site } from '../helpers/auth';

/*
 * Require and its containers with Apache's mod_authz_core semantics: which providers grant
 * whom, how <RequireAll>/<RequireAny>/<RequireNone> and "Require not" combine, how sections
 * merge (AuthMerging), and the status codes: 403 when no user could be let in, 401 with a
 * challenge when one could, 500 for configurations Apache also refuses at request time.
 */

const AUTH = `
  AuthType Basic
  AuthName "R"
  AuthBasicProvider wsgi
  WSGIAuthUserScript {{APPS}}/auth/hooks.wsgi
  WSGIAuthGroupScript {{APPS}}/auth/hooks.wsgi
  AuthGroupFile {{ROOT}}/groups`;

const CONFIG = `
Listen 127.0.0.1:{{PORT}}
ServerName require.test
ErrorLog {{ROOT}}/error_log
LogLevel info
DocumentRoot {{ROOT}}/htdocs
WSGIDaemonProcess app threads=4
WSGIProcessGroup app
WSGIApplicationGroup %{GLOBAL}
WSGIScriptAlias / {{APPS}}/environ.wsgi

<Location /denied>
  Require all denied
</Location>
<Location /valid>${AUTH}
  Require valid-user
</Location>
<Location /user>${AUTH}
  Require user agent alias canonical
</Location>
<Location /filegroup>${AUTH}
  Require group admins
</Location>
<Location /ip-local>
  Require ip 127.0.0.0/8 ::1
</Location>
<Location /ip-partial>
  Require ip 127 10.1.2.3
</Location>
<Location /ip-mask>
  Require ip 127.0.0.0/255.0.0.0
</Location>
<Location /ip-other>
  Require ip 10.0.0.0/8 192.168.1
</Location>
<Location /host-local>
  Require host localhost
</Location>
<Location /host-other>
  Require host example.invalid .invalid
</Location>
<Location /local>
  Require local
</Location>
<Location /method>
  Require method GET
</Location>
<Location /any>${AUTH}
  Require ip 10.0.0.0/8
  Require user agent
</Location>
<Location /any-ip>${AUTH}
  Require ip 127.0.0.1
  Require user agent
</Location>
<Location /all>${AUTH}
  <RequireAll>
    Require valid-user
    Require not user staffer
    Require ip 127.0.0.1
  </RequireAll>
</Location>
<Location /all-ip>${AUTH}
  <RequireAll>
    Require valid-user
    Require ip 10.0.0.0/8
  </RequireAll>
</Location>
<Location /none>${AUTH}
  <RequireAll>
    Require valid-user
    <RequireNone>
      Require user staffer
      Require wsgi-group staff
    </RequireNone>
  </RequireAll>
</Location>
<Location /nested>${AUTH}
  <RequireAny>
    <RequireAll>
      Require wsgi-group agents
      Require method GET
    </RequireAll>
    Require user alias canonical
  </RequireAny>
</Location>
<Location /forbidden>${AUTH}
  AuthzSendForbiddenOnFailure On
  Require user agent
</Location>
<Location /no-require>
  AuthType Basic
  AuthName "R"
  AuthBasicProvider wsgi
  WSGIAuthUserScript {{APPS}}/auth/hooks.wsgi
</Location>
<Location /no-authtype>
  Require valid-user
</Location>
<Location /no-provider>
  AuthType Basic
  AuthName "R"
  Require valid-user
</Location>
<Location /no-name>
  AuthType Basic
  AuthBasicProvider wsgi
  WSGIAuthUserScript {{APPS}}/auth/hooks.wsgi
  Require valid-user
</Location>
<Location /no-group-script>
  AuthType Basic
  AuthName "R"
  AuthBasicProvider wsgi
  WSGIAuthUserScript {{APPS}}/auth/hooks.wsgi
  Require wsgi-group agents
</Location>
<Location /granted-with-authtype>${AUTH}
  Require all granted
</Location>

# Merging between sections: the inner section's Require lines replace the outer ones
# (AuthMerging Off), or combine with them.
<Location /merge>${AUTH}
  Require user agent
</Location>
<Location /merge/off>
  Require user alias canonical
</Location>
<Location /merge/inherit>
  SetEnv NOTHING here
</Location>
<Location /merge/and>
  AuthMerging And
  Require ip 10.0.0.0/8
</Location>
<Location /merge/or>
  AuthMerging Or
  Require user staffer
</Location>
<Location /merge/open>
  Require all granted
</Location>

<VirtualHost 127.0.0.1:{{PORT}}>
  ServerName open.test
</VirtualHost>
<VirtualHost 127.0.0.1:{{PORT}}>
  ServerName closed.test
  <Location />${AUTH}
    Require valid-user
  </Location>
</VirtualHost>
`;

let site: Site;
before(async () => {
  site = await serveSite(CONFIG, { groups: '# AuthGroupFile\nadmins: agent  other\nusers: staffer agent\n', 'htdocs/.keep': '' });
});
after(async () => {
  await site.stop();
});

const AGENT = { Authorization: basic('agent', 'pw') };
const STAFFER = { Authorization: basic('staffer', 'pw') };
const ALIAS = { Authorization: basic('alias', 'pw') };

async function status(urlPath: string, headers: Record<string, string> = {}, method = 'GET'): Promise<number> {
  return (await site.get(urlPath, headers, method)).status;
}

describe('Require providers', () => {
  it('all denied: 403 for everyone, no challenge (AH01630)', async () => {
    const mark = site.logMark();
    const res = await site.get('/denied/x', AGENT);
    assert.equal(res.status, 403);
    assert.equal(res.headers['www-authenticate'], undefined);
    await site.waitForLog(/\[authz_core:error\] .*AH01630: client denied by server configuration: /, mark);
  });

  it('valid-user: 401 with a challenge without credentials, 200 with good ones', async () => {
    const res = await site.get('/valid/x');
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Basic realm="R"');
    assert.equal(await status('/valid/x', AGENT), 200);
  });

  it('user: the listed users (after check_password renamed them), 401 for other valid users', async () => {
    assert.equal(await status('/user/x', AGENT), 200);
    assert.equal(await status('/user/x', ALIAS), 200, 'alias is renamed canonical by check_password, which is listed');
    const res = await site.get('/user/x', STAFFER);
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Basic realm="R"');
  });

  it('group with AuthGroupFile: members of the group', async () => {
    assert.equal(await status('/filegroup/x', AGENT), 200);
    assert.equal(await status('/filegroup/x', STAFFER), 401);
  });

  it('ip: addresses, CIDR and netmask subnets, partial addresses; 403 for others, without a challenge', async () => {
    for (const p of ['/ip-local/x', '/ip-partial/x', '/ip-mask/x']) assert.equal(await status(p), 200, p);
    const res = await site.get('/ip-other/x');
    assert.equal(res.status, 403);
    assert.equal(res.headers['www-authenticate'], undefined);
  });

  it('host: the client\'s double-reverse-resolved name, matched by whole domain labels', async () => {
    assert.equal(await status('/host-local/x'), 200, '127.0.0.1 is localhost');
    assert.equal(await status('/host-other/x'), 403);
  });

  it('local: requests from this machine', async () => {
    assert.equal(await status('/local/x'), 200);
  });

  it('method: GET (and HEAD, which Apache counts as GET) but not POST', async () => {
    assert.equal(await status('/method/x'), 200);
    assert.equal(await status('/method/x', {}, 'HEAD'), 200);
    assert.equal(await status('/method/x', { 'Content-Length': '0' }, 'POST'), 403);
  });
});

describe('combining requirements', () => {
  it('several Require lines are alternatives: one granted is enough', async () => {
    assert.equal(await status('/any-ip/x'), 200, 'the ip line grants without asking for a user');
    assert.equal(await status('/any/x'), 401, 'no line grants without a user: ask for one');
    assert.equal(await status('/any/x', AGENT), 200);
    assert.equal(await status('/any/x', STAFFER), 401);
  });

  it('<RequireAll> needs every line; "Require not" inside it excludes', async () => {
    assert.equal(await status('/all/x', AGENT), 200);
    assert.equal(await status('/all/x', STAFFER), 401, 'excluded by Require not user');
    assert.equal(await status('/all/x'), 401);
    assert.equal(await status('/all-ip/x', AGENT), 403, 'the ip line refuses whoever the user is: 403, no challenge');
  });

  it('<RequireNone> inside <RequireAll>: none of its lines may grant', async () => {
    assert.equal(await status('/none/x', { Authorization: basic('nogroups', 'pw') }), 200);
    assert.equal(await status('/none/x', STAFFER), 401, 'listed user');
    assert.equal(await status('/none/x', AGENT), 401, 'in the staff group');
  });

  it('nested containers', async () => {
    assert.equal(await status('/nested/x', AGENT), 200);
    assert.equal(await status('/nested/x', AGENT, 'HEAD'), 200);
    assert.equal(await status('/nested/x', { ...AGENT, 'Content-Length': '0' }, 'POST'), 401);
    assert.equal(await status('/nested/x', { ...ALIAS, 'Content-Length': '0' }, 'POST'), 200);
  });

  it('AuthzSendForbiddenOnFailure On: a valid user who is not allowed gets 403', async () => {
    assert.equal(await status('/forbidden/x', AGENT), 200);
    const res = await site.get('/forbidden/x', STAFFER);
    assert.equal(res.status, 403);
    assert.equal(res.headers['www-authenticate'], undefined);
    assert.equal(await status('/forbidden/x'), 401, 'without credentials it still asks for them');
  });

  it('Require all granted with an AuthType: no authentication at all (Apache does not ask)', async () => {
    const env = JSON.parse((await site.get('/granted-with-authtype/x')).text) as Record<string, unknown>;
    assert.equal(env['REMOTE_USER'], undefined);
  });
});

describe('merging Require between sections (AuthMerging)', () => {
  it('a section without Require lines inherits the enclosing ones', async () => {
    assert.equal(await status('/merge/inherit/x', AGENT), 200);
    assert.equal(await status('/merge/inherit/x', STAFFER), 401);
  });

  it('Off (the default): the inner section\'s lines replace the outer ones', async () => {
    assert.equal(await status('/merge/off/x', ALIAS), 200);
    assert.equal(await status('/merge/off/x', AGENT), 401);
    assert.equal(await status('/merge/open/x'), 200, 'Require all granted in the inner section opens it');
  });

  it('And: both the outer and the inner lines must grant', async () => {
    assert.equal(await status('/merge/and/x', AGENT), 403, 'the inner ip line can never grant: 403');
  });

  it('Or: either grants', async () => {
    assert.equal(await status('/merge/or/x', AGENT), 200);
    assert.equal(await status('/merge/or/x', STAFFER), 200);
    assert.equal(await status('/merge/or/x', ALIAS), 401);
  });
});

describe('configurations Apache refuses at request time', () => {
  it('AuthType without Require: 500 (AH01627)', async () => {
    const mark = site.logMark();
    assert.equal(await status('/no-require/x'), 500);
    await site.waitForLog(/AH01627: AuthType configured with no corresponding authorization directives/, mark);
  });

  it('Require valid-user without AuthType: 500 (AH00027)', async () => {
    const mark = site.logMark();
    assert.equal(await status('/no-authtype/x', AGENT), 500);
    await site.waitForLog(/AH00027: No authentication done but request not allowed without authentication for \/no-authtype\/x/, mark);
  });

  it('AuthType Basic without a provider uses the file provider, which needs AuthUserFile: 500 (AH01619)', async () => {
    const mark = site.logMark();
    assert.equal(await status('/no-provider/x', AGENT), 500);
    await site.waitForLog(/\[authn_file:error\] .*AH01619: AuthUserFile not specified in the configuration/, mark);
  });

  it('no AuthName: 500 (AH01615)', async () => {
    const mark = site.logMark();
    assert.equal(await status('/no-name/x', AGENT), 500);
    await site.waitForLog(/AH01615: need AuthName: \/no-name\/x/, mark);
  });

  it('Require wsgi-group without WSGIAuthGroupScript: denied, 401 (WSGI0058)', async () => {
    const mark = site.logMark();
    assert.equal(await status('/no-group-script/x', AGENT), 401);
    await site.waitForLog(/WSGI0058: Location of WSGI group authorization script not provided\./, mark);
  });
});

describe('protecting a whole virtual host', () => {
  it('a <Location /> in one virtual host protects all of it and nothing of the others', async () => {
    assert.equal(await status('/anything', { Host: 'closed.test' }), 401);
    assert.equal(await status('/anything', { Host: 'closed.test', ...AGENT }), 200);
    assert.equal(await status('/anything', { Host: 'open.test' }), 200);
  });
});
