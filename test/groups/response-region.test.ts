import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { recyclePiece, ResponseRegion } from '../../src/groups/response-region';

const SIZE = 2 << 20;

/** A Python process holding a 2 MiB memory file, as a worker holds its region: byte i is i % 251. */
async function startHolder(): Promise<{ child: ChildProcess; pid: number; fd: number }> {
  const script = [
    'import os, mmap, sys',
    `fd = os.memfd_create("region"); os.ftruncate(fd, ${SIZE})`,
    `m = mmap.mmap(fd, ${SIZE}); m[:] = (bytes(range(251)) * (${SIZE} // 251 + 1))[:${SIZE}]`,
    'print(os.getpid(), fd, flush=True); sys.stdin.read()',
  ].join('\n');
  const child = spawn(process.env['PYTHON'] ?? 'python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the Python holder did not start within 10 s')), 10_000);
    child.once('error', reject);
    // The line may come in more than one read.
    let text = '';
    child.stdout!.on('data', (data: Buffer) => {
      text += data.toString();
      if (!text.includes('\n')) return;
      clearTimeout(timer);
      resolve(text.trim());
    });
  });
  const [pid, fd] = line.split(' ').map(Number) as [number, number];
  return { child, pid, fd };
}

function expected(offset: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (offset + i) % 251;
  return out;
}

describe('a response region read by the front end', () => {
  let holder: Awaited<ReturnType<typeof startHolder>>;
  let region: ResponseRegion;
  before(async () => {
    holder = await startHolder();
    const opened = ResponseRegion.open(holder.pid, holder.fd, SIZE);
    assert.ok(opened, 'the region of a process we started opens through /proc');
    region = opened;
  });
  after(() => {
    region?.close();
    holder?.child.stdin!.end();
  });

  it('returns the bytes the worker wrote, at any offset and length (longer than a slab too)', () => {
    for (const [offset, length] of [[0, 1 << 20], [1 << 20, 1 << 20], [12345, 40000], [SIZE - 7, 7], [0, SIZE]] as const) {
      const piece = region.read(offset, length);
      assert.equal(piece.length, length);
      assert.ok(piece.equals(expected(offset, length)), `bytes at ${offset}+${length}`);
      recyclePiece(piece);
    }
  });

  it('starts every piece off a page boundary (a page-aligned copy from the region stalls on 4K aliasing)', () => {
    const piece = region.read(0, 1 << 20);
    assert.notEqual(piece.byteOffset % 4096, 0);
    assert.equal(piece.byteOffset % 64, 0, 'still on a cache line');
    recyclePiece(piece);
  });

  it('reuses a recycled slab for the next piece, and never hands one slab out twice', () => {
    const first = region.read(0, 1 << 20);
    recyclePiece(first);
    recyclePiece(first);
    const second = region.read(1 << 20, 1 << 20);
    const third = region.read(0, 1 << 20);
    assert.equal(second.buffer, first.buffer, 'the recycled slab came back');
    assert.notEqual(third.buffer, second.buffer, 'a slab recycled twice is still given out once');
    assert.ok(second.equals(expected(1 << 20, 1 << 20)));
    assert.ok(third.equals(expected(0, 1 << 20)));
    recyclePiece(second);
    recyclePiece(third);
  });

  it('refuses a region that is not a file of the announced size', () => {
    assert.equal(ResponseRegion.open(holder.pid, holder.fd, SIZE * 2), null);
    assert.equal(ResponseRegion.open(holder.pid, -1, SIZE), null);
    assert.equal(ResponseRegion.open(holder.pid, 0, SIZE), null, 'stdin is a pipe, not a file');
  });
});
