import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { serveSite, type Site } from '../helpers/auth';

/*
 * WSGIPassAuthorization: HTTP_AUTHORIZATION reaches the application only where it is On, set
 * per directory or with the pass-authorization= option of WSGIScriptAlias, which wins over the
 * directory's setting (mod_wsgi). (start-server's --pass-authorization is in the environ tests;
 * with server authentication, in the hook tests.)
 */

const CONFIG = `
Listen 127.0.0.1:{{PORT}}
ServerName pass.test
ErrorLog {{ROOT}}/error_log
DocumentRoot {{ROOT}}/htdocs
WSGIDaemonProcess app threads=2
WSGIProcessGroup app
WSGIApplicationGroup %{GLOBAL}
WSGIScriptAlias /option-on {{APPS}}/environ.wsgi pass-authorization=On
WSGIScriptAlias /option-off {{APPS}}/environ.wsgi pass-authorization=Off
WSGIScriptAlias / {{APPS}}/environ.wsgi
<Location /on>
  WSGIPassAuthorization On
</Location>
<Location /option-off>
  WSGIPassAuthorization On
</Location>
`;

let site: Site;
before(async () => {
  site = await serveSite(CONFIG, { 'htdocs/.keep': '' });
});
after(async () => {
  await site.stop();
});

async function authorization(urlPath: string): Promise<unknown> {
  const res = await site.get(urlPath, { Authorization: 'Bearer token-1' });
  assert.equal(res.status, 200, res.text);
  return (JSON.parse(res.text) as Record<string, unknown>)['HTTP_AUTHORIZATION'];
}

describe('WSGIPassAuthorization', () => {
  it('is Off by default: no HTTP_AUTHORIZATION', async () => {
    assert.equal(await authorization('/elsewhere'), undefined);
  });

  it('On in a section passes the header there', async () => {
    assert.equal(await authorization('/on/x'), 'Bearer token-1');
  });

  it('the WSGIScriptAlias option pass-authorization=On passes it, =Off withholds it even where the directive says On', async () => {
    assert.equal(await authorization('/option-on/x'), 'Bearer token-1');
    assert.equal(await authorization('/option-off/x'), undefined);
  });
});
