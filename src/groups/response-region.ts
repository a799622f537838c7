/**
 * A worker thread's shared response region: a memory file (memfd) the worker writes large
 * response pieces into, which the front end reads through /proc/PID/fd/N.
 *
 * Why: Node reads a socket 64 KiB at a time, and a megabyte through the worker's socket costs
 * the front end several times what one read of a megabyte from memory does. Small frames still
 * go through the socket; only the bytes of large body pieces take this path.
 */
import * as fs from 'node:fs';
import { SlabPool } from '../util/slab-pool';

/**
 * Reads land in reusable 1 MiB slabs: a fresh megabyte for every response piece cost the front
 * end page faults and garbage collection, about three quarters of its CPU time per 1 MiB
 * download. A slab comes back through `recyclePiece` once the client's socket has the bytes.
 */
const slabs = new SlabPool(1 << 20, 8);

/** Gives the slab under a piece from `read` back for reuse; the caller must not touch the piece after. */
export function recyclePiece(piece: Buffer): void {
  slabs.give(piece);
}

export class ResponseRegion {
  private constructor(
    private readonly fd: number,
    readonly size: number,
  ) {}

  /**
   * Opens region `workerFd` of process `pid` (a process this front end started: never a pid a
   * worker claims, so a worker can only point at files it could read itself). Null when it
   * cannot be opened (another user's process, no /proc): the connection then uses the socket.
   */
  static open(pid: number, workerFd: unknown, size: unknown): ResponseRegion | null {
    if (!Number.isInteger(workerFd) || !Number.isInteger(size) || (workerFd as number) < 0 || (size as number) <= 0) return null;
    let fd = -1;
    try {
      fd = fs.openSync(`/proc/${pid}/fd/${workerFd as number}`, fs.constants.O_RDONLY);
      const stat = fs.fstatSync(fd);
      if (!stat.isFile() || stat.size < (size as number)) {
        fs.closeSync(fd);
        return null;
      }
      return new ResponseRegion(fd, size as number);
    } catch {
      if (fd >= 0) fs.closeSync(fd);
      return null;
    }
  }

  /** Whether [offset, offset + length) lies inside the region. */
  contains(offset: number, length: number): boolean {
    return offset >= 0 && length >= 0 && offset + length <= this.size;
  }

  /** Copies `length` bytes at `offset` into a buffer (a slab: see recyclePiece). */
  read(offset: number, length: number): Buffer {
    const out = slabs.take(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.fd, out, done, length - done, offset + done);
      if (n === 0) throw new Error(`the response region ended ${length - done} bytes short of what the worker announced`);
      done += n;
    }
    return out;
  }

  close(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      // Already closed: nothing to release.
    }
  }
}
