/**
 * WSGIEnableSendfile: the front end sends a wsgi.file_wrapper's file itself, through its own
 * descriptor for the worker's open file (/proc/PID/fd/N), so the worker thread is free as soon
 * as it has handed the file over.
 *
 * With native/file_send.c built, the file goes to a plain client socket with sendfile(2): the
 * kernel passes the file's cached pages to the socket, with no copy through the front end's
 * memory. A range whose first page is cached is sent at once, on the event loop, at most
 * SENDFILE_CHUNK at a time (as nginx does); one that is not goes through Node's thread pool, so
 * the disk never stops the loop. When the socket is full, one piece goes the usual way (read,
 * then written with flow control), and sendfile takes over again once the socket has taken it.
 * Without the addon, over TLS, or where the response needs framing, every piece goes the usual
 * way.
 */
import * as fs from 'node:fs';
import type * as net from 'node:net';
import * as os from 'node:os';
import { nativeAddon } from '../util/native-addon';

/** A descriptor of the same open file as `workerFd` in process `pid` (a process this front end started), or null. */
export function openWorkerFile(pid: number, workerFd: number): number | null {
  let fd = -1;
  try {
    fd = fs.openSync(`/proc/${pid}/fd/${workerFd}`, fs.constants.O_RDONLY);
    if (fs.fstatSync(fd).isFile()) return fd;
    fs.closeSync(fd);
    return null;
  } catch {
    if (fd >= 0) fs.closeSync(fd);
    return null;
  }
}

export interface FileSink {
  /** Writes a piece to the client; false when the client is behind. */
  write(piece: Buffer): boolean;
  /** Calls `resume` once the client has caught up. */
  onceDrained(resume: () => void): void;
  /** The whole range was sent. */
  done(): void;
  /** Reading failed part way. */
  failed(err: Error): void;
  /**
   * The client's socket when sendfile(2) may write to it now (the response head written and
   * nothing queued before it), or null: the next piece goes through write().
   */
  socketForSendfile(): net.Socket | null;
  /** `bytes` of the file went to the client's socket by sendfile(2). */
  sentByKernel(bytes: number): void;
}

interface FileSendAddon {
  /**
   * sendfile(2) of up to `count` bytes from `offset` on this thread: the bytes sent before the
   * range ended or the socket filled (0 only at the end of the file), NOT_CACHED when the first
   * page is not in the page cache, or -errno when nothing could be sent.
   */
  sendNow(socketFd: number, fileFd: number, offset: number, count: number): number;
  readonly NOT_CACHED: number;
  /**
   * sendfile(2) of up to `count` bytes from `offset`, on the thread pool. `error`: '' when all
   * went, 'EAGAIN' when the socket filled, 'EOF' when the file ended first, else the reason.
   */
  send(socketFd: number, fileFd: number, offset: number, count: number, done: (sent: number, error: string) => void): void;
}

const addon = process.env.WSGI_HOST_SENDFILE === 'off' ? null : nativeAddon<FileSendAddon>('file_send');

/** Pieces read and written the usual way (no addon, a full socket, TLS). */
const PIECE_BYTES = 1024 * 1024;
/**
 * The most one sendfile call on the event loop sends before other connections get a turn
 * (nginx's sendfile_max_chunk default).
 */
const SENDFILE_CHUNK = 2 * 1024 * 1024;
const EAGAIN = -os.constants.errno.EAGAIN;

/** Sends `length` bytes of `fd` from `offset` to `sink`; closes `fd` when done. Returns a stopper. */
export function sendWorkerFile(fd: number, offset: number, length: number, sink: FileSink): () => void {
  const transfer = new FileTransfer(fd, offset, offset + length, sink);
  // Not before the caller has the stopper: a cached file can be sent whole, and `done` called, within next().
  process.nextTick(() => transfer.next());
  return () => transfer.stop();
}

/** The descriptor under a plain socket (not TLS, not closed), or -1. */
function plainSocketDescriptor(socket: net.Socket | null): number {
  if (socket === null || socket.destroyed || (socket as { encrypted?: boolean }).encrypted === true) return -1;
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : -1;
}

class FileTransfer {
  private stopped = false;
  private closed = false;
  /** A read of the file is in flight: the descriptor must stay open until it is back. */
  private reading = false;

  constructor(
    private readonly fd: number,
    private position: number,
    private readonly end: number,
    private readonly sink: FileSink,
  ) {}

  stop(): void {
    this.stopped = true;
    // A sendfile in flight works on its own duplicates, so only a read holds the descriptor.
    if (!this.reading) this.close();
  }

  next(): void {
    if (this.stopped) return this.close();
    if (this.position >= this.end) {
      this.close();
      this.sink.done();
      return;
    }
    const socket = addon !== null ? this.sink.socketForSendfile() : null;
    const socketFd = plainSocketDescriptor(socket);
    if (addon === null || socketFd < 0) return this.writePiece();
    const count = Math.min(this.end - this.position, SENDFILE_CHUNK);
    const sent = addon.sendNow(socketFd, this.fd, this.position, count);
    if (sent === addon.NOT_CACHED) return this.sendOnPool(socket!, socketFd, count);
    if (sent > 0) {
      this.position += sent;
      this.sink.sentByKernel(sent);
      // Short of the chunk: the socket filled (or the file ended, which the piece's read tells).
      if (sent < count) return this.writePiece();
      if (this.position >= this.end) return this.next();
      setImmediate(() => this.next());
      return;
    }
    if (sent === EAGAIN) return this.writePiece();
    if (sent === 0) return this.fail(this.shortFile());
    this.clientFailed(socket!);
  }

  /** sendfile on Node's thread pool, for a range not in the page cache (the disk must not stop the event loop). */
  private sendOnPool(socket: net.Socket, socketFd: number, count: number): void {
    try {
      addon!.send(socketFd, this.fd, this.position, count, (sent, error) => this.sentOnPool(socket, sent, error));
    } catch {
      // No descriptor to duplicate (the process is at its limit): this piece is read and written instead.
      this.writePiece();
    }
  }

  private sentOnPool(socket: net.Socket, sent: number, error: string): void {
    this.position += sent;
    if (sent > 0) this.sink.sentByKernel(sent);
    if (this.stopped) return this.close();
    if (error === '') return this.next();
    // The socket is full: a piece through write(), which waits for the client, and sendfile again once it is taken.
    if (error === 'EAGAIN') return this.writePiece();
    if (error === 'EOF') return this.fail(this.shortFile());
    this.clientFailed(socket);
  }

  /** Reads the next piece and writes it to the client, then goes on once the client has it. */
  private writePiece(): void {
    const piece = Buffer.allocUnsafe(Math.min(PIECE_BYTES, this.end - this.position));
    this.reading = true;
    fs.read(this.fd, piece, 0, piece.length, this.position, (err, n) => {
      this.reading = false;
      if (this.stopped) return this.close();
      if (err !== null) return this.fail(err);
      if (n === 0) return this.fail(this.shortFile());
      this.position += n;
      if (this.sink.write(n === piece.length ? piece : piece.subarray(0, n))) return this.next();
      this.sink.onceDrained(() => this.next());
    });
  }

  /** sendfile failed on the client's connection: closing it ends the response as a client that left. */
  private clientFailed(socket: net.Socket): void {
    this.close();
    socket.destroy();
  }

  private shortFile(): Error {
    return new Error(`the file ended ${this.end - this.position} bytes short of the range the worker gave`);
  }

  private fail(err: Error): void {
    this.close();
    this.sink.failed(err);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    // At once: closing a regular file does not wait on the disk, and through the thread pool the
    // two thread switches per file took the front end from 175-204 to 219-268 µs per 1 MiB file.
    try {
      fs.closeSync(this.fd);
    } catch {
      // Already closed: nothing to release.
    }
  }
}
