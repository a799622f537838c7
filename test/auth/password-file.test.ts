import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { basic, digestAuthorization, md5, parseChallenge, serveSite, type Site } from '../helpers/auth';

/*
 * The file provider (mod_authn_file): AuthUserFile in htpasswd's formats for Basic, and in
 * htdigest's for Digest. The hashes below were written by Apache's htpasswd (and, for $1$, by
 * `openssl passwd -1`), all for the password "open sesame".
 */

const HTPASSWD = `# written by htpasswd
apr1user:$apr1$dQ.bXE5J$8ZHUADQPKS6JcCYztJ7D/1
md5user:$1$Xy7salt$KCxj0ajFvi/6yW7iNC5Fj0
sha256user:$5$yElM6liiXRsM9F.p$EjO.mtJ3hFaOnS96PUBrZ5VniOkNdbLmQUkPjiqHzs.
sha512user:$6$Lj9Pp.cCaCdCzRfG$Wx2sr/sC52y4n2mYv9d6P3HKO.OZX3sX5a56ahCUkIG5ggJJBASCL6mr59nNOxbAitXEojODn.FatQF6iVZX..
bcryptuser:$2y$05$eg14B0qE83pN5QTZWfIrEOqqxxCDzDShTSVAiAatda9L.Q6Dn0nwW
shauser:{SHA}W8r/fyL/UzygmbNAjq2HbA67qac=
desuser:ays9yKcDjG8sk
`;

const HTDIGEST = `digester:Files:${md5('digester:Files:open sesame')}
digester:Other realm:${md5('digester:Other realm:other')}
`;

const CONFIG = `
Listen 127.0.0.1:{{PORT}}
ServerName files.test
ErrorLog {{ROOT}}/error_log
LogLevel info
DocumentRoot {{ROOT}}/htdocs
WSGIDaemonProcess app threads=2
WSGIProcessGroup app
WSGIApplicationGroup %{GLOBAL}
WSGIScriptAlias / {{APPS}}/environ.wsgi

<AuthnProviderAlias file others>
  AuthUserFile {{ROOT}}/others.htpasswd
</AuthnProviderAlias>

<Location /basic>
  AuthType Basic
  AuthName "Files"
  AuthUserFile {{ROOT}}/htpasswd
  Require valid-user
</Location>
<Location /chain>
  AuthType Basic
  AuthName "Files"
  AuthBasicProvider file others wsgi
  AuthUserFile {{ROOT}}/htpasswd
  WSGIAuthUserScript {{APPS}}/auth/hooks.wsgi
  Require valid-user
</Location>
<Location /missing>
  AuthType Basic
  AuthName "Files"
  AuthBasicProvider file
  AuthUserFile {{ROOT}}/no-such-file
  Require valid-user
</Location>
<Location /digest>
  AuthType Digest
  AuthName "Files"
  AuthDigestProvider file
  AuthUserFile {{ROOT}}/htdigest
  Require valid-user
</Location>
`;

let site: Site;
before(async () => {
  site = await serveSite(CONFIG, { htpasswd: HTPASSWD, htdigest: HTDIGEST, 'others.htpasswd': 'other:{SHA}W8r/fyL/UzygmbNAjq2HbA67qac=\n', 'htdocs/.keep': '' });
});
after(async () => {
  await site.stop();
});

describe('AuthUserFile with AuthType Basic (the default file provider)', () => {
  for (const user of ['apr1user', 'md5user', 'sha256user', 'sha512user', 'bcryptuser', 'shauser']) {
    it(`checks ${user}'s hash: the right password gets in, a wrong one gets 401`, async () => {
      const ok = await site.get('/basic/x', { Authorization: basic(user, 'open sesame') });
      assert.equal(ok.status, 200, ok.text);
      assert.equal((JSON.parse(ok.text) as Record<string, unknown>)['REMOTE_USER'], user);
      const wrong = await site.get('/basic/x', { Authorization: basic(user, 'open sesame!') });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.headers['www-authenticate'], 'Basic realm="Files"');
    });
  }

  it('an unknown user: 401 (AH01618)', async () => {
    const mark = site.logMark();
    assert.equal((await site.get('/basic/x', { Authorization: basic('stranger', 'open sesame') })).status, 401);
    await site.waitForLog(/AH01618: user stranger not found: \/basic\/x/, mark);
  });

  it('a DES crypt hash (htpasswd -d) is not checked: 500, saying how to fix it', async () => {
    const mark = site.logMark();
    assert.equal((await site.get('/basic/x', { Authorization: basic('desuser', 'open sesame') })).status, 500);
    await site.waitForLog(/The password of user desuser in .*htpasswd is in a format wsgi-host does not check .*set it again with htpasswd -B\./, mark);
  });

  it('a password file that cannot be read: 500 (AH01620)', async () => {
    const mark = site.logMark();
    assert.equal((await site.get('/missing/x', { Authorization: basic('apr1user', 'open sesame') })).status, 500);
    await site.waitForLog(/AH01620: Could not open password file: .*no-such-file/, mark);
  });

  it('providers are asked in turn: the file, an aliased file, then the wsgi script', async () => {
    const user = async (name: string, password: string): Promise<unknown> => {
      const res = await site.get('/chain/x', { Authorization: basic(name, password) });
      return res.status === 200 ? (JSON.parse(res.text) as Record<string, unknown>)['REMOTE_USER'] : res.status;
    };
    assert.equal(await user('apr1user', 'open sesame'), 'apr1user');
    assert.equal(await user('other', 'open sesame'), 'other');
    assert.equal(await user('spy', 'secret'), 'spy', 'unknown to both files, known to check_password');
    assert.equal(await user('apr1user', 'secret'), 401, 'a user the first file knows is decided there');
  });
});

describe('AuthUserFile with AuthType Digest (htdigest lines)', () => {
  it('takes the hash for the user in the AuthName realm', async () => {
    const first = await site.get('/digest/x');
    const { nonce } = parseChallenge(first.headers['www-authenticate']);
    const ok = await site.get('/digest/x', { Authorization: digestAuthorization({ user: 'digester', password: 'open sesame', realm: 'Files', nonce: nonce!, method: 'GET', uri: '/digest/x' }) });
    assert.equal(ok.status, 200);
    const otherRealm = await site.get('/digest/x', { Authorization: digestAuthorization({ user: 'digester', password: 'other', realm: 'Files', nonce: nonce!, method: 'GET', uri: '/digest/x' }) });
    assert.equal(otherRealm.status, 401, 'the password of another realm does not count');
  });
});
