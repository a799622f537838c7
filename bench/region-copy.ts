/**
 * `npm run bench:region-copy`: what one read of a 1 MiB response piece from a worker's memory
 * file costs the front end, by where the destination starts relative to a page boundary.
 *
 * Why it exists: the region's pages start on page boundaries, and so does a freshly allocated
 * slab. A kernel copy between addresses equal modulo 4096 stalls on 4K aliasing; on this
 * machine that made every 1 MiB read several times slower, which is why response-region.ts
 * starts its pieces a cache line into the slab. Re-run it on new hardware before changing that.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';

const PIECE = 1 << 20;
const READS = 1000;
// A Python process owns the memory file, as a worker does; the front end reads it through /proc.
const HOLDER = [
  'import os, mmap, sys',
  'fd = os.memfd_create("region"); os.ftruncate(fd, 2 << 20)',
  'm = mmap.mmap(fd, 2 << 20); m[:] = bytes(range(256)) * 8192',
  'print(os.getpid(), fd, flush=True); sys.stdin.read()',
].join('\n');

function microsPerRead(fd: number, target: Buffer): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < READS; i++) fs.readSync(fd, target, 0, PIECE, (i & 1) * PIECE);
  return Number(process.hrtime.bigint() - start) / READS / 1000;
}

async function main(): Promise<void> {
  const python = process.env['PYTHON'] ?? 'python3';
  const holder = spawn(python, ['-c', HOLDER], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    holder.once('error', (err) => reject(new Error(`cannot start ${python}: ${err.message}; set PYTHON to a Python 3.8+`)));
    let text = '';
    holder.stdout.on('data', (data: Buffer) => {
      text += data.toString();
      if (text.includes('\n')) resolve(text.trim());
    });
  });
  const [pid, holderFd] = line.split(' ').map(Number);
  const fd = fs.openSync(`/proc/${pid}/fd/${holderFd}`, 'r');
  try {
    const memory = Buffer.allocUnsafeSlow(4096 + PIECE);
    console.log(`1 MiB reads from a worker's memory file, ${READS} each (µs per read; compare within one run):`);
    for (let round = 1; round <= 2; round++) {
      const row = [0, 16, 64, 512, 2048].map((skew) => `+${skew}: ${microsPerRead(fd, memory.subarray(skew, skew + PIECE)).toFixed(0)}`);
      console.log(`  round ${round}  ${row.join('  ')}`);
    }
  } finally {
    fs.closeSync(fd);
    holder.stdin.end();
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exitCode = 1;
});
