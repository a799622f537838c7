import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { basic, serveSite, type Site } from '../helpers/auth';
import { APPS } from '../helpers/server';

/*
 * The processes hook scripts run in: one process group per application group (separate module
 * namespaces, as mod_wsgi's sub-interpreters), scripts reloaded when they change (unless
 * WSGIScriptReloading Off), processes restarted when they crash, and a hook that hangs cut off
 * after Timeout.
 */

const NAMESPACE = fs.readFileSync(path.join(APPS, 'auth', 'namespace.wsgi'), 'utf8');
const versioned = (version: string): string => `def check_password(environ, user, password):\n    return '${version}-' + user\n`;

const AUTH = (script: string, options = ''): string => `
  AuthType Basic
  AuthName "R"
  AuthBasicProvider wsgi
  WSGIAuthUserScript ${script} ${options}
  Require valid-user`;

const CONFIG = `
Listen 127.0.0.1:{{PORT}}
ServerName ns.test
Timeout 3
ErrorLog {{ROOT}}/error_log
LogLevel info
DocumentRoot {{ROOT}}/htdocs
WSGIDaemonProcess app threads=4
WSGIProcessGroup app
WSGIApplicationGroup %{GLOBAL}
WSGIScriptAlias / {{APPS}}/environ.wsgi

<Location /a1>${AUTH('{{ROOT}}/ns1.wsgi', 'application-group=A')}
</Location>
<Location /a2>${AUTH('{{ROOT}}/ns2.wsgi', 'application-group=A')}
</Location>
<Location /b>${AUTH('{{ROOT}}/ns1.wsgi', 'application-group=B')}
</Location>
<Location /g>${AUTH('{{ROOT}}/ns1.wsgi')}
</Location>
<Location /server>${AUTH('{{ROOT}}/ns2.wsgi', 'application-group=%{SERVER}')}
</Location>
<Location /reload>${AUTH('{{ROOT}}/reload.wsgi')}
</Location>
<Location /noreload>
  WSGIScriptReloading Off${AUTH('{{ROOT}}/noreload.wsgi')}
</Location>
<Location /hooks>${AUTH('{{APPS}}/auth/hooks.wsgi', 'application-group=crashy')}
</Location>
<Location /access>
  WSGIAccessScript {{APPS}}/auth/hooks.wsgi application-group=crashy
</Location>
`;

let site: Site;
before(async () => {
  site = await serveSite(CONFIG, { 'ns1.wsgi': NAMESPACE, 'ns2.wsgi': NAMESPACE, 'reload.wsgi': versioned('v1'), 'noreload.wsgi': versioned('v1'), 'htdocs/.keep': '' });
});
after(async () => {
  await site.stop();
});

async function remoteUser(urlPath: string, user = 'u'): Promise<string> {
  const res = await site.get(urlPath, { Authorization: basic(user, 'pw') });
  assert.equal(res.status, 200, res.text);
  return String((JSON.parse(res.text) as Record<string, unknown>)['REMOTE_USER']);
}

/** "group|pid|scripts loaded in that interpreter" from namespace.wsgi. */
async function namespace(urlPath: string): Promise<{ group: string; pid: number; loaded: number }> {
  const [group, pid, loaded] = (await remoteUser(urlPath)).split('|');
  return { group: group!, pid: Number(pid), loaded: Number(loaded) };
}

describe('application groups of hook scripts', () => {
  it('scripts of one application group share a process and its modules; other groups have their own', async () => {
    const a1 = await namespace('/a1/x');
    const a2 = await namespace('/a2/x');
    const b = await namespace('/b/x');
    const g = await namespace('/g/x');
    assert.equal(a1.group, 'A');
    assert.equal(a2.group, 'A');
    assert.equal(a2.pid, a1.pid, 'same application group, same process');
    assert.equal(a1.loaded, 1);
    assert.equal(a2.loaded, 2, 'the second script of group A sees the module the first one created');
    assert.equal(b.group, 'B');
    assert.notEqual(b.pid, a1.pid);
    assert.equal(b.loaded, 1, 'group B does not see group A\'s modules');
    assert.equal(g.group, 'GLOBAL', '%{GLOBAL} (the default) is the empty application group');
    assert.ok(g.pid !== a1.pid && g.pid !== b.pid);
    assert.equal(g.loaded, 1);
  });

  it('application-group=%{SERVER} is the server name and port', async () => {
    const server = await namespace('/server/x');
    assert.equal(server.group, `ns.test:${site.server.port}`);
  });
});

describe('reloading hook scripts', () => {
  it('SIGHUP starts the hook processes afresh', async () => {
    const before = await namespace('/g/x');
    const mark = site.logMark();
    site.server.child.kill('SIGHUP');
    await site.waitForLog(/All process groups have been restarted\./, mark);
    const after = await namespace('/g/x');
    assert.notEqual(after.pid, before.pid);
    assert.equal(after.loaded, 1, 'a fresh interpreter loaded the script again');
  });

  it('a changed script is loaded afresh (its modification time, as mod_wsgi checks)', async () => {
    assert.equal(await remoteUser('/reload/x'), 'v1-u');
    const file = path.join(site.dir, 'reload.wsgi');
    fs.writeFileSync(file, versioned('v2'));
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(file, later, later);
    assert.equal(await remoteUser('/reload/x'), 'v2-u');
  });

  it('with WSGIScriptReloading Off the loaded script stays', async () => {
    assert.equal(await remoteUser('/noreload/x'), 'v1-u');
    const file = path.join(site.dir, 'noreload.wsgi');
    fs.writeFileSync(file, versioned('v2'));
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(file, later, later);
    assert.equal(await remoteUser('/noreload/x'), 'v1-u');
  });
});

describe('hook processes that crash or hang', () => {
  it('a user hook whose process dies: 500, the cause in the log, and the process is replaced', async () => {
    const mark = site.logMark();
    const res = await site.get('/hooks/x', { Authorization: basic('crash', 'pw') });
    assert.equal(res.status, 500);
    await site.waitForLog(/Auth hook 'check_password' in '.*hooks\.wsgi' failed: the hook process ended while running it \(process \d+ exited with status 3\)\./, mark);
    assert.equal(await remoteUser('/hooks/x', 'agent'), 'agent');
  });

  it('an access hook whose process dies refuses with 403; the next request is served', async () => {
    assert.equal((await site.get('/access/x', { 'X-Access': 'crash' })).status, 403);
    assert.equal((await site.get('/access/x', { 'X-Access': 'true' })).status, 200);
  });

  it('a hook that runs longer than Timeout: 500, and the server goes on', async () => {
    const mark = site.logMark();
    const res = await site.get('/hooks/x', { Authorization: basic('slow', 'pw') });
    assert.equal(res.status, 500);
    await site.waitForLog(/Auth hook 'check_password' in '.*hooks\.wsgi' failed: it did not answer within 3 seconds \(Timeout\)\./, mark);
    assert.equal(await remoteUser('/hooks/x', 'agent'), 'agent');
  });
});
