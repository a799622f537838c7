/**
 * Request framing the gunicorn corpus does not cover: how a request's framing decides whether
 * the connection may carry another request.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { app, rawExchange, serverFixture } from '../helpers/server';

describe('request framing and the connection', () => {
  const server = serverFixture([app('echo_request.wsgi'), '--chunked-request']);
  before(server.start);
  after(server.stop);

  it('closes the connection after an HTTP/1.0 request with Transfer-Encoding, even one asking for keep-alive (RFC 9112 section 6.1)', async () => {
    const raw = (
      await rawExchange(
        server.get().port,
        'POST /first HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        3000,
      )
    ).toString('latin1');
    assert.equal(raw.match(/HTTP\/1\.[01] \d{3} /g)?.length, 1, `one answer, then the connection closed: ${JSON.stringify(raw)}`);
    assert.match(raw, /^HTTP\/1\.[01] 200 /);
    assert.match(raw, /\r\nConnection: close\r\n/i);
    assert.doesNotMatch(raw, /\/second/);
  });

  it('closes the connection after answering a request with an Upgrade it ignores, so a request pipelined behind it is sent again, not lost', async () => {
    const raw = (
      await rawExchange(
        server.get().port,
        'GET /first HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        3000,
      )
    ).toString('latin1');
    assert.match(raw, /^HTTP\/1\.1 200 /, 'the request is answered as a plain request');
    assert.match(raw, /\r\nConnection: close\r\n/i);
    // Either the second was answered too, or the connection closed at once after the first: never left hanging.
    const answers = raw.match(/HTTP\/1\.1 \d{3} /g)?.length ?? 0;
    assert.ok(answers >= 1 && answers <= 2, JSON.stringify(raw));
  });

  it('keeps an HTTP/1.0 keep-alive connection with a Content-Length body open for the next request', async () => {
    const raw = (
      await rawExchange(
        server.get().port,
        'POST /first HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhelloGET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        3000,
      )
    ).toString('latin1');
    assert.equal(raw.match(/HTTP\/1\.[01] 200 /g)?.length, 2, JSON.stringify(raw));
  });
});
