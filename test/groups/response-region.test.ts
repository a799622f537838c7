import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { regionMappingAvailable } from '../../src/groups/region-map';
import { recyclePiece, ResponseRegion } from '../../src/groups/response-region';

const SIZE = 2 << 20;

/**
 * A Python process holding a 2 MiB memory file, as a worker holds its region: byte i is i % 251.
 * Sealed against shrinking (as workers seal theirs) when `sealed`. Each line written to its
 * stdin as "OFFSET LENGTH BYTE" fills that range with BYTE and answers "ok".
 */
async function startHolder(sealed = false): Promise<{ child: ChildProcess; pid: number; fd: number }> {
  const script = [
    'import os, mmap, sys, fcntl',
    `fd = os.memfd_create("region", os.MFD_ALLOW_SEALING); os.ftruncate(fd, ${SIZE})`,
    sealed ? 'fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL)' : 'pass',
    `m = mmap.mmap(fd, ${SIZE}); m[:] = (bytes(range(251)) * (${SIZE} // 251 + 1))[:${SIZE}]`,
    'print(os.getpid(), fd, flush=True)',
    'for line in sys.stdin:',
    '    offset, length, byte = map(int, line.split())',
    '    m[offset:offset + length] = bytes([byte]) * length',
    '    print("ok", flush=True)',
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

  it('is not mapped when the worker did not seal it (a file that shrinks under a mapping faults the reader)', () => {
    assert.equal(region.mapped, false);
  });

  it('refuses a region that is not a file of the announced size', () => {
    assert.equal(ResponseRegion.open(holder.pid, holder.fd, SIZE * 2), null);
    assert.equal(ResponseRegion.open(holder.pid, -1, SIZE), null);
    assert.equal(ResponseRegion.open(holder.pid, 0, SIZE), null, 'stdin is a pipe, not a file');
  });
});

/** Tells the holder to fill a range with one byte value, and waits until it has. */
function fill(holder: { child: ChildProcess }, offset: number, length: number, byte: number): Promise<void> {
  return new Promise((resolve) => {
    holder.child.stdout!.once('data', () => resolve());
    holder.child.stdin!.write(`${offset} ${length} ${byte}\n`);
  });
}

describe('a sealed response region mapped into the front end', () => {
  let holder: Awaited<ReturnType<typeof startHolder>>;
  let region: ResponseRegion;
  before(async () => {
    assert.ok(regionMappingAvailable(), 'dist/native/region_map.node is built (npm run build needs a C compiler: apt-get install gcc)');
    holder = await startHolder(true);
    const opened = ResponseRegion.open(holder.pid, holder.fd, SIZE);
    assert.ok(opened);
    region = opened;
  });
  after(() => {
    region?.close();
    holder?.child.stdin!.end();
  });

  it('lends views of the worker\'s memory: what the worker writes shows in them without a copy', async () => {
    assert.equal(region.mapped, true);
    const view = region.view(1 << 20, 1 << 20);
    assert.ok(view.equals(expected(1 << 20, 1 << 20)));
    await fill(holder, 1 << 20, 4096, 42);
    assert.equal(view[0], 42, 'the view shows the worker\'s new bytes: it is the same memory');
    assert.equal(view[4096], ((1 << 20) + 4096) % 251, "bytes the worker did not touch are as they were");
  });

  it('keep() makes a view a private copy: the worker may then overwrite the region without the view changing, and later views show the new bytes', async () => {
    await fill(holder, 0, 1 << 20, 7);
    const view = region.view(0, 1 << 20);
    region.keep(view);
    await fill(holder, 0, 1 << 20, 9);
    assert.ok(view.every((b) => b === 7), 'the kept view still holds what it held');
    const later = region.view(0, 1 << 20);
    assert.ok(later.every((b) => b === 9), 'a new view shows the region as it is now');
    const other = region.view(1 << 20, 4096);
    await fill(holder, 1 << 20, 4096, 11);
    assert.ok(other.every((b) => b === 11), 'the rest of the region is still shared');
  });

  it('views stay readable after the region is closed and its worker has exited', async () => {
    await fill(holder, 0, 8192, 5);
    const view = region.view(0, 8192);
    region.close();
    holder.child.stdin!.end();
    await new Promise((resolve) => holder.child.once('exit', resolve));
    assert.ok(view.every((b) => b === 5));
    assert.equal(region.mapped, false, 'a closed region lends nothing more');
  });
});
