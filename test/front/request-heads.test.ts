/**
 * Request heads are built in recycled buffers (src/front/environ.ts): a head given back once its
 * response is complete lends its memory to a later head, so the front end does not leave one
 * dead buffer per request for the garbage collector. The exchanges give heads back
 * (wsgi-exchange.ts); that every request still gets its own environ when heads are reused is
 * what test/groups/send-ahead.test.ts checks under load, with requests waiting ahead and
 * processes dying.
 */
import { strict as assert } from 'node:assert';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { encodeRequestHead, recycleRequestHead, type EnvironContext } from '../../src/front/environ';
import { FRAME_HEADER_SIZE } from '../../src/protocol/frames';

function request(query: string, extraHeaders: string[] = []): { req: IncomingMessage; ctx: EnvironContext } {
  const req = { method: 'GET', url: `/app?${query}`, httpVersion: '1.1', rawHeaders: ['Host', 'example.test', ...extraHeaders] } as unknown as IncomingMessage;
  const ctx: EnvironContext = {
    connection: { localAddress: '127.0.0.1', localPort: 80, remoteAddress: '127.0.0.1', remotePort: 40000, scheme: 'http', id: 'c1' },
    serverName: 'example.test', serverAdmin: null, serverSoftware: 'wsgi-host/test', documentRoot: '/srv',
    requestHost: 'example.test', requestPort: 80, scriptFilename: '/srv/app.wsgi', handlerScript: '', requestHandler: 'wsgi-script', contextPrefix: '', contextDocumentRoot: '/srv',
    scriptName: '/app', pathInfo: '', query, processGroup: 'g', applicationGroup: '', callableObject: 'application',
    passAuthorization: false, remoteUser: null, authType: null, mapHeadToGet: false, requestId: `id-${query}`,
    requestStart: 1, queueStart: 1,
  };
  return { req, ctx };
}

function head(query: string, extraHeaders: string[] = []): Buffer {
  const { req, ctx } = request(query, extraHeaders);
  return encodeRequestHead(req, ctx, 0, true);
}

/** The frame's own length field agrees with the buffer, and the head holds its query, not another's. */
function assertWhole(frame: Buffer, query: string): void {
  assert.equal(frame.readUInt32BE(1) + 2 * FRAME_HEADER_SIZE, frame.length, 'head frame, then the empty body\'s end frame');
  assert.ok(frame.includes(Buffer.from(query, 'latin1')), `the head carries its own query (${query})`);
}

describe('request heads', () => {
  it('a head given back lends its memory to the next one, which holds only its own bytes', () => {
    const first = head('n=first-request-with-a-longer-query');
    assertWhole(first, 'n=first-request-with-a-longer-query');
    recycleRequestHead(first);
    const second = head('n=2');
    assert.equal(second.buffer, first.buffer, 'the second head reuses the first one\'s buffer');
    assertWhole(second, 'n=2');
    assert.ok(!second.includes(Buffer.from('first-request', 'latin1')), 'nothing of the first head shows in the second');
  });

  it('a head not given back is never reused', () => {
    const kept = head('n=kept');
    const next = head('n=next');
    assert.notEqual(next.buffer, kept.buffer);
    assertWhole(kept, 'n=kept');
    assertWhole(next, 'n=next');
  });

  it('a head given back twice still goes to one head at a time', () => {
    const once = head('n=once');
    recycleRequestHead(once);
    recycleRequestHead(once);
    const a = head('n=a');
    const b = head('n=b');
    assert.notEqual(a.buffer, b.buffer, 'two heads in flight never share a buffer');
    assertWhole(a, 'n=a');
    assertWhole(b, 'n=b');
  });

  it('a head longer than a pooled buffer is a one-off, whole, and not pooled', () => {
    const cookie = 'c'.repeat(6000);
    const long = head('n=long', ['Cookie', cookie]);
    assertWhole(long, 'n=long');
    assert.ok(long.includes(Buffer.from(cookie, 'latin1')));
    recycleRequestHead(long);
    const small = head('n=small');
    assert.notEqual(small.buffer, long.buffer, 'a one-off buffer does not come back as a pooled one');
    assertWhole(small, 'n=small');
  });
});
