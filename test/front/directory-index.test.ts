/**
 * A directory's index file is served as mod_dir serves it, through a subrequest: the index file
 * gets its own <Files> sections, access rules and handler, not the directory's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { serveSite, type Site } from '../helpers/server';

const CONFIG = `
Listen 127.0.0.1:{{PORT}}
ServerName index.test
ErrorLog {{ROOT}}/error_log
LogLevel info
DocumentRoot {{ROOT}}/htdocs
<Directory {{ROOT}}/htdocs>
  Options Indexes ExecCGI
  Require all granted
</Directory>
<Directory {{ROOT}}/htdocs/guarded>
  <Files "index.html">
    Require all denied
  </Files>
</Directory>
<Directory {{ROOT}}/htdocs/app>
  AddHandler wsgi-script .wsgi
  DirectoryIndex index.wsgi
</Directory>
`;

const APP = `
def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [('ran %s %s' % (environ['SCRIPT_NAME'], environ['REQUEST_URI'])).encode()]
`;

describe('DirectoryIndex', () => {
  let site: Site;
  before(async () => {
    site = await serveSite(CONFIG, {
      'htdocs/open/index.html': 'open index',
      'htdocs/guarded/index.html': 'guarded index',
      'htdocs/guarded/other.txt': 'other',
      'htdocs/app/index.wsgi': APP,
    });
  });
  after(async () => {
    await site.stop();
  });

  it('serves a directory\'s index file', async () => {
    const res = await site.get('/open/');
    assert.equal(res.status, 200);
    assert.equal(res.text, 'open index');
  });

  it('applies the index file\'s own <Files> access rules: what is denied by name is denied through the directory too', async () => {
    assert.equal((await site.get('/guarded/index.html')).status, 403);
    for (const variant of ['/guarded/', '//guarded/', '/guarded/./', '/guarded//']) {
      const res = await site.get(variant);
      assert.equal(res.status, 403, `${variant} answered ${res.status}: ${res.text.slice(0, 80)}`);
      assert.doesNotMatch(res.text, /guarded index/);
    }
    assert.equal((await site.get('/guarded/other.txt')).text, 'other');
  });

  it('runs an index file its handler maps to a WSGI script, and never sends its source', async () => {
    const res = await site.get('/app/?q=1');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, 'ran /app/index.wsgi /app/?q=1');
    assert.equal((await site.get('/app/index.wsgi')).text, 'ran /app/index.wsgi /app/index.wsgi');
  });
});
