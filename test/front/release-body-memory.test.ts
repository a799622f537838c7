import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { freesBodyMemoryAtOnce, releaseBodyMemory } from '../../src/front/release-body-memory';

/** The pieces node:http hands a server for a body of `size` bytes, as the front end gets them. */
async function bodyPieces(size: number): Promise<Buffer[]> {
  let pieces: Buffer[] = [];
  const server = http.createServer((req, res) => {
    req.on('data', (chunk: Buffer) => pieces.push(chunk));
    req.on('end', () => res.end('ok'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve, reject) => {
      const req = http.request({ port, host: '127.0.0.1', method: 'POST', agent: false }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end(Buffer.alloc(size, 0x61));
    });
  } finally {
    server.close();
  }
  const got = pieces;
  pieces = [];
  return got;
}

describe('freeing the memory of request body pieces', () => {
  it('detaches pieces that are the whole of their memory', () => {
    const piece = Buffer.allocUnsafeSlow(100_000).fill(1);
    releaseBodyMemory([piece]);
    assert.equal(piece.length, 0);
    assert.equal(piece.buffer.byteLength, 0);
  });

  it('gives the memory back at once, not at the next garbage collection', () => {
    // native/body_memory.c is built with the tests; without it the memory would wait for a scavenge.
    assert.equal(freesBodyMemoryAtOnce(), true, 'the body_memory addon is built');
    const MiB = 1024 * 1024;
    const pieces = Array.from({ length: 16 }, () => Buffer.allocUnsafeSlow(MiB).fill(3));
    const before = process.memoryUsage().arrayBuffers;
    releaseBodyMemory(pieces);
    const after = process.memoryUsage().arrayBuffers;
    assert.ok(before - after >= 15 * MiB, `ArrayBuffer memory went from ${(before / MiB).toFixed(1)} to ${(after / MiB).toFixed(1)} MiB`);
  });

  it('leaves pieces that share their memory alone', () => {
    const pooled = Buffer.from('a small body'); // Node's shared small-buffer pool
    const whole = Buffer.allocUnsafeSlow(4096).fill(2);
    const part = whole.subarray(100, 200);
    releaseBodyMemory([pooled, part]);
    assert.equal(pooled.toString(), 'a small body');
    assert.equal(part.length, 100);
    assert.equal(whole.length, 4096);
    assert.ok(whole.every((byte) => byte === 2));
  });

  it('frees the pieces node:http gives a server for a body (each has memory of its own)', async () => {
    const pieces = await bodyPieces(512 * 1024);
    assert.equal(pieces.reduce((n, p) => n + p.length, 0), 512 * 1024);
    releaseBodyMemory(pieces);
    // If a future Node handed out slices of a shared buffer, nothing would be freed: this says so.
    const freed = pieces.filter((p) => p.length === 0).length;
    assert.equal(freed, pieces.length, `${freed} of ${pieces.length} pieces freed`);
  });

  it('ignores pieces already freed', () => {
    const piece = Buffer.allocUnsafeSlow(1000);
    releaseBodyMemory([piece]);
    assert.doesNotThrow(() => releaseBodyMemory([piece]));
  });
});
