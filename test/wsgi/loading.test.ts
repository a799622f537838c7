import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { app, request, serverFixture, sleep, startServer } from '../helpers/server';

describe('loading WSGI scripts', () => {
  it('answers 404 with mod_wsgi\'s message when the script lacks the callable', async () => {
    const server = await startServer([app('no_callable.wsgi')]);
    try {
      const res = await request(`${server.url}/`);
      assert.equal(res.status, 404);
      await server.waitForLog(/\[wsgi:error\] .*WSGI0089: Target WSGI script '.*no_callable\.wsgi' does not contain WSGI application 'application'\./);
    } finally {
      await server.stop();
    }
  });

  it('uses the callable named by --callable-object', async () => {
    const server = await startServer([app('no_callable.wsgi'), '--callable-object', 'something_else']);
    try {
      assert.equal((await request(`${server.url}/`)).text, 'other callable');
    } finally {
      await server.stop();
    }
  });

  it('answers 500 for a script that fails to import, logs the traceback, and tries again on the next request', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-import-'));
    const okFile = path.join(dir, 'ok');
    const server = await startServer([app('broken_import.wsgi'), '--threads', '1'], { env: { WSGI_TEST_IMPORT_OK: okFile } });
    try {
      assert.equal((await request(`${server.url}/`)).status, 500);
      await server.waitForLog(/WSGI0109: Unable to execute Python script file '.*broken_import\.wsgi'\./);
      await server.waitForLog('ImportError: broken-import-marker');
      assert.equal((await request(`${server.url}/`)).status, 500, 'still broken: nothing was cached');
      fs.writeFileSync(okFile, '');
      const fixed = await request(`${server.url}/`);
      assert.equal(fixed.status, 200);
      assert.equal(fixed.text, 'imported now');
    } finally {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers 500 for a script with a syntax error and says it could not compile it', async () => {
    const server = await startServer([app('syntax_error.wsgi')]);
    try {
      assert.equal((await request(`${server.url}/`)).status, 500);
      await server.waitForLog(/WSGI0105: Could not read or compile WSGI script '.*syntax_error\.wsgi' for main interpreter of daemon process/);
      await server.waitForLog('SyntaxError');
    } finally {
      await server.stop();
    }
  });
});

describe('lazy loading', () => {
  const markers = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-lazy-'));
  const server = serverFixture([app('lazy.wsgi'), '--processes', '2', '--threads', '2'], { env: { WSGI_TEST_MARKERS: markers } });
  before(server.start);
  after(async () => {
    await server.stop();
    fs.rmSync(markers, { recursive: true, force: true });
  });

  it('imports the script on the first request a process gets, not at start-up', async () => {
    await sleep(500);
    assert.deepEqual(fs.readdirSync(markers), [], 'nothing imported before the first request');
    const pid = (await request(`${server.get().url}/`)).text;
    assert.deepEqual(fs.readdirSync(markers), [`imported-${pid}`]);
    // Concurrent first requests in the other process import it once there too.
    const pids = new Set((await Promise.all(Array.from({ length: 8 }, () => request(`${server.get().url}/`)))).map((r) => r.text));
    assert.equal(pids.size, 2, 'both processes served');
    assert.equal(fs.readdirSync(markers).length, 2, 'one import per process');
  });
});
