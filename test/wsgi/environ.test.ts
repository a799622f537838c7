import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { app, getJson, rawExchange, request, serverFixture } from '../helpers/server';

type Environ = Record<string, unknown> & { __types__: Record<string, string> };

describe('environ at the root mount', () => {
  const server = serverFixture([app('environ.wsgi'), '--processes', '2', '--threads', '3']);
  before(server.start);
  after(server.stop);

  it('has every CGI key mod_wsgi sets, as str', async () => {
    const env = await getJson<Environ>(`${server.get().url}/some/path?a=1&b=%20`, { headers: { 'User-Agent': 'test-agent' } });
    assert.equal(env['REQUEST_METHOD'], 'GET');
    assert.equal(env['SCRIPT_NAME'], '');
    assert.equal(env['PATH_INFO'], '/some/path');
    assert.equal(env['QUERY_STRING'], 'a=1&b=%20');
    assert.equal(env['REQUEST_URI'], '/some/path?a=1&b=%20');
    assert.equal(env['SERVER_PROTOCOL'], 'HTTP/1.1');
    assert.equal(env['SERVER_NAME'], '127.0.0.1');
    assert.equal(env['SERVER_PORT'], String(server.get().port));
    assert.equal(env['SERVER_ADDR'], '127.0.0.1');
    assert.match(env['SERVER_SOFTWARE'] as string, /^wsgi-host\/\d/);
    assert.equal(env['REMOTE_ADDR'], '127.0.0.1');
    assert.match(env['REMOTE_PORT'] as string, /^\d+$/);
    assert.equal(env['REQUEST_SCHEME'], 'http');
    assert.equal(env['HTTP_USER_AGENT'], 'test-agent');
    assert.equal(env['HTTP_HOST'], `127.0.0.1:${server.get().port}`);
    assert.match(env['SCRIPT_FILENAME'] as string, /test\/apps\/environ\.wsgi$/);
    assert.equal(typeof env['DOCUMENT_ROOT'], 'string');
    assert.equal(env['CONTEXT_PREFIX'], '');
    for (const key of ['REQUEST_METHOD', 'SCRIPT_NAME', 'PATH_INFO', 'QUERY_STRING', 'SERVER_NAME', 'SERVER_PORT', 'HTTP_HOST']) {
      assert.equal(env.__types__[key], 'str', key);
    }
    for (const dropped of ['GATEWAY_INTERFACE', 'PATH_TRANSLATED', 'SERVER_SIGNATURE', 'HTTPS', 'PATH']) {
      assert.equal(env[dropped], undefined, `${dropped} must not be set`);
    }
  });

  it('has the wsgi.* keys with the right types and values', async () => {
    const env = await getJson<Environ>(`${server.get().url}/`);
    assert.deepEqual(env['wsgi.version'], { tuple: [1, 0] });
    assert.equal(env['wsgi.url_scheme'], 'http');
    assert.equal(env['wsgi.multithread'], true);
    assert.equal(env['wsgi.multiprocess'], true);
    assert.equal(env['wsgi.run_once'], false);
    assert.equal(env['wsgi.input_terminated'], true);
    assert.equal(env.__types__['wsgi.input'], 'InputWrapper'); // wrapped by wsgiref.validate
    assert.equal(env.__types__['wsgi.errors'], 'ErrorWrapper');
    assert.equal(env.__types__['wsgi.file_wrapper'], 'type');
  });

  it('has the mod_wsgi.* keys', async () => {
    const env = await getJson<Environ>(`${server.get().url}/x`);
    const port = server.get().port;
    // Named as mod_wsgi-express names it, from the configured host and port (0 here: chosen by the system).
    assert.equal(env['mod_wsgi.process_group'], '127.0.0.1:0');
    assert.equal(env['mod_wsgi.application_group'], '');
    assert.equal(env['mod_wsgi.callable_object'], 'application');
    assert.equal(env['mod_wsgi.request_handler'], 'wsgi-script');
    assert.equal(env['mod_wsgi.script_name'], '');
    assert.equal(env['mod_wsgi.path_info'], '/x');
    assert.equal(env['mod_wsgi.listener_port'], String(port));
    assert.match(env['mod_wsgi.server_pid'] as string, /^\d+$/);
    assert.match(env['mod_wsgi.request_id'] as string, /\S/);
    assert.match(env['mod_wsgi.connection_id'] as string, /\S/);
    assert.deepEqual(env['mod_wsgi.version'], { tuple: [6, 0, 5] });
    for (const key of ['mod_wsgi.request_start', 'mod_wsgi.queue_start', 'mod_wsgi.daemon_start', 'mod_wsgi.application_start']) {
      assert.equal(env.__types__[key], 'float', key);
    }
    assert.ok((env['mod_wsgi.request_start'] as number) <= (env['mod_wsgi.application_start'] as number));
    assert.equal(env.__types__['mod_wsgi.thread_id'], 'int');
  });

  it('loads the script as mod_wsgi does: module name, __file__, __mtime__, sys.argv', async () => {
    const env = await getJson<Environ>(`${server.get().url}/`);
    assert.match(env['__module__'] as string, /^_mod_wsgi_[0-9a-f]{32}$/);
    assert.equal(env['__file__'], env['SCRIPT_FILENAME']);
    assert.equal(typeof env['__mtime__'], 'number');
    assert.deepEqual(env['__argv__'], ['mod_wsgi']);
    const crypto = await import('node:crypto');
    const expected = '_mod_wsgi_' + crypto.createHash('md5').update(env['SCRIPT_FILENAME'] as string).digest('hex');
    assert.equal(env['__module__'], expected);
  });

  it('percent-decodes PATH_INFO to latin-1 characters, one per byte, and leaves QUERY_STRING raw', async () => {
    const env = await getJson<Environ>(`${server.get().url}/caf%C3%A9/%7Euser/a%20b?q=%C3%A9`);
    // UTF-8 bytes C3 A9 become the two latin-1 characters U+00C3 U+00A9, as PEP 3333 requires.
    assert.equal(env['PATH_INFO'], '/caf\u00c3\u00a9/~user/a b');
    assert.equal(env['QUERY_STRING'], 'q=%C3%A9');
  });

  it('resolves dot segments and merges slashes in PATH_INFO, keeps REQUEST_URI raw', async () => {
    const env = await getJson<Environ>(`${server.get().url}/a//b/./c/../d`);
    assert.equal(env['PATH_INFO'], '/a/b/d');
    const raw = await rawExchange(server.get().port, `GET /a//b/./c/../d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    const body = JSON.parse(raw.toString('latin1').split('\r\n\r\n')[1]!) as Environ;
    assert.equal(body['REQUEST_URI'], '/a//b/./c/../d');
    assert.equal(body['PATH_INFO'], '/a/b/d');
  });

  it('rejects an encoded slash with 404 and a bad escape with 400, as Apache does', async () => {
    assert.equal((await request(`${server.get().url}/a%2Fb`)).status, 404);
    assert.equal((await request(`${server.get().url}/a%00b`)).status, 404);
    assert.equal((await request(`${server.get().url}/a%zzb`)).status, 400);
    const above = await rawExchange(server.get().port, 'GET /../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(above.toString('latin1'), /^HTTP\/1\.1 400 /);
  });

  it('drops headers whose names hold characters other than letters, digits and "-"', async () => {
    const raw = await rawExchange(
      server.get().port,
      'GET / HTTP/1.1\r\nHost: x\r\nX-Good-Name: yes\r\nX_Bad_Name: no\r\nX.Dotted: no\r\nConnection: close\r\n\r\n',
    );
    const env = JSON.parse(raw.toString('latin1').split('\r\n\r\n')[1]!) as Environ;
    assert.equal(env['HTTP_X_GOOD_NAME'], 'yes');
    assert.equal(env['HTTP_X_BAD_NAME'], undefined);
    assert.equal(env['HTTP_X_DOTTED'], undefined);
  });

  it('gives header bytes to the application as latin-1 strings and joins repeated headers', async () => {
    const raw = Buffer.concat([
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nX-Bytes: caf'),
      Buffer.from([0xc3, 0xa9, 0xff]),
      Buffer.from('\r\nX-Twice: one\r\nX-Twice: two\r\nConnection: close\r\n\r\n'),
    ]);
    const env = JSON.parse((await rawExchange(server.get().port, raw)).toString('utf8').split('\r\n\r\n')[1]!) as Environ;
    assert.equal(env['HTTP_X_BYTES'], 'caf\u00c3\u00a9\u00ff');
    assert.equal(env['HTTP_X_TWICE'], 'one, two');
  });

  it('puts Content-Type and Content-Length in CONTENT_TYPE/CONTENT_LENGTH, never HTTP_*', async () => {
    const env = await getJson<Environ>(`${server.get().url}/`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'abc' });
    assert.equal(env['CONTENT_TYPE'], 'text/plain');
    assert.equal(env['CONTENT_LENGTH'], '3');
    assert.equal(env['HTTP_CONTENT_TYPE'], undefined);
    assert.equal(env['HTTP_CONTENT_LENGTH'], undefined);
  });

  it('passes Authorization by default, as mod_wsgi-express does (WSGIPassAuthorization On); never Proxy (httpoxy) or Proxy-Authorization', async () => {
    const env = await getJson<Environ>(`${server.get().url}/`, { headers: { Authorization: 'Basic dTpw', Proxy: 'http://evil', 'Proxy-Authorization': 'x' } });
    assert.equal(env['HTTP_AUTHORIZATION'], 'Basic dTpw');
    assert.equal(env['HTTP_PROXY'], undefined);
    assert.equal(env['HTTP_PROXY_AUTHORIZATION'], undefined);
  });

  it('takes SERVER_NAME and SERVER_PORT from the Host header (UseCanonicalName Off)', async () => {
    const raw = await rawExchange(server.get().port, 'GET / HTTP/1.1\r\nHost: Example.COM:8443\r\nConnection: close\r\n\r\n');
    const env = JSON.parse(raw.toString('latin1').split('\r\n\r\n')[1]!) as Environ;
    assert.equal(env['SERVER_NAME'], 'example.com');
    assert.equal(env['SERVER_PORT'], '8443');
    const http10 = await rawExchange(server.get().port, 'GET / HTTP/1.0\r\n\r\n');
    const env10 = JSON.parse(http10.toString('latin1').split('\r\n\r\n')[1]!) as Environ;
    assert.equal(env10['SERVER_NAME'], 'localhost');
    assert.equal(env10['SERVER_PROTOCOL'], 'HTTP/1.0');
    assert.equal(env10['SERVER_PORT'], String(server.get().port));
  });

  it('answers 400 to an HTTP/1.1 request without Host', async () => {
    const raw = await rawExchange(server.get().port, 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n');
    assert.match(raw.toString('latin1'), /^HTTP\/1\.1 400 /);
  });
});

describe('environ under a mount point', () => {
  const server = serverFixture([app('environ.wsgi'), '--mount-point', '/app/', '--pass-authorization=off', '--threads', '1']);
  before(server.start);
  after(server.stop);

  it('splits SCRIPT_NAME and PATH_INFO at the mount point, on segment boundaries only', async () => {
    const base = server.get().url;
    let env = await getJson<Environ>(`${base}/app/x/y`);
    assert.equal(env['SCRIPT_NAME'], '/app');
    assert.equal(env['PATH_INFO'], '/x/y');
    env = await getJson<Environ>(`${base}/app`);
    assert.equal(env['SCRIPT_NAME'], '/app');
    assert.equal(env['PATH_INFO'], '');
    env = await getJson<Environ>(`${base}/app/`);
    assert.equal(env['PATH_INFO'], '/');
    assert.equal((await request(`${base}/application`)).status, 404);
    assert.equal((await request(`${base}/`)).status, 404);
  });

  it('withholds HTTP_AUTHORIZATION with --pass-authorization=off (WSGIPassAuthorization Off)', async () => {
    const env = await getJson<Environ>(`${server.get().url}/app/`, { headers: { Authorization: 'Basic dTpw' } });
    assert.equal(env['HTTP_AUTHORIZATION'], undefined);
    assert.equal(env['REMOTE_USER'], undefined, 'the server authenticated no one');
  });

  it('is single-threaded and single-process when so configured', async () => {
    const env = await getJson<Environ>(`${server.get().url}/app/`);
    assert.equal(env['wsgi.multithread'], false);
    assert.equal(env['wsgi.multiprocess'], false);
  });

  it('sets sys.path and the working directory as mod_wsgi-express does (home = current directory)', async () => {
    const env = await getJson<Environ>(`${server.get().url}/app/`);
    const paths = env['__path__'] as string[];
    assert.equal(paths[0], env['__cwd__']);
    assert.ok(!paths.includes(''), 'the empty entry for the current directory is replaced by the absolute home');
    assert.ok(!paths.some((p) => p.endsWith('/python') && p.includes('wsgi')), 'the runtime directory is not on sys.path');
  });
});
