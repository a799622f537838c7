/**
 * A worker thread's shared region: a memory file (memfd) the worker writes large response
 * pieces into, which the front end reads through /proc/PID/fd/N; and, between requests, where
 * the front end writes a large request body it holds for the worker (ToWorker.BodyShared).
 *
 * Why: Node reads a socket 64 KiB at a time, and a megabyte through the worker's socket costs
 * the front end several times what one read of a megabyte from memory does; the other way, a
 * socket costs a kernel copy on each side and the worker reads it in pieces. Small frames still
 * go through the socket; only the bytes of large bodies take this path.
 */
import * as fs from 'node:fs';
import { SlabPool } from '../util/slab-pool';
import { mapRegion, snapshotView } from './region-map';

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

/**
 * How a group's responses reached their clients, since it started: large pieces lent from a
 * region (view) or copied out of it (read); responses that went to a spool file because their
 * client fell response-buffer-size behind; and the bytes of wsgi.file_wrapper files the front
 * end sent (WSGIEnableSendfile), by sendfile(2) or read and written (worker-file.ts).
 */
export interface ResponseCounts {
  lent: number;
  copied: number;
  spooled: number;
  fileBytesSendfile: number;
  fileBytesCopied: number;
}

export class ResponseRegion {
  private constructor(
    private fd: number,
    readonly size: number,
    /** Request bodies may be written here too (the file opened for writing). */
    readonly writable: boolean,
    /** The region mapped read-only (region-map.ts), when it could be: pieces are then lent, not copied. */
    private mapping: ArrayBuffer | null,
  ) {}

  /**
   * Opens region `workerFd` of process `pid` (a process this front end started: never a pid a
   * worker claims, so a worker can only point at files it could read itself). Null when it
   * cannot be opened (another user's process, no /proc): the connection then uses the socket.
   */
  static open(pid: number, workerFd: unknown, size: unknown): ResponseRegion | null {
    if (!Number.isInteger(workerFd) || !Number.isInteger(size) || (workerFd as number) < 0 || (size as number) <= 0) return null;
    let fd = -1;
    const path = `/proc/${pid}/fd/${workerFd as number}`;
    try {
      let writable = true;
      try {
        fd = fs.openSync(path, fs.constants.O_RDWR);
      } catch {
        writable = false;
        fd = fs.openSync(path, fs.constants.O_RDONLY);
      }
      const stat = fs.fstatSync(fd);
      if (!stat.isFile() || stat.size < (size as number)) {
        fs.closeSync(fd);
        return null;
      }
      return new ResponseRegion(fd, size as number, writable, mapRegion(fd, size as number));
    } catch {
      if (fd >= 0) fs.closeSync(fd);
      return null;
    }
  }

  /** Whether [offset, offset + length) lies inside the region. */
  contains(offset: number, length: number): boolean {
    return offset >= 0 && length >= 0 && offset + length <= this.size;
  }

  /** Whether pieces can be lent (`view`) rather than copied (`read`). */
  get mapped(): boolean {
    return this.mapping !== null;
  }

  /**
   * The `length` bytes at `offset`, not copied: a view of the worker's memory, valid until the
   * worker is told the piece is released (ThreadSlot.lendRegionPiece) unless `keep` is called
   * first. The mapping outlives the region's file descriptor and the worker for as long as a
   * view is reachable.
   */
  view(offset: number, length: number): Buffer {
    if (this.mapping === null) throw new Error('the region is not mapped: use read()');
    return Buffer.from(this.mapping, offset, length);
  }

  /**
   * Makes `view` keep its bytes after the worker is told the piece is released (for a client
   * too slow to have taken it yet): its pages become a private copy, and later pieces come from
   * a fresh mapping, since those pages no longer show the region. Throws if it cannot.
   */
  keep(view: Buffer): void {
    snapshotView(view);
    if (view.buffer === this.mapping) this.mapping = this.fd >= 0 ? mapRegion(this.fd, this.size) : null;
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

  /**
   * Writes `pieces` one after another from `offset` (a request body for the worker: one copy,
   * where the socket costs a copy on each side and the worker reads it 64 KiB at a time).
   * Throws if the region is read-only or the write fails.
   */
  write(pieces: readonly Buffer[], offset: number): void {
    if (!this.writable) throw new Error('the region was opened read-only');
    let position = offset;
    const rest = pieces.slice();
    while (rest.length > 0) {
      let n = fs.writevSync(this.fd, rest, position);
      if (n <= 0) throw new Error('the region took no bytes');
      position += n;
      while (rest.length > 0 && n >= rest[0]!.length) n -= rest.shift()!.length;
      if (n > 0) rest[0] = rest[0]!.subarray(n);
    }
  }

  /** Closes the file; views already lent stay valid (the mapping goes once they are garbage). */
  close(): void {
    const fd = this.fd;
    this.fd = -1;
    this.mapping = null;
    if (fd < 0) return;
    try {
      fs.closeSync(fd);
    } catch {
      // Already closed: nothing to release.
    }
  }
}
