import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { proxyEnviron } from '../../src/front/proxy-headers';
import { app, getJson, serverFixture, startServer } from '../helpers/server';

type Environ = Record<string, unknown>;

const ALL_HEADERS = [
  '--trust-proxy-header', 'X-Forwarded-For',
  '--trust-proxy-header', 'X-Forwarded-Proto',
  '--trust-proxy-header', 'X-Forwarded-Host',
  '--trust-proxy-header', 'X-Forwarded-Server',
  '--trust-proxy-header', 'X-Forwarded-Port',
  '--trust-proxy-header', 'X-Script-Name',
];

describe('WSGITrustedProxyHeaders from a trusted proxy (start-server --trust-proxy-header --trust-proxy)', () => {
  const server = serverFixture([app('environ.wsgi'), ...ALL_HEADERS, '--trust-proxy', '127.0.0.1', '--trust-proxy', '10.0.0.0/8']);
  before(server.start);
  after(server.stop);

  const environ = (headers: Record<string, string>): Promise<Environ> => getJson(server.get().url + '/', { headers });

  it('REMOTE_ADDR is the address just before the trusted proxies, walking X-Forwarded-For from the right', async () => {
    const e = await environ({ 'X-Forwarded-For': '1.2.3.4, 5.6.7.8, 10.0.0.2' });
    assert.equal(e['REMOTE_ADDR'], '5.6.7.8');
    assert.equal(e['HTTP_X_FORWARDED_FOR'], '5.6.7.8, 10.0.0.2');
  });

  it('an untrusted rightmost address is the client, and the header keeps only it', async () => {
    const e = await environ({ 'X-Forwarded-For': '10.0.0.1, 9.9.9.9' });
    assert.equal(e['REMOTE_ADDR'], '9.9.9.9');
    assert.equal(e['HTTP_X_FORWARDED_FOR'], '9.9.9.9');
  });

  it('when every address is a trusted proxy, the leftmost is the client', async () => {
    const e = await environ({ 'X-Forwarded-For': '10.0.0.1, 10.0.0.2' });
    assert.equal(e['REMOTE_ADDR'], '10.0.0.1');
    assert.equal(e['HTTP_X_FORWARDED_FOR'], '10.0.0.1, 10.0.0.2');
  });

  it('X-Forwarded-Proto sets wsgi.url_scheme and removes the other scheme headers', async () => {
    const e = await environ({ 'X-Forwarded-Proto': 'https', 'X-Forwarded-SSL': 'off', 'X-Scheme': 'http', 'X-Forwarded-HTTPS': 'off' });
    assert.equal(e['wsgi.url_scheme'], 'https');
    assert.equal(e['REQUEST_SCHEME'], 'http', "REQUEST_SCHEME stays the connection's, as in mod_wsgi");
    assert.equal(e['HTTP_X_FORWARDED_PROTO'], 'https');
    for (const gone of ['HTTP_X_FORWARDED_SSL', 'HTTP_X_SCHEME', 'HTTP_X_FORWARDED_HTTPS']) assert.equal(e[gone], undefined, gone);
  });

  it('host, server name, port and script name come from their headers; synonyms are removed', async () => {
    const e = await environ({
      'X-Forwarded-Host': 'www.example.org:8443',
      'X-Host': 'evil.example',
      'X-Forwarded-Server': 'proxy.example.org',
      'X-Forwarded-Port': '8443',
      'X-Script-Name': '/mounted',
      'X-Forwarded-Script-Name': '/evil',
    });
    assert.equal(e['HTTP_HOST'], 'www.example.org:8443');
    assert.equal(e['SERVER_NAME'], 'proxy.example.org');
    assert.equal(e['SERVER_PORT'], '8443');
    assert.equal(e['SCRIPT_NAME'], '/mounted');
    assert.equal(e['mod_wsgi.mount_point'], '/mounted');
    assert.equal(e['mod_wsgi.script_name'], '', 'mod_wsgi.script_name is the value before the proxy rewrote it');
    assert.equal(e['HTTP_X_HOST'], undefined);
    assert.equal(e['HTTP_X_FORWARDED_SCRIPT_NAME'], undefined);
  });

  it('a client IP header that is not listed, but of a listed category, is removed', async () => {
    const e = await environ({ 'X-Real-IP': '6.6.6.6', 'X-Client-IP': '7.7.7.7' });
    assert.equal(e['REMOTE_ADDR'], '127.0.0.1');
    assert.equal(e['HTTP_X_REAL_IP'], undefined);
    assert.equal(e['HTTP_X_CLIENT_IP'], undefined);
  });
});

describe('WSGITrustedProxyHeaders from a peer that is not a trusted proxy', () => {
  const server = serverFixture([app('environ.wsgi'), ...ALL_HEADERS, '--trust-proxy', '10.0.0.1']);
  before(server.start);
  after(server.stop);

  it("strips every header of the listed categories and keeps the connection's values", async () => {
    const e = await getJson(server.get().url + '/', {
      headers: { 'X-Forwarded-For': '1.2.3.4', 'X-Real-IP': '1.2.3.4', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'evil.example', 'X-Script-Name': '/evil', 'X-Other': 'kept' },
    });
    assert.equal(e['REMOTE_ADDR'], '127.0.0.1');
    assert.equal(e['wsgi.url_scheme'], 'http');
    assert.equal(e['SCRIPT_NAME'], '');
    assert.match(String(e['HTTP_HOST']), /^127\.0\.0\.1:\d+$/);
    for (const gone of ['HTTP_X_FORWARDED_FOR', 'HTTP_X_REAL_IP', 'HTTP_X_FORWARDED_PROTO', 'HTTP_X_FORWARDED_HOST', 'HTTP_X_SCRIPT_NAME', 'mod_wsgi.mount_point']) {
      assert.equal(e[gone], undefined, gone);
    }
    assert.equal(e['HTTP_X_OTHER'], 'kept');
  });
});

describe('WSGITrustedProxyHeaders without WSGITrustedProxies', () => {
  it('trusts every peer: the first X-Forwarded-For address is the client and the header is left as sent', async () => {
    const server = await startServer([app('environ.wsgi'), '--trust-proxy-header', 'X-Forwarded-For', '--trust-proxy-header', 'X-Forwarded-HTTPS']);
    try {
      const e = await getJson(server.url + '/', { headers: { 'X-Forwarded-For': ' , 1.2.3.4, 10.0.0.2', 'X-Forwarded-HTTPS': 'On', 'X-Forwarded-Proto': 'http' } });
      assert.equal(e['REMOTE_ADDR'], '1.2.3.4');
      assert.equal(e['HTTP_X_FORWARDED_FOR'], ', 1.2.3.4, 10.0.0.2');
      assert.equal(e['wsgi.url_scheme'], 'https');
      assert.equal(e['HTTP_X_FORWARDED_PROTO'], undefined);
    } finally {
      await server.stop();
    }
  });

  it('without WSGITrustedProxyHeaders, proxy headers are ordinary headers', async () => {
    const server = await startServer([app('environ.wsgi')]);
    try {
      const e = await getJson(server.url + '/', { headers: { 'X-Forwarded-For': '1.2.3.4', 'X-Forwarded-Proto': 'https' } });
      assert.equal(e['REMOTE_ADDR'], '127.0.0.1');
      assert.equal(e['wsgi.url_scheme'], 'http');
      assert.equal(e['HTTP_X_FORWARDED_FOR'], '1.2.3.4');
      assert.equal(e['HTTP_X_FORWARDED_PROTO'], 'https');
    } finally {
      await server.stop();
    }
  });

  it('refuses a bad --trust-proxy', async () => {
    const server = await startServer([app('environ.wsgi'), '--trust-proxy', 'proxy.example'], { expectFailure: true });
    const code = await server.waitForExit();
    assert.notEqual(code, 0);
    assert.match(server.stderr, /--trust-proxy takes an IP address or subnet: "proxy.example" is not an IP address/);
  });
});

describe('proxyEnviron (the rules on their own)', () => {
  const raw = (...pairs: string[]): string[] => pairs;

  it('repeated X-Forwarded-For fields are one list, as Apache joins them', () => {
    const r = proxyEnviron(raw('X-Forwarded-For', '1.1.1.1', 'Host', 'h', 'X-Forwarded-For', '2.2.2.2, 10.0.0.9'), ['HTTP_X_FORWARDED_FOR'], ['10.0.0.0/8', '127.0.0.1'], '127.0.0.1', 'http');
    assert.deepEqual(r.rawHeaders, ['Host', 'h', 'X-Forwarded-For', '2.2.2.2, 10.0.0.9']);
    assert.ok(r.overrides.includes('2.2.2.2'));
  });

  it('a value that is not an IP address stops the walk', () => {
    const r = proxyEnviron(raw('X-Forwarded-For', '1.1.1.1, unknown, 10.0.0.9'), ['HTTP_X_FORWARDED_FOR'], ['10.0.0.0/8', '127.0.0.1'], '127.0.0.1', 'http');
    assert.deepEqual(r.rawHeaders, ['X-Forwarded-For', 'unknown, 10.0.0.9']);
  });

  it('a listed header of no known category changes nothing', () => {
    const r = proxyEnviron(raw('X-Custom', 'v'), ['HTTP_X_CUSTOM'], [], '127.0.0.1', 'http');
    assert.deepEqual(r.rawHeaders, ['X-Custom', 'v']);
    assert.equal(r.overrides, '');
  });

  it('on a TLS connection, a trusted "http" proxy scheme wins over the connection', () => {
    const r = proxyEnviron(raw('X-Forwarded-Proto', 'http'), ['HTTP_X_FORWARDED_PROTO'], [], '127.0.0.1', 'https');
    assert.ok(r.overrides.endsWith('\u0004http'), JSON.stringify(r.overrides));
  });
});
