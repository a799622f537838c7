import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { serveSite, type Site } from '../helpers/auth';

/*
 * WSGIRestrictStdout and WSGIRestrictStdin: On, using sys.stdout or sys.stdin raises OSError
 * with mod_wsgi's message; Off (the default), print() goes to the error log and stdin reads
 * nothing. WSGIRestrictSignal: On (the default), signal.signal() is ignored and logged; Off, it
 * reaches Python's signal module.
 */

const config = (restrict: string): string => `
Listen 127.0.0.1:{{PORT}}
ServerName restrict.test
ErrorLog {{ROOT}}/error_log
LogLevel info
DocumentRoot {{ROOT}}/htdocs
${restrict}
WSGIDaemonProcess app threads=2
WSGIProcessGroup app
WSGIApplicationGroup %{GLOBAL}
WSGIScriptAlias / {{APPS}}/auth/restrict.wsgi
`;

async function result(site: Site): Promise<Record<string, string>> {
  const res = await site.get('/');
  assert.equal(res.status, 200, res.text);
  return JSON.parse(res.text) as Record<string, string>;
}

describe('WSGIRestrictStdout On, WSGIRestrictStdin On, WSGIRestrictSignal Off', () => {
  let site: Site;
  before(async () => {
    site = await serveSite(config('WSGIRestrictStdout On\nWSGIRestrictStdin On\nWSGIRestrictSignal Off'), { 'htdocs/.keep': '' });
  });
  after(async () => {
    await site.stop();
  });

  it('print() and sys.stdin raise OSError with mod_wsgi\'s message', async () => {
    const r = await result(site);
    assert.equal(r['stdout'], 'OSError: sys.stdout access restricted by mod_wsgi');
    assert.equal(r['stdin'], 'OSError: sys.stdin access restricted by mod_wsgi');
  });

  it('signal.signal() reaches Python (which refuses it outside the main thread)', async () => {
    assert.match((await result(site))['signal']!, /^ValueError: signal only works in main thread/);
  });
});

describe('WSGIRestrictStdout and WSGIRestrictStdin Off, WSGIRestrictSignal On (the defaults)', () => {
  let site: Site;
  before(async () => {
    site = await serveSite(config(''), { 'htdocs/.keep': '' });
  });
  after(async () => {
    await site.stop();
  });

  it('print() goes to the error log with the request\'s client; sys.stdin reads nothing', async () => {
    const r = await result(site);
    assert.equal(r['stdout'], 'ok');
    assert.equal(r['stdin'], "read ''");
    await site.waitForLog(/\[wsgi:error\] .*\[client 127\.0\.0\.1:\d+\] restrict-app printed a line$/);
  });

  it('signal.signal() is ignored, and the attempt logged at info', async () => {
    const r = await result(site);
    assert.equal(r['signal'], 'ignored');
    assert.equal(r['signal_returned'], 'the handler given', 'as mod_wsgi returns it');
    await site.waitForLog(/\[wsgi:info\] .*Callback registration for signal \d+ ignored\./);
  });

  it('a child the application forks installs its own signal handlers, as under mod_wsgi', async () => {
    assert.equal((await result(site))['forked'], 'handled, exit 0');
  });
});
