import { FRAME_HEADER_SIZE, ToWorker, writeFrameHeader } from '../protocol/frames';
import type { SpoolFile } from './body-spool';

/** Body bytes per frame read from a spool file (the worker's largest body frame size). */
const PIECE = 256 * 1024;
/** Frames on their way to the worker at once: one is read from disk while the other is written. */
const IN_FLIGHT = 2;

/**
 * Frame buffers (header + piece) shared by all feeders: a buffer is reused once the socket has
 * taken its frame, so feeding a body costs no allocation per piece.
 */
const pool: Buffer[] = [];
const POOL_MAX = 8;

function takeBuffer(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafeSlow(FRAME_HEADER_SIZE + PIECE);
}

function giveBack(buffer: Buffer): void {
  if (pool.length < POOL_MAX) pool.push(buffer);
}

/** Where a spooled body goes: the worker thread's connection. */
export interface FeedTarget {
  /** Writes one Body frame; `written` once the socket is done with `frame`. */
  write(frame: Buffer, written: () => void): void;
  /** Every byte has been written: the request stream can be ended. */
  ended(): void;
  /** Reading the spool file failed. */
  failed(err: Error): void;
}

/**
 * Sends a spooled body to the worker as Body frames, as fast as the worker's connection takes
 * them: the next piece is read from the file while the last is written, and no more than two
 * are ever waiting in the front end (the socket's write callbacks pace it).
 */
export class SpoolFeeder {
  private position = 0;
  private reading = false;
  private inFlight = 0;
  private stopped = false;

  constructor(
    private readonly spool: SpoolFile,
    private readonly target: FeedTarget,
  ) {}

  start(): void {
    if (this.spool.length === 0) {
      this.stopped = true;
      this.target.ended();
      return;
    }
    this.pump();
  }

  /** No more frames: the request is over, or starts again elsewhere. */
  stop(): void {
    this.stopped = true;
  }

  private pump(): void {
    if (this.stopped || this.reading || this.inFlight >= IN_FLIGHT || this.position >= this.spool.length) return;
    const buffer = takeBuffer();
    const want = Math.min(PIECE, this.spool.length - this.position);
    this.reading = true;
    this.spool.read(buffer, FRAME_HEADER_SIZE, want, this.position, (err, bytesRead) => {
      this.reading = false;
      if (this.stopped) {
        giveBack(buffer);
        return;
      }
      if (err !== null || bytesRead === 0) {
        this.stopped = true;
        giveBack(buffer);
        this.target.failed(err ?? new Error(`the spool file ended at ${this.position} of ${this.spool.length} bytes`));
        return;
      }
      writeFrameHeader(buffer, 0, ToWorker.Body, bytesRead);
      this.position += bytesRead;
      this.inFlight++;
      this.target.write(buffer.subarray(0, FRAME_HEADER_SIZE + bytesRead), () => {
        this.inFlight--;
        giveBack(buffer);
        this.pump();
      });
      if (this.position >= this.spool.length) {
        this.stopped = true;
        this.target.ended();
        return;
      }
      this.pump();
    });
  }
}
