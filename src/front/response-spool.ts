import { SpoolFile } from './body-spool';
import type { RequestRecord } from './request-record';

/**
 * Response spooling (wsgi-host's own; nginx does the same with proxied responses through
 * proxy_max_temp_file_size): once a client has fallen response-buffer-size behind, the rest of
 * the response goes to a spool file instead of making the worker thread wait, so the thread
 * finishes and takes its next request while the front end feeds the client from memory, then
 * from the file, as it reads. mod_wsgi (and wsgi-host with the limit at 0) makes the thread wait.
 *
 * The file is made like a request body's spool file (body-spool.ts): in the server's private
 * socket directory, O_EXCL|O_NOFOLLOW, mode 0600, unlinked at once.
 *
 * Bytes reach the client in the order the worker produced them: what the client's buffer
 * already holds, then the file, then whatever is not in the file yet. A piece arriving while the
 * file is still being read goes to the end of the file, never ahead of it. Memory stays bounded:
 * the client's buffer (response-buffer-size), pieces waiting for the disk (the worker is made to
 * wait past DISK_HIGH_WATER of them) and one piece read back.
 */

/** Bytes read back from the file at a time. */
const READ_PIECE = 256 * 1024;
/** Bytes waiting for the disk beyond which the worker is made to wait until they are written. */
const DISK_HIGH_WATER = 1024 * 1024;

/** The client side: the HTTP response. */
export interface ResponseSink {
  /** Passes bytes on to the client (node's response frames them); `written` once its socket is done with them. */
  write(piece: Buffer, written?: () => void): void;
  /** Bytes passed on that the client has not taken yet. */
  buffered(): number;
  /** Calls `resume` once the client has taken what is buffered (after a write was refused). */
  onceDrained(resume: () => void): void;
}

/** The request's HTTP response as a sink. */
export function clientSink(record: RequestRecord): ResponseSink {
  const res = record.res;
  return {
    write: (piece, written) => {
      // Counted as passed on to the client (%b), so a client that leaves is logged with what it got.
      record.bytesSent += piece.length;
      res.write(piece, written);
    },
    buffered: () => res.writableLength,
    onceDrained: (resume) => res.once('drain', resume),
  };
}

/** What the spool tells the exchange. */
export interface SpoolEvents {
  /** Stop taking pieces from the worker: the disk is behind, or the spool limit is reached. */
  holdWorker(): void;
  /** Take pieces from the worker again. */
  resumeWorker(): void;
  /**
   * The spool limit was reached and everything spooled has reached the client's buffer: the
   * rest of the response goes straight to the client, with flow control.
   */
  exhausted(): void;
  /** A spooled piece could not be read back: the response cannot be completed. */
  failed(err: Error): void;
  /** Something worth a line in the error log (the file could not be made or written). */
  warn(message: string): void;
}

export interface ResponseSpoolOptions {
  /** The server's private socket directory. */
  directory: string;
  /** The most bytes this response may put in the file; pieces beyond wait in memory, with the worker held. */
  limit: number;
  /** response-buffer-size: how much the client's buffer is given before the file is read again. */
  bufferBytes: number;
}

export class ResponseSpool {
  private file: SpoolFile | null = null;
  private opening = false;
  /** The file cannot take more (limit reached, or it failed): new pieces wait in `overflow`. */
  private capped = false;
  /** Pieces waiting to be appended to the file, in order. */
  private toDisk: Buffer[] = [];
  private toDiskBytes = 0;
  private writing = false;
  /** Bytes accepted for the file (written or waiting), and bytes of it written. */
  private accepted = 0;
  private written = 0;
  /** Bytes of the file passed on to the client. */
  private fed = 0;
  private reading = false;
  /** Pieces that came once the file was capped: they go to the client after all of the file. */
  private overflow: Buffer[] = [];
  private waitingForDrain = false;
  private holding = false;
  private whenFed: (() => void) | null = null;
  private closed = false;

  constructor(
    private readonly options: ResponseSpoolOptions,
    private readonly sink: ResponseSink,
    private readonly events: SpoolEvents,
  ) {
    // The spool starts because the client's buffer is full, and a refused write means 'drain' comes.
    this.waitForDrain();
  }

  /** Whether the next piece would go straight to the client (it has caught up), not to the file. */
  get passingStraight(): boolean {
    return !this.closed && this.isEmpty() && this.sink.buffered() < this.options.bufferBytes;
  }

  /**
   * Takes the next piece of the response. `written`, if given, is called once the client's
   * socket is done with the piece, and only if it goes straight there (passingStraight).
   */
  write(piece: Buffer, written?: () => void): void {
    if (this.closed) return;
    if (this.passingStraight) {
      // The client has caught up: nothing is waiting ahead of this piece.
      this.sink.write(piece, written);
      return;
    }
    if (this.capped || this.accepted + piece.length > this.options.limit) {
      this.capped = true;
      this.overflow.push(piece);
      this.updateHold();
      return;
    }
    this.accepted += piece.length;
    this.toDisk.push(piece);
    this.toDiskBytes += piece.length;
    if (this.file === null) this.open();
    else this.flush();
    this.updateHold();
  }

  /** The response is complete: `done` once all of it has been passed on to the client. */
  finish(done: () => void): void {
    if (this.closed) return;
    this.whenFed = done;
    this.pump();
  }

  /** Drops everything (the client is gone, or the response is being cut): the file is closed. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.toDisk = [];
    this.overflow = [];
    this.whenFed = null;
    this.file?.close();
    this.file = null;
  }

  /** Nothing is waiting: every byte taken has been passed on to the client. */
  private isEmpty(): boolean {
    return this.fed === this.accepted && this.overflow.length === 0;
  }

  private open(): void {
    if (this.opening) return;
    this.opening = true;
    SpoolFile.create(this.options.directory, 'response', (err, file) => {
      this.opening = false;
      if (this.closed) {
        file?.close();
        return;
      }
      if (err !== null) return this.diskFailed(`Could not create a response spool file in ${this.options.directory} (${err.message})`);
      this.file = file;
      this.flush();
    });
  }

  /** Appends what is waiting for the disk, one write at a time. */
  private flush(): void {
    const file = this.file;
    if (file === null || this.writing || this.toDisk.length === 0) return;
    this.writing = true;
    const batch = this.toDisk;
    const bytes = this.toDiskBytes;
    this.toDisk = [];
    this.toDiskBytes = 0;
    file.append(batch, (err) => {
      this.writing = false;
      if (this.closed) return;
      if (err !== null) {
        // Not written: those bytes go to the client from memory, after what the file holds.
        this.toDisk = batch.concat(this.toDisk);
        this.toDiskBytes += bytes;
        return this.diskFailed(`Writing a response spool file failed (${err.message})`);
      }
      this.written += bytes;
      this.flush();
      this.updateHold();
      this.pump();
    });
  }

  /**
   * The file cannot be made or written: what did not reach it waits in memory behind what did,
   * and the worker waits for the client from now on, as without a spool.
   */
  private diskFailed(why: string): void {
    this.events.warn(`${why}; the rest of the response waits for the client instead. Free space there or move WSGISocketPrefix (--socket-prefix) to a larger filesystem.`);
    this.capped = true;
    this.overflow = this.toDisk.concat(this.overflow);
    this.accepted -= this.toDiskBytes;
    this.toDisk = [];
    this.toDiskBytes = 0;
    this.updateHold();
    this.pump();
  }

  /** The worker waits while pieces pile up in memory: behind the disk, or past the limit. */
  private updateHold(): void {
    const hold = this.toDiskBytes >= DISK_HIGH_WATER || this.overflow.length > 0;
    if (hold === this.holding) return;
    this.holding = hold;
    if (hold) this.events.holdWorker();
    else this.events.resumeWorker();
  }

  /** Passes on what the client's buffer has room for: the file first, then the overflow. */
  private pump(): void {
    while (!this.closed && !this.reading) {
      if (this.isEmpty()) return this.allPassedOn();
      if (this.waitingForDrain) return;
      if (this.sink.buffered() >= this.options.bufferBytes) return this.waitForDrain();
      if (this.fed < this.written) return this.readBack();
      // What remains of the file is still on its way to the disk.
      if (this.fed < this.accepted) return;
      this.sink.write(this.overflow.shift()!);
    }
  }

  /** Every byte taken has reached the client's buffer (in order, so the rest is node's to send). */
  private allPassedOn(): void {
    this.updateHold();
    const done = this.whenFed;
    if (done !== null) {
      this.close();
      done();
    } else if (this.capped) {
      this.close();
      this.events.exhausted();
    }
  }

  private waitForDrain(): void {
    if (this.waitingForDrain) return;
    this.waitingForDrain = true;
    this.sink.onceDrained(() => {
      this.waitingForDrain = false;
      this.pump();
    });
  }

  private readBack(): void {
    const file = this.file!;
    const want = Math.min(READ_PIECE, this.written - this.fed);
    // Allocated per piece: the client's buffer holds it until sent, and this is the slow path.
    const buffer = Buffer.allocUnsafe(want);
    this.reading = true;
    file.read(buffer, 0, want, this.fed, (err, bytesRead) => {
      this.reading = false;
      if (this.closed) return;
      if (err !== null || bytesRead === 0) {
        this.close();
        this.events.failed(err ?? new Error(`the response spool file ended at ${this.fed} of ${this.written} bytes`));
        return;
      }
      this.fed += bytesRead;
      this.sink.write(bytesRead === want ? buffer : buffer.subarray(0, bytesRead));
      this.pump();
    });
  }
}
