/**
 * A static file that shrinks while it is sent: the client was promised its old length, so the
 * connection closes after what there was (RFC 9112 section 6.3), as Apache aborts it; it must
 * not carry another response, which the client would read as the missing bytes.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serveSite, sleep, type Site } from '../helpers/server';

const CONFIG = `
Listen 127.0.0.1:{{PORT}}
ServerName shrink.test
ErrorLog {{ROOT}}/error_log
DocumentRoot {{ROOT}}/htdocs
<Directory {{ROOT}}/htdocs>
  Require all granted
</Directory>
`;

describe('a static file that shrinks while it is sent', () => {
  let site: Site;
  before(async () => {
    site = await serveSite(CONFIG, { 'htdocs/small.txt': 'small' });
    // Larger than the loopback socket buffers can hold, so the send is still going when it shrinks.
    fs.writeFileSync(path.join(site.dir, 'htdocs/big.bin'), Buffer.alloc(48_000_000, 0x61));
  });
  after(async () => {
    await site.stop();
  });

  it('closes the connection after what there was, and answers nothing more on it', async () => {
    const big = path.join(site.dir, 'htdocs/big.bin');
    const socket = net.connect(Number(new URL(site.url).port), '127.0.0.1');
    let received = Buffer.alloc(0);
    let shrunk = false;
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => {});
    socket.on('data', (piece: Buffer) => {
      received = Buffer.concat([received, piece]);
      if (!shrunk && received.includes('\r\n\r\n')) {
        shrunk = true;
        fs.truncateSync(big, 10);
      }
    });
    socket.write('GET /big.bin HTTP/1.1\r\nHost: shrink.test\r\n\r\n');
    // Once the short body has stopped coming, a client would send its next request.
    let last = -1;
    while (received.length !== last) {
      last = received.length;
      await sleep(300);
    }
    if (!socket.destroyed) socket.write('GET /small.txt HTTP/1.1\r\nHost: shrink.test\r\n\r\n');
    const outcome = await Promise.race([closed.then(() => 'closed'), sleep(4000).then(() => 'open')]);
    socket.destroy();
    const text = received.toString('latin1');
    assert.match(text, /^HTTP\/1\.1 200 [^]*\r\nContent-Length: 48000000\r\n/i);
    assert.ok(received.length - text.indexOf('\r\n\r\n') - 4 < 48_000_000, 'the body is short');
    assert.equal((text.match(/HTTP\/1\.1 \d{3} /g) ?? []).length, 1, 'no other response on the connection');
    assert.equal(outcome, 'closed', 'the connection closed');
  });
});
