import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { app, rawExchange, serverFixture } from '../helpers/server';

/**
 * Each limit and framing rule answers with Apache 2.4's status (checked against Apache 2.4.71
 * with mod_wsgi) before the application runs. echo_request.wsgi writes a marker line with the
 * URI to the error log whenever it is called, so after each case a probe request, whose own
 * marker shows the log has caught up, tells whether the application ran.
 */
describe('request limits and framing: status, and the application never called', () => {
  const server = serverFixture([app('echo_request.wsgi'), '--limit-request-body', '100', '--chunked-request']);
  before(server.start);
  after(server.stop);

  let counter = 0;

  async function expectRefused(build: (uri: string) => Buffer | string, status: number, appMayStart = false): Promise<string> {
    const uri = `/refused-${++counter}`;
    const reply = (await rawExchange(server.get().port, build(uri))).toString('latin1');
    assert.match(reply, new RegExp(`^HTTP/1\\.1 ${status} `), `expected ${status}, got:\n${reply.slice(0, 300)}`);
    assert.match(reply.split('\r\n\r\n')[0]!, /\r\nConnection: close/i, 'the connection closes after the error');
    const probe = `/probe-${counter}`;
    const answer = (await rawExchange(server.get().port, `GET ${probe} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)).toString('latin1');
    assert.match(answer, /^HTTP\/1\.1 200 /);
    await server.get().waitForLog(`uri='${probe}'`);
    if (!appMayStart) assert.ok(!server.get().stderr.includes(`uri='${uri}'`), `the application was called for ${uri}`);
    return reply;
  }

  it('LimitRequestLine: 414 for a request line over 8190 bytes', async () => {
    await expectRefused((uri) => `GET ${uri}?${'a'.repeat(8200)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414);
    await server.get().waitForLog("AH00565: request failed: client's request-line exceeds LimitRequestLine");
  });

  it('LimitRequestFieldSize: 400 for a header field over 8190 bytes', async () => {
    await expectRefused((uri) => `GET ${uri} HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(8200)}\r\n\r\n`, 400);
    await server.get().waitForLog('LimitRequestFieldSize 8190');
  });

  it('LimitRequestFields: 400 for more than 100 header fields', async () => {
    const fields = Array.from({ length: 101 }, (_, i) => `X-F${i}: v\r\n`).join('');
    await expectRefused((uri) => `GET ${uri} HTTP/1.1\r\nHost: x\r\n${fields}\r\n`, 400);
    await server.get().waitForLog('exceeds LimitRequestFields (100)');
  });

  it('LimitRequestBody: 413 when Content-Length announces more, before the body is read', async () => {
    await expectRefused((uri) => `POST ${uri} HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n`, 413);
    await server.get().waitForLog('Requested content-length of 101 is larger than the configured limit of 100');
  });

  it('LimitRequestBody: 413 when a chunked body grows past it, and the application never gets the body', async () => {
    const chunk = `50\r\n${'b'.repeat(0x50)}\r\n`;
    const reply = await expectRefused((uri) => `POST ${uri} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunk}${chunk}0\r\n\r\n`, 413, true);
    assert.doesNotMatch(reply, /body_base64/);
    await server.get().waitForLog('AH01591: Read content length of 160 is larger than the configured limit of 100');
  });

  it('a chunked body within the limit is accepted', async () => {
    const reply = (await rawExchange(server.get().port, 'POST /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n')).toString('latin1');
    assert.match(reply, /^HTTP\/1\.1 200 /);
    assert.match(reply, /"body_latin1": "hello"/);
  });

  it('Content-Length together with Transfer-Encoding: 400', async () => {
    await expectRefused((uri) => `POST ${uri} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400);
  });

  it('two different Content-Length values: 400', async () => {
    await expectRefused((uri) => `POST ${uri} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab`, 400);
  });

  it('bad chunk framing: 400', async () => {
    await expectRefused((uri) => `POST ${uri} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`, 400, true);
  });

  it('an unknown transfer coding before chunked: 501', async () => {
    await expectRefused((uri) => `POST ${uri} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`, 501);
    await server.get().waitForLog('AH02539: client sent unknown Transfer-Encoding (gzip, chunked)');
  });

  it('a transfer coding that is not chunked, or chunked not last: 400 (the length cannot be known)', async () => {
    await expectRefused((uri) => `POST ${uri} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n`, 400);
    await expectRefused((uri) => `POST ${uri} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n`, 400);
    await expectRefused((uri) => `POST ${uri} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n`, 400);
  });
});
