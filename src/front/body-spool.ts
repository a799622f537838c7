import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import * as path from 'node:path';
import type { BodyTicket } from './body-budget';

/**
 * Request body spooling (WSGIRequestBodySpooling, wsgi-host's own; nginx does the same with
 * client bodies): the front end reads a request body whole before the request takes a Python
 * thread, so the thread never waits on a slow uploader. A body up to the in-memory limit stays
 * in memory; a larger one goes to a spool file, written as it arrives with backpressure, so
 * the front end never holds more than a few hundred KiB of it.
 *
 * Spool files live in the server's private socket directory (mode 0700, owned by the user the
 * front end runs as, removed when the server stops and, after a crash, when the next one
 * starts): no other user can see, replace or pre-create them, which a shared directory such as
 * /tmp cannot promise, and WSGISocketPrefix already says where the server may write. Each file
 * is created with O_EXCL under a random name, mode 0600, and unlinked at once: it lives only as
 * long as its descriptor, so a crash leaves nothing behind.
 */

/** Spool bytes waiting for the disk beyond which the client is not read until they are written. */
const WRITE_HIGH_WATER = 512 * 1024;

/** An unlinked temporary file holding one request body (or a response: response-spool.ts). Reads and writes are positional. */
export class SpoolFile {
  /** Bytes written so far (the body's length once it is complete). */
  length = 0;
  /** Reads and writes in flight: the descriptor is closed only once they are done. */
  private busy = 0;
  private closing = false;

  private constructor(private readonly fd: number) {}

  /**
   * Creates a spool file in `directory` (private to the server) and unlinks it at once; `kind`
   * names it for the moment it exists (a request body's, or a response's: response-spool.ts).
   */
  static create(directory: string, kind: 'body' | 'response', done: (err: Error | null, spool: SpoolFile | null) => void): void {
    const name = path.join(directory, `${kind}-${randomBytes(12).toString('hex')}`);
    const flags = fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_RDWR | fs.constants.O_NOFOLLOW;
    fs.open(name, flags, 0o600, (err, fd) => {
      if (err !== null) return done(err, null);
      fs.unlink(name, (unlinkErr) => {
        if (unlinkErr !== null) {
          fs.close(fd, () => {});
          return done(unlinkErr, null);
        }
        done(null, new SpoolFile(fd));
      });
    });
  }

  get closed(): boolean {
    return this.closing;
  }

  /** Appends `pieces` (in one system call). */
  append(pieces: Buffer[], done: (err: Error | null) => void): void {
    if (this.closing) return process.nextTick(done, new Error('the spool file is closed'));
    const position = this.length;
    for (const piece of pieces) this.length += piece.length;
    this.busy++;
    fs.writev(this.fd, pieces, position, (err) => {
      this.settle();
      done(err);
    });
  }

  /** Reads up to `length` bytes at `position` into `buffer` at `offset`. */
  read(buffer: Buffer, offset: number, length: number, position: number, done: (err: Error | null, bytesRead: number) => void): void {
    if (this.closing) return process.nextTick(done, new Error('the spool file is closed'), 0);
    this.busy++;
    fs.read(this.fd, buffer, offset, length, position, (err, bytesRead) => {
      this.settle();
      done(err, bytesRead);
    });
  }

  /** Closes the file (its space is freed): at once, or when the reads and writes in flight are done. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    if (this.busy === 0) fs.close(this.fd, () => {});
  }

  private settle(): void {
    // The descriptor stays open until nothing can still use its number.
    if (--this.busy === 0 && this.closing) fs.close(this.fd, () => {});
  }
}

/** A body read whole: in memory (as the pieces it arrived in), or in a spool file. */
export type ReadBody = { kind: 'memory'; pieces: Buffer[]; length: number } | { kind: 'spooled'; spool: SpoolFile };

export interface BodyReadOptions {
  /** Bodies up to this size stay in memory; a larger one goes to a spool file. */
  memoryLimit: number;
  /** The declared Content-Length, or -1 (chunked): a body declared larger than memoryLimit is spooled from its first byte. */
  declaredLength: number;
  /** Where spool files are made: the server's private socket directory. */
  directory: string;
  /**
   * The body's account with the front end's budget for bodies held in memory: when it says no
   * more, the body goes to a spool file however small it is (and the ticket is released).
   */
  budget?: BodyTicket;
}

/**
 * Reads one request body whole, into memory or a spool file. `done` gets the body once the
 * client has sent all of it and it is on disk; `failed` a spool file error (the disk is full,
 * say). The front end's hooks stop it (abort) when the body turns out malformed, too large or
 * too slow, or the client leaves.
 */
export class RequestBodyReader {
  /** Pieces in memory: the whole body while it fits memoryLimit, else those not yet written. */
  private pieces: Buffer[] = [];
  private pendingBytes = 0;
  private received = 0;
  private spool: SpoolFile | null = null;
  private opening = false;
  private writing = false;
  private ended = false;
  private pausedForDisk = false;
  private stopped = false;
  private readonly onData = (chunk: Buffer): void => this.take(chunk);
  private readonly onEnd = (): void => this.end();

  constructor(
    private readonly req: IncomingMessage,
    private readonly options: BodyReadOptions,
    private readonly done: (body: ReadBody) => void,
    private readonly failed: (err: Error) => void,
  ) {
    if (options.declaredLength > options.memoryLimit) this.openSpool();
    req.on('data', this.onData);
    req.once('end', this.onEnd);
  }

  /** Stops reading and drops what was read; the spool file, if any, is closed. */
  abort(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.req.off('data', this.onData);
    this.req.off('end', this.onEnd);
    this.pieces = [];
    this.spool?.close();
    this.spool = null;
  }

  private take(chunk: Buffer): void {
    this.received += chunk.length;
    this.pieces.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.spool === null) {
      if (this.opening) return;
      const budget = this.options.budget;
      if (this.received <= this.options.memoryLimit && (budget === undefined || budget.keep(chunk.length))) return;
      // On its way to the spool file: its memory no longer counts against the budget.
      budget?.release();
      this.openSpool();
    } else {
      this.flush();
    }
    if (this.pendingBytes >= WRITE_HIGH_WATER && !this.pausedForDisk) {
      this.pausedForDisk = true;
      this.req.pause();
    }
  }

  private end(): void {
    this.ended = true;
    if (this.spool === null && !this.opening) {
      this.stopped = true;
      this.done({ kind: 'memory', pieces: this.pieces, length: this.received });
      return;
    }
    this.finishIfWritten();
  }

  private openSpool(): void {
    this.opening = true;
    SpoolFile.create(this.options.directory, 'body', (err, spool) => {
      this.opening = false;
      if (this.stopped) {
        spool?.close();
        return;
      }
      if (err !== null) return this.fail(err);
      this.spool = spool;
      this.flush();
      this.finishIfWritten();
    });
  }

  /** Writes what is waiting, one write at a time, and reads on from the client once the backlog is small. */
  private flush(): void {
    const spool = this.spool;
    if (spool === null || this.writing || this.pieces.length === 0) return;
    this.writing = true;
    const batch = this.pieces;
    this.pieces = [];
    let bytes = 0;
    for (const piece of batch) bytes += piece.length;
    spool.append(batch, (err) => {
      this.writing = false;
      if (this.stopped) return;
      if (err !== null) return this.fail(err);
      this.pendingBytes -= bytes;
      if (this.pausedForDisk && this.pendingBytes < WRITE_HIGH_WATER) {
        this.pausedForDisk = false;
        this.req.resume();
      }
      this.flush();
      this.finishIfWritten();
    });
  }

  private finishIfWritten(): void {
    const spool = this.spool;
    if (!this.ended || spool === null || this.writing || this.pieces.length !== 0 || this.stopped) return;
    this.stopped = true;
    this.spool = null;
    this.done({ kind: 'spooled', spool });
  }

  private fail(err: Error): void {
    this.abort();
    this.failed(err);
  }
}
