/**
 * AliasMatch as mod_alias applies it: the substituted target is the file (or directory) served,
 * with the <Directory> and <Files> sections of that path.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { serveSite, type Site } from '../helpers/server';

const CONFIG = `
Listen 127.0.0.1:{{PORT}}
ServerName aliasmatch.test
ErrorLog {{ROOT}}/error_log
LogLevel info
DocumentRoot {{ROOT}}/htdocs
<Directory {{ROOT}}>
  Options Indexes
  Require all granted
</Directory>
<Directory {{ROOT}}/assets>
  <Files "secret.txt">
    Require all denied
  </Files>
</Directory>
AliasMatch ^/am/(.*)$ {{ROOT}}/assets/$1
AliasMatch ^/favicon\\.txt$ {{ROOT}}/assets/x.txt
`;

describe('AliasMatch', () => {
  let site: Site;
  before(async () => {
    site = await serveSite(CONFIG, {
      'htdocs/.keep': '',
      'assets/x.txt': 'the x file',
      'assets/secret.txt': 'secret',
      'assets/sub/y.txt': 'the y file',
    });
  });
  after(async () => {
    await site.stop();
  });

  it('serves the substituted target', async () => {
    assert.equal((await site.get('/am/x.txt')).text, 'the x file');
    assert.equal((await site.get('/am/sub/y.txt')).text, 'the y file');
    assert.equal((await site.get('/favicon.txt')).text, 'the x file');
  });

  it('a missing target is 404, a directory gets its slash and then its listing', async () => {
    assert.equal((await site.get('/am/nothing.txt')).status, 404);
    const redirect = await site.get('/am/sub');
    assert.equal(redirect.status, 301);
    assert.match(String(redirect.headers.location), /\/am\/sub\/$/);
    const listing = await site.get('/am/sub/');
    assert.equal(listing.status, 200);
    assert.match(listing.text, /y\.txt/);
  });

  it('applies the target\'s own <Files> sections', async () => {
    assert.equal((await site.get('/am/secret.txt')).status, 403);
  });
});
