import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { app, rawExchange, request, startServer, type RunningServer } from '../helpers/server';
import { eventually } from './ops-helpers';

/*
 * Request ids: each request has one, in environ['mod_wsgi.request_id'], the access log (%L and
 * the JSON format) and the error log lines of that request. A proxy's X-Request-Id is used only
 * when X-Request-Id is a trusted proxy header, the peer is a trusted proxy and the id is well formed.
 */

const GENERATED = /^[0-9a-z]{8}-[0-9a-z]+$/;

async function withServer(args: string[], body: (server: RunningServer) => Promise<void>): Promise<void> {
  const server = await startServer([app('ops.wsgi'), '--access-log', ...args]);
  try {
    await body(server);
  } finally {
    await server.stop();
  }
}

/** The access log line (stdout) that starts with `prefix`. */
function accessLine(server: RunningServer, prefix: string): Promise<string> {
  return eventually(`an access log line starting with ${prefix}`, async () => server.stdout.split('\n').find((l) => l.startsWith(prefix)));
}

async function idFor(server: RunningServer, headers: Record<string, string> = {}): Promise<string> {
  const res = await request(`${server.url}/id`, { headers });
  assert.equal(res.status, 200);
  return res.text;
}

describe('request ids', () => {
  it('the same id reaches environ, the access log (%L) and the error log lines of the request', async () => {
    await withServer(['--access-log-format', '%L %U %>s'], async (server) => {
      const res = await request(`${server.url}/log?tag=first`);
      const id = res.text;
      assert.match(id, GENERATED);
      assert.equal(await accessLine(server, `${id} `), `${id} /log 200`);
      const errorsLine = await server.waitForLog('ops-log-line first');
      const printLine = await server.waitForLog('ops-print-line first');
      for (const line of [errorsLine, printLine]) assert.match(line, new RegExp(`\\[pid \\d+:tid \\d+\\] \\[request_id ${id}\\] \\[client 127\\.0\\.0\\.1:\\d+\\] ops-`));
      const other = await request(`${server.url}/log?tag=second`);
      assert.notEqual(other.text, id, 'each request has its own id');
      assert.match(await server.waitForLog('ops-log-line second'), new RegExp(`\\[request_id ${other.text}\\]`));
    });
  });

  it('ignores X-Request-Id unless it is a trusted proxy header', async () => {
    await withServer([], async (server) => {
      const id = await idFor(server, { 'X-Request-Id': 'from-the-proxy' });
      assert.match(id, GENERATED);
    });
  });

  it('takes X-Request-Id from any peer when it is trusted and WSGITrustedProxies is unset (mod_wsgi\'s rule)', async () => {
    await withServer(['--trust-proxy-header', 'X-Request-Id', '--access-log-format', '%L %U'], async (server) => {
      assert.equal(await idFor(server, { 'X-Request-Id': 'proxy-id-42' }), 'proxy-id-42');
      assert.equal(await accessLine(server, 'proxy-id-42 '), 'proxy-id-42 /id');
      const res = await request(`${server.url}/log?tag=proxied`, { headers: { 'X-Request-Id': 'proxy-id-43' } });
      assert.equal(res.text, 'proxy-id-43');
      assert.match(await server.waitForLog('ops-log-line proxied'), /\[request_id proxy-id-43\] /);
      // No header: one is made.
      assert.match(await idFor(server), GENERATED);
    });
  });

  it('takes it only from the peers WSGITrustedProxies names', async () => {
    await withServer(['--trust-proxy-header', 'X-Request-Id', '--trust-proxy', '10.0.0.0/8'], async (server) => {
      assert.match(await idFor(server, { 'X-Request-Id': 'spoofed' }), GENERATED);
    });
    await withServer(['--trust-proxy-header', 'x-request-id', '--trust-proxy', '10.0.0.0/8', '--trust-proxy', '127.0.0.1'], async (server) => {
      assert.equal(await idFor(server, { 'X-Request-Id': 'trusted-proxy-id' }), 'trusted-proxy-id');
    });
  });

  it('makes a fresh id when the proxy\'s is malformed: too long, spaces, non-ASCII, repeated', async () => {
    await withServer(['--trust-proxy-header', 'X-Request-Id'], async (server) => {
      const longest = 'a'.repeat(200);
      assert.equal(await idFor(server, { 'X-Request-Id': longest }), longest);
      assert.equal(await idFor(server, { 'X-Request-Id': 'quote"and\\backslash' }), 'quote"and\\backslash');
      assert.match(await idFor(server, { 'X-Request-Id': 'a'.repeat(201) }), GENERATED);
      assert.match(await idFor(server, { 'X-Request-Id': 'has space' }), GENERATED);
      assert.match(await idFor(server, { 'X-Request-Id': '' }), GENERATED);
      const raw = await rawExchange(server.port, Buffer.from('GET /id HTTP/1.1\r\nHost: x\r\nX-Request-Id: caf\xc3\xa9\r\nConnection: close\r\n\r\n', 'latin1'));
      assert.match(raw.toString('latin1').split('\r\n\r\n')[1]!, GENERATED);
      const twice = await rawExchange(server.port, 'GET /id HTTP/1.1\r\nHost: x\r\nX-Request-Id: one\r\nX-Request-Id: two\r\nConnection: close\r\n\r\n');
      assert.match(twice.toString('latin1').split('\r\n\r\n')[1]!, GENERATED);
    });
  });

  it('a trusted id with a quote is escaped in the access log, as Apache escapes log items', async () => {
    await withServer(['--trust-proxy-header', 'X-Request-Id', '--access-log-format', 'id=%L end'], async (server) => {
      await idFor(server, { 'X-Request-Id': 'a"b\\c' });
      assert.equal(await accessLine(server, 'id='), 'id=a\\"b\\\\c end');
    });
  });

  it('front-end error lines carry the request id too', async () => {
    await withServer(['--trust-proxy-header', 'X-Request-Id', '--limit-request-body', '10'], async (server) => {
      const res = await request(`${server.url}/upload`, { method: 'POST', body: 'x'.repeat(100), headers: { 'X-Request-Id': 'too-big-upload' } });
      assert.equal(res.status, 413);
      assert.match(await server.waitForLog('larger than the configured limit'), /\[request_id too-big-upload\] \[client 127\.0\.0\.1:\d+\] Requested content-length of 100/);
    });
  });
});
