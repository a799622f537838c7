import type * as net from 'node:net';
import type { ErrorLog } from '../log/error-log';
import type { Dispatchable } from '../groups/dispatcher';
import type { AheadTenant, ThreadActivity, ThreadSlot } from '../groups/thread-slot';
import { recyclePiece, type ResponseCounts } from '../groups/response-region';
import { mayBorrow, PieceLending } from './piece-lending';
import { releaseBodyMemory } from './release-body-memory';
import type { BodyTicket } from './body-budget';
import { encodeFrame, FRAME_HEADER_SIZE, FromWorker, HeadFlags, LOG_LEVEL_NAMES, ToWorker, writeFrameHeader } from '../protocol/frames';
import { recycleRequestHead, setHeadFlag } from './environ';
import type { DeadlineWatch, Watched } from '../util/deadline-watch';
import { cutResponse, endConnectionAfter, sendErrorPage } from './error-page';
import { openWorkerFile, sendWorkerFile } from './worker-file';
import type { SpoolFile } from './body-spool';
import { SpoolFeeder } from './spool-feeder';
import { clientSink, ResponseSpool } from './response-spool';
import { clientOf, type RequestRecord } from './request-record';

const BODY_END_FRAME = encodeFrame(ToWorker.BodyEnd);
const FILE_TAKEN_FRAME = encodeFrame(ToWorker.FileTaken, Buffer.from([1]));
const FILE_NOT_TAKEN_FRAME = encodeFrame(ToWorker.FileTaken, Buffer.from([0]));
/**
 * Buffered bodies from this size go to the worker through its shared region (BodyShared); the
 * worker's response pieces use the same threshold for the same reason.
 */
const SHARED_BODY_THRESHOLD = 32 * 1024;
/** Where a body starts in the region: off the page boundary, as region pieces are (slab-pool.ts). */
const SHARED_BODY_OFFSET = 64;

/** Response headers the front end owns: it decides the framing of the response itself. */
const HOP_BY_HOP = new Set(['transfer-encoding', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'trailer']);

export interface ExchangeContext {
  errorLog: ErrorLog;
  groupName: string;
  /** WSGIErrorOverride On: a status of 400 or more gets the server's error page, not the application's body. */
  errorOverride: boolean;
  /** A queued request was withdrawn (its client left). */
  withdrawn(): void;
  /** Puts the request back at the head of its group's queue (its process's code was stale). */
  resubmit(exchange: WsgiExchange): void;
  /** socket-timeout (or Timeout): the longest wait for the response head; 0 = none. */
  headerTimeoutMs: number;
  /** request-timeout; 0 = none. */
  requestTimeoutMs: number;
  /** interrupt-timeout: how long an interrupted request has to unwind; 0 = no interrupt. */
  interruptTimeoutMs: number;
  /** A request ran past request-timeout and could not be interrupted: recycle its process. */
  requestTimedOut(slot: ThreadSlot): void;
  /** Checks the deadlines of running requests. */
  deadlines: DeadlineWatch;
  /** The group's counts of pieces lent and copied and of responses spooled (status page, metrics). */
  responseCounts: ResponseCounts;
  /**
   * How much response data may wait in the front end for a slow client before the worker is
   * made to wait (response-buffer-size): below it the worker's thread moves on to its next
   * request while the front end finishes the delivery.
   */
  responseBufferBytes: number;
  /**
   * WSGIResponseSpoolLimit: past response-buffer-size, up to this many more bytes of a response
   * go to a spool file in `directory` instead of making the worker wait; null: never (0).
   */
  responseSpool: { directory: string; limit: number } | null;
}

/** How the request body reaches the worker. */
export type BodyPlan =
  | { kind: 'none' }
  /** Read whole before dispatch (as the pieces it arrived in); goes out with the head in one write. */
  | { kind: 'buffered'; pieces: Buffer[]; length: number; ticket?: BodyTicket }
  /**
   * Streamed once the application first reads wsgi.input, so a request can still be run
   * elsewhere until then (script reloading); with Expect: 100-continue, that is also when the
   * client is told to send it.
   */
  | { kind: 'on-demand'; expectContinue: boolean }
  /**
   * Read whole into a spool file before dispatch (WSGIRequestBodySpooling); fed to the worker
   * from the file once the application first reads wsgi.input. The exchange owns the file and
   * closes it when the request is over.
   */
  | { kind: 'spooled'; spool: SpoolFile };

/** ahead: its head is in a busy thread's socket, to run when the thread's current request ends. */
type State = 'queued' | 'ahead' | 'running' | 'done';

/**
 * The front end's half of one WSGI request: waits for a worker thread, sends it the request,
 * relays the response to the client with flow control both ways, and turns worker failures into
 * the right status.
 */
export class WsgiExchange implements Dispatchable, AheadTenant, Watched {
  queuedAt = 0;
  private state: State = 'queued';
  private slot: ThreadSlot | null = null;
  /** The request stream to the worker has been terminated (BodyEnd sent). */
  private requestStreamEnded = false;
  private bodyFlowing = false;
  /** Sends a spooled body to the worker, while one is being sent. */
  private feeder: SpoolFeeder | null = null;
  private waitingForSlotDrain = false;
  /** Writes of a buffered body the worker's socket has not finished with. */
  private bodyWritesPending = 0;
  /** The request is over: its body is not needed again. */
  private bodyDropped = false;
  private waitingForClientDrain = false;
  /** checkClientBehind will look at the client's buffer once its socket has tried to write. */
  private behindCheckPending = false;
  /** Shared-region pieces passed on but not yet released to the worker (held while the client catches up). */
  private heldRegionPieces = 0;
  /** Shared-region pieces passed on whose release goes out once the current read is processed. */
  private unreleasedRegionPieces = 0;
  /** Region pieces lent to the client's socket, once one is. */
  private lending: PieceLending | null = null;
  /** Holds the response while its client is behind (WSGIResponseSpoolLimit), while it is. */
  private spool: ResponseSpool | null = null;
  /** The response has spooled once and reached the limit: the rest goes with flow control. */
  private spoolSpent = false;
  /** Stops the file being sent for the worker (WSGIEnableSendfile), while one is. */
  private stopFile: (() => void) | null = null;
  /** Body pieces that came after the file, sent once it is. */
  private afterFile: Buffer[] = [];
  /** The worker finished while its file was still being sent: end the response after it. */
  private endAfterFile = false;
  /** Content-Length the application declared, or -1. */
  private declaredLength = -1;
  /** WSGIErrorOverride replaced the application's response: its body frames are dropped. */
  private overridden = false;
  private clientGone = false;
  /** performance.now() deadlines; 0 = none. */
  private headDeadline = 0;
  private requestDeadline = 0;
  /** This request's place in ctx.deadlines (DeadlineWatch's to set). */
  watchIndex = -1;
  private interrupted = false;

  constructor(
    private readonly ctx: ExchangeContext,
    private readonly record: RequestRecord,
    private readonly head: Buffer,
    private readonly body: BodyPlan,
    /** The application group (interpreter) it runs in: '' is the main interpreter. */
    readonly applicationGroup = '',
  ) {
    record.onClientClose = () => this.onClientClose();
  }

  get withdrawn(): boolean {
    return this.state === 'queued' && this.clientGone;
  }

  /**
   * No body, or a small one held in memory: its whole request stream can be written at once, and
   * through the socket (the region may still hold the previous response).
   */
  get canRunAhead(): boolean {
    const body = this.body;
    return this.state === 'queued' && !this.clientGone && (body.kind === 'none' || (body.kind === 'buffered' && body.length < SHARED_BODY_THRESHOLD));
  }

  get requestSent(): boolean {
    return this.requestStreamEnded;
  }

  // -- Dispatchable ------------------------------------------------------------------------

  begin(slot: ThreadSlot): void {
    if (this.state !== 'queued') return;
    this.state = 'running';
    this.slot = slot;
    const timing = this.record.timing;
    if (timing !== null) {
      timing.queuedAt = this.queuedAt;
      timing.beganAt = performance.now();
      timing.pid = slot.pid;
    }
    slot.assign(this);
    this.startTimers();
    // While the client's socket still sends a piece of the previous response from the region,
    // this head must not tell the worker the region is free (ThreadSlot.lendRegionPiece).
    const regionFree = slot.lentRegionPieces === 0;
    setHeadFlag(this.head, HeadFlags.RegionHeld, !regionFree);
    if (regionFree) slot.regionReleasedByHead();
    const body = this.body;
    switch (body.kind) {
      case 'none':
        // The head already ends with the frame that ends the empty body.
        this.requestStreamEnded = true;
        // A request whose thread was lost before it ran it may have been sent ahead before.
        setHeadFlag(this.head, HeadFlags.Ahead, false);
        slot.write(this.head);
        return;
      case 'buffered':
        setHeadFlag(this.head, HeadFlags.Ahead, false);
        this.sendBufferedRequest(slot, body, regionFree);
        return;
      case 'on-demand':
      case 'spooled':
        slot.write(this.head);
        return;
    }
  }

  /** Writes the head and the whole body held in memory, in the region if `regionFree` and it pays. */
  private sendBufferedRequest(slot: ThreadSlot, body: { pieces: Buffer[]; length: number; ticket?: BodyTicket }, regionFree: boolean): void {
    // Out of the queue: the threads' capacity bounds it from now on, not the body budget.
    body.ticket?.release();
    this.requestStreamEnded = true;
    this.bodyWritesPending++;
    const written = (): void => {
      this.bodyWritesPending--;
      this.releaseBufferedBody();
    };
    if (regionFree && this.putBodyInRegion(slot, body.pieces, body.length)) {
      setHeadFlag(this.head, HeadFlags.BodyInRegion, true);
      const shared = Buffer.allocUnsafe(FRAME_HEADER_SIZE + 8);
      writeFrameHeader(shared, 0, ToWorker.BodyShared, 8);
      shared.writeUInt32BE(SHARED_BODY_OFFSET, FRAME_HEADER_SIZE);
      shared.writeUInt32BE(body.length, FRAME_HEADER_SIZE + 4);
      slot.writeAll([this.head, shared, BODY_END_FRAME], written);
      return;
    }
    setHeadFlag(this.head, HeadFlags.BodyInRegion, false);
    const header = Buffer.allocUnsafe(FRAME_HEADER_SIZE);
    writeFrameHeader(header, 0, ToWorker.Body, body.length);
    slot.writeAll([this.head, header, ...body.pieces, BODY_END_FRAME], written);
  }

  /**
   * Sends the request to `slot` while the thread is still busy with another (Dispatcher): the
   * worker reads it as soon as that one is over. Its whole request stream goes now (canRunAhead);
   * it runs (timers, status, counts) from promote().
   */
  beginAhead(slot: ThreadSlot): void {
    if (this.state !== 'queued') return;
    this.state = 'ahead';
    this.slot = slot;
    slot.assignAhead(this);
    setHeadFlag(this.head, HeadFlags.Ahead, true);
    const body = this.body;
    if (body.kind === 'buffered') {
      this.sendBufferedRequest(slot, body, false);
      return;
    }
    this.requestStreamEnded = true;
    slot.write(this.head);
  }

  /** The thread finished the request before this one: this one is running now. */
  promote(slot: ThreadSlot): void {
    if (this.state !== 'ahead') return;
    this.state = 'running';
    const timing = this.record.timing;
    if (timing !== null) {
      timing.queuedAt = this.queuedAt;
      timing.beganAt = performance.now();
      timing.pid = slot.pid;
    }
    this.startTimers();
    if (this.clientGone) {
      // As for a running request whose client leaves: the thread's connection is cut.
      this.finishRunning();
      slot.cut('client closed connection');
    }
  }

  /** The thread's connection was lost before it got to this request: it runs elsewhere, first in line. */
  aheadLost(): void {
    if (this.state !== 'ahead') return;
    this.state = 'queued';
    this.slot = null;
    this.requestStreamEnded = false;
    if (this.clientGone) {
      this.state = 'done';
      this.dropBody();
      return;
    }
    this.ctx.resubmit(this);
  }

  /**
   * Writes a buffered body into the thread's shared region, if it is large enough for that to pay
   * and the region takes it: the region is all free when a request starts (the worker takes the
   * head as the release of everything the previous response left there).
   */
  private putBodyInRegion(slot: ThreadSlot, pieces: readonly Buffer[], length: number): boolean {
    const region = slot.region;
    if (length < SHARED_BODY_THRESHOLD || region === null || !region.writable || !region.contains(SHARED_BODY_OFFSET, length)) return false;
    try {
      region.write(pieces, SHARED_BODY_OFFSET);
      return true;
    } catch (err) {
      this.log('info', `Could not put a request body in the shared region of daemon process '${this.ctx.groupName}' (${(err as Error).message}); it goes through the socket.`);
      return false;
    }
  }

  queueTimedOut(): void {
    if (this.state !== 'queued') return;
    this.state = 'done';
    this.dropBody();
    if (this.record.timing !== null) this.record.timing.queuedAt = this.queuedAt;
    this.log('error', `WSGI0084: Queue timeout expired for WSGI daemon process '${this.ctx.groupName}'.`);
    if (!this.clientGone) sendErrorPage(this.record, 504);
  }

  interpreterUnavailable(why: string): void {
    if (this.state !== 'queued') return;
    this.state = 'done';
    this.dropBody();
    this.log('error', why);
    if (!this.clientGone) sendErrorPage(this.record, 500);
  }

  // -- timeouts ----------------------------------------------------------------------------

  private startTimers(): void {
    const { headerTimeoutMs, requestTimeoutMs } = this.ctx;
    const now = performance.now();
    if (headerTimeoutMs > 0 && this.headDeadline === 0) this.headDeadline = now + headerTimeoutMs;
    if (requestTimeoutMs > 0 && this.requestDeadline === 0) this.requestDeadline = now + requestTimeoutMs;
    if (this.headDeadline !== 0 || this.requestDeadline !== 0) this.ctx.deadlines.add(this);
  }

  private clearTimers(): void {
    // Always: a deadline that passed or was met (the head arrived) is 0 while the exchange is
    // still watched, and with request-timeout 0 (WSGIDaemonProcess's default) that left every
    // finished request in the watch, about 2.5 KB each, for good.
    this.ctx.deadlines.delete(this);
    this.headDeadline = 0;
    this.requestDeadline = 0;
  }

  checkDeadlines(now: number): void {
    if (this.headDeadline !== 0 && now >= this.headDeadline) {
      this.headDeadline = 0;
      this.headTimedOut();
    }
    if (this.requestDeadline !== 0 && now >= this.requestDeadline) {
      this.requestDeadline = 0;
      this.requestTimedOut();
    }
  }

  /** No response head within socket-timeout (mod_wsgi's WSGI0145). */
  private headTimedOut(): void {
    if (this.state !== 'running' || this.record.res.headersSent) return;
    this.log('error', `WSGI0145: Timeout when reading response headers from daemon process '${this.ctx.groupName}'.`);
    this.abandon(504, 'socket-timeout');
  }

  /**
   * The request ran past request-timeout. With interrupt-timeout, RequestTimeout is first raised
   * in its thread; if the thread does not unwind in time (or there is no interrupt-timeout), the
   * client gets 504, the process's stacks go to the log and the process is recycled.
   */
  private requestTimedOut(): void {
    const slot = this.slot;
    if (this.state !== 'running' || slot === null) return;
    if (this.ctx.interruptTimeoutMs > 0 && !this.interrupted) {
      this.interrupted = true;
      this.log('warn', `Request ran longer than request-timeout in daemon process '${this.ctx.groupName}' (pid=${slot.pid}); interrupting it with RequestTimeout.`);
      slot.interrupt();
      this.requestDeadline = performance.now() + this.ctx.interruptTimeoutMs;
      return;
    }
    this.log('error', `Request ran longer than request-timeout in daemon process '${this.ctx.groupName}' (pid=${slot.pid}); answering 504 and restarting the process. Its threads' stacks follow.`);
    slot.dumpProcessStacks(`request-timeout of a request for ${this.record.req.url ?? '?'}`);
    this.ctx.requestTimedOut(slot);
    this.abandon(504, 'request-timeout');
  }

  // -- request body ------------------------------------------------------------------------

  private startBody(): void {
    if (this.body.kind === 'spooled') return this.feedSpool(this.body.spool);
    if (this.bodyFlowing || this.requestStreamEnded) return;
    this.bodyFlowing = true;
    const req = this.record.req;
    req.on('data', (chunk: Buffer) => {
      if (this.requestStreamEnded || this.slot === null) return;
      const header = Buffer.allocUnsafe(FRAME_HEADER_SIZE);
      writeFrameHeader(header, 0, ToWorker.Body, chunk.length);
      if (!this.slot.writeFrame(header, chunk)) {
        this.waitingForSlotDrain = true;
        req.pause();
      }
    });
    req.on('end', () => this.endRequestStream());
    if (req.readableEnded) this.endRequestStream();
  }

  /** Sends the spooled body from its start, as fast as the worker's connection takes it. */
  private feedSpool(spool: SpoolFile): void {
    if (this.feeder !== null || this.requestStreamEnded || this.slot === null) return;
    const feeder = new SpoolFeeder(spool, {
      write: (frame, written) => {
        const slot = this.slot;
        if (slot !== null && this.feeder === feeder) slot.write(frame, written);
      },
      ended: () => {
        if (this.feeder === feeder) this.endRequestStream();
      },
      failed: (err) => {
        if (this.feeder !== feeder || this.state !== 'running') return;
        this.log('error', `Reading the spooled request body failed: ${err.message}; the request is abandoned.`);
        this.abandon(500, 'spool read failed');
      },
    });
    this.feeder = feeder;
    feeder.start();
  }

  /** Stops sending the spooled body (the request is over, or starts again from the top elsewhere). */
  private stopFeeding(): void {
    if (this.feeder === null) return;
    this.feeder.stop();
    this.feeder = null;
  }

  /** The request is over: a spooled body's file is closed, a buffered body's memory freed. */
  private dropBody(): void {
    this.bodyDropped = true;
    if (this.body.kind === 'buffered') return this.releaseBufferedBody();
    if (this.body.kind !== 'spooled') return;
    this.stopFeeding();
    this.body.spool.close();
  }

  /**
   * Frees a buffered body's memory once the request is over and no write of it is in flight
   * (until then a resubmitted request may send it again, or the socket may still be reading it).
   */
  private releaseBufferedBody(): void {
    const body = this.body;
    if (!this.bodyDropped || this.bodyWritesPending > 0 || body.kind !== 'buffered' || body.pieces.length === 0) return;
    const pieces = body.pieces;
    body.pieces = [];
    releaseBodyMemory(pieces);
  }

  /** Terminates the request stream to the worker (once): the body is complete or no longer wanted. */
  private endRequestStream(): void {
    if (this.requestStreamEnded) return;
    this.requestStreamEnded = true;
    if (this.slot !== null && this.state === 'running') this.slot.write(BODY_END_FRAME);
  }

  /**
   * The client's body turned out malformed or ended early: the application must not get a
   * truncated body as if it were whole. Its thread sees a read error (its connection is cut),
   * and the client gets `status`, or a cut-off response if one had begun.
   */
  bodyFailed(status: number): void {
    this.log('info', `The request body was malformed or cut short (${status}); the request is abandoned.`);
    if (this.state === 'running') {
      const slot = this.slot;
      this.finishRunning();
      slot?.cut('request body failed');
    } else if (this.state === 'queued') {
      this.state = 'done';
      this.clientGone = true;
      this.ctx.withdrawn();
    }
    this.record.res.shouldKeepAlive = false;
    this.dropSpool();
    sendErrorPage(this.record, status);
  }

  onSlotDrain(): void {
    if (this.waitingForSlotDrain) {
      this.waitingForSlotDrain = false;
      this.record.req.resume();
    }
  }

  // -- response ----------------------------------------------------------------------------

  onFrame(type: number, payload: Buffer): void {
    if (this.state !== 'running') return;
    switch (type) {
      case FromWorker.ResponseHead:
        this.onResponseHead(payload);
        return;
      case FromWorker.ResponseBody:
        this.onResponseBody(payload);
        return;
      case FromWorker.ResponseBodyShared:
        this.onSharedResponseBody(payload);
        return;
      case FromWorker.ResponseFile:
        this.onResponseFile(payload);
        return;
      case FromWorker.ResponseEnd:
        this.finish(true);
        return;
      case FromWorker.ResponseFail:
        this.onFail(Number(payload.toString('latin1')) || 500);
        return;
      case FromWorker.Log: {
        const level = LOG_LEVEL_NAMES[payload[0] ?? 3] ?? 'error';
        this.ctx.errorLog.log('wsgi', level, payload.toString('utf8', 1), this.logContext());
        return;
      }
      case FromWorker.WantBody:
        if (this.body.kind === 'on-demand' && this.body.expectContinue && !this.record.res.headersSent) this.record.res.writeContinue();
        this.startBody();
        return;
      case FromWorker.Reload:
        this.onReload();
        return;
      default:
        this.log('error', `Unexpected frame 0x${type.toString(16)} from daemon process '${this.ctx.groupName}'; dropping the request.`);
        this.abandon(502, 'protocol error');
    }
  }

  /**
   * The worker found its process's code out of date before running anything: the process is
   * replaced, and this request goes back to the head of the queue to run in a fresh process.
   */
  private onReload(): void {
    const slot = this.slot!;
    this.endRequestStream();
    this.stopFeeding();
    this.clearTimers();
    this.state = 'queued';
    this.slot = null;
    this.requestStreamEnded = false;
    slot.processCodeIsStale();
    slot.release();
    if (this.clientGone) {
      this.state = 'done';
      this.dropBody();
      return;
    }
    this.ctx.resubmit(this);
  }

  private onResponseHead(payload: Buffer): void {
    this.headDeadline = 0;
    // Nothing left to watch without request-timeout: out of the watch's tick at once.
    if (this.requestDeadline === 0) this.ctx.deadlines.delete(this);
    const parts = payload.toString('latin1').split('\0');
    const statusLine = parts[0]!;
    const status = Number(statusLine.slice(0, 3));
    if (this.ctx.errorOverride && status >= 400) {
      this.overridden = true;
      const keep: Record<string, string> = {};
      // WWW-Authenticate survives, as Apache keeps err_headers_out on an error page.
      for (let i = 1; i + 1 < parts.length; i += 2) if (parts[i]!.toLowerCase() === 'www-authenticate') keep[parts[i]!] = parts[i + 1]!;
      sendErrorPage(this.record, status, keep);
      return;
    }
    const reason = statusLine.length > 4 ? statusLine.slice(4) : undefined;
    const headers: string[] = [];
    let lengthAt = -1;
    for (let i = 1; i + 1 < parts.length; i += 2) {
      const name = parts[i]!;
      // Only names of these lengths can be Content-Length or hop-by-hop: skip the lower-casing otherwise.
      const n = name.length;
      if (n === 14 || n === 17 || n === 10 || n === 16 || n === 7 || n === 2) {
        const lower = name.toLowerCase();
        if (HOP_BY_HOP.has(lower)) continue;
        if (lower === 'content-length') {
          this.declaredLength = Number(parts[i + 1]);
          // One Content-Length goes out, the last the application gave (the one the worker cuts
          // the body to, as mod_wsgi keeps): two that differ frame the body two ways (RFC 9112 6.3).
          if (lengthAt >= 0) {
            headers[lengthAt + 1] = parts[i + 1]!;
            continue;
          }
          lengthAt = headers.length;
        }
      }
      headers.push(name, parts[i + 1]!);
    }
    const res = this.record.res;
    try {
      if (reason !== undefined) res.writeHead(status, reason, headers);
      else res.writeHead(status, headers);
    } catch (err) {
      this.log('error', `Invalid response head from daemon process '${this.ctx.groupName}': ${(err as Error).message}`);
      this.abandon(500, 'invalid response head');
      return;
    }
    this.record.status = status;
  }

  /** `written`: called once the client's socket is done with `payload`, if it is passed on to it. */
  private onResponseBody(payload: Buffer, written?: () => void): void {
    if (this.overridden) return;
    if (this.stopFile !== null) {
      this.afterFile.push(payload);
      return;
    }
    if (this.spool !== null) return this.spool.write(payload, written);
    this.record.bytesSent += payload.length;
    const res = this.record.res;
    if (!res.write(payload, written) && !this.waitingForClientDrain && res.writableLength >= this.ctx.responseBufferBytes) this.checkClientBehind();
  }

  /**
   * Past response-buffer-size, the rest goes to a spool file, or the worker waits until the
   * client catches up. Decided once the socket has tried to write what is queued: node holds a
   * response's writes until the end of the tick, so a megabyte piece alone would otherwise
   * count as a client a megabyte behind, and a fast client's download would go through the
   * spool file. Until then at most what one read from the worker brought is added (the region
   * holds two pieces).
   */
  private checkClientBehind(): void {
    if (this.behindCheckPending) return;
    this.behindCheckPending = true;
    setImmediate(() => {
      this.behindCheckPending = false;
      const res = this.record.res;
      if (this.state !== 'running' || this.spool !== null || this.waitingForClientDrain || this.clientGone || res.writableLength < this.ctx.responseBufferBytes) return;
      if (this.ctx.responseSpool !== null && !this.spoolSpent) return this.startSpool(this.ctx.responseSpool);
      this.holdWorker();
      res.once('drain', () => this.resumeWorker());
    });
  }

  /** The worker is made to wait: its connection is not read and its shared pieces are not released. */
  private holdWorker(): void {
    this.waitingForClientDrain = true;
    this.slot?.pauseReading();
  }

  private resumeWorker(): void {
    if (!this.waitingForClientDrain) return;
    this.waitingForClientDrain = false;
    const slot = this.slot;
    if (slot === null) return;
    slot.resumeReading();
    this.releaseHeldRegionPieces(slot);
  }

  /** The client has fallen response-buffer-size behind: what comes next is spooled (response-spool.ts). */
  private startSpool(options: { directory: string; limit: number }): void {
    this.ctx.responseCounts.spooled++;
    const spool = new ResponseSpool(
      { directory: options.directory, limit: options.limit, bufferBytes: this.ctx.responseBufferBytes },
      clientSink(this.record),
      {
        holdWorker: () => {
          if (this.spool === spool) this.holdWorker();
        },
        resumeWorker: () => {
          if (this.spool === spool) this.resumeWorker();
        },
        exhausted: () => {
          if (this.spool !== spool) return;
          this.spool = null;
          this.spoolSpent = true;
          this.resumeWorker();
        },
        failed: (err) => {
          if (this.spool !== spool) return;
          this.spool = null;
          this.log('error', `Reading the response spool file failed: ${err.message}; the response is cut short.`);
          const slot = this.slot;
          if (this.state === 'running') this.finishRunning();
          slot?.cut('response spool read failed');
          cutResponse(this.record.res);
        },
        warn: (message) => this.log('warn', message),
      },
    );
    this.spool = spool;
  }

  /** Drops the response spool (the client is gone): its file is closed. */
  private dropSpool(): void {
    const spool = this.spool;
    this.spool = null;
    spool?.close();
  }

  /**
   * Cuts the response short (sendErrorPage once it has begun): what was already passed on,
   * spooled bytes included, still goes out first, then the connection closes.
   */
  private cut(status: number): void {
    const spool = this.spool;
    if (spool === null || !this.record.res.headersSent) return sendErrorPage(this.record, status);
    spool.finish(() => {
      if (this.spool === spool) this.spool = null;
      cutResponse(this.record.res);
    });
  }

  /**
   * A body piece the worker left in its shared region: lent to the client's socket as it is
   * (piece-lending.ts), or copied out and passed on; released to the worker once the front end
   * is done with it.
   */
  private onSharedResponseBody(payload: Buffer): void {
    const slot = this.slot!;
    const region = slot.region;
    const offset = payload.length === 8 ? payload.readUInt32BE(0) : -1;
    const length = payload.length === 8 ? payload.readUInt32BE(4) : -1;
    if (region === null || !region.contains(offset, length)) {
      this.log('error', `Daemon process '${this.ctx.groupName}' announced a shared response piece the front end cannot read; dropping the request.`);
      this.abandon(502, 'protocol error');
      return;
    }
    // The worker wrote a new piece: any earlier one a client has not taken is released soon.
    slot.settleLentRegionPiecesSoon();
    const client = this.record.res.socket;
    if (region.mapped && this.canLendTo(client)) {
      this.ctx.responseCounts.lent++;
      this.lending ??= new PieceLending(this.record.res);
      this.lending.lend(slot, region, region.view(offset, length), client, (view, written) => this.onResponseBody(view, written));
      return;
    }
    let piece: Buffer;
    try {
      piece = region.read(offset, length);
    } catch (err) {
      this.log('error', `Reading a shared response piece from daemon process '${this.ctx.groupName}' failed: ${(err as Error).message}; dropping the request.`);
      this.abandon(502, 'region read failed');
      return;
    }
    slot.regionPieceCopied();
    this.ctx.responseCounts.copied++;
    this.onResponseBody(piece, () => recyclePiece(piece));
    if (this.state !== 'running') return;
    // The piece is the front end's now; the worker may reuse its half of the region unless the
    // client is behind, in which case that is the worker's signal to wait.
    if (this.waitingForClientDrain) {
      this.heldRegionPieces++;
    } else if (this.unreleasedRegionPieces++ === 0) {
      // Released after the rest of this read is processed: when the response ends in it, the
      // next request's head releases the region instead, and the worker is not woken twice.
      process.nextTick(() => this.releaseRegionPieces());
    }
  }

  /**
   * Whether a region piece can go to the client's socket uncopied (piece-lending.ts): only to a
   * client that may borrow, and where nothing holds the piece on the way (spool file, sent file,
   * error override), so the socket's write callback or close is sure to come.
   */
  private canLendTo(socket: net.Socket | null): socket is net.Socket {
    return mayBorrow(socket) && !this.overridden && this.stopFile === null && (this.spool === null || this.spool.passingStraight);
  }

  /** The worker hands over a file to send (WSGIEnableSendfile); the front end takes it if it can open it. */
  private onResponseFile(payload: Buffer): void {
    const slot = this.slot!;
    if (payload.length !== 20) {
      this.log('error', `Daemon process '${this.ctx.groupName}' sent a malformed file frame; dropping the request.`);
      this.abandon(502, 'protocol error');
      return;
    }
    const workerFd = payload.readUInt32BE(0);
    const offset = Number(payload.readBigUInt64BE(4));
    const length = Number(payload.readBigUInt64BE(12));
    // Not while a spool holds bytes that must go first: the worker then sends the file itself.
    const fd = this.overridden || this.stopFile !== null || this.spool !== null ? null : openWorkerFile(slot.pid, workerFd);
    slot.write(fd !== null ? FILE_TAKEN_FRAME : FILE_NOT_TAKEN_FRAME);
    if (fd === null) return;
    const res = this.record.res;
    const counts = this.ctx.responseCounts;
    let headFlushed = false;
    this.stopFile = sendWorkerFile(fd, offset, length, {
      write: (piece) => {
        this.record.bytesSent += piece.length;
        counts.fileBytesCopied += piece.length;
        return res.write(piece);
      },
      socketForSendfile: () => {
        // writeHead only keeps the head (headersSent is already true): it must be on the socket first.
        if (!headFlushed) {
          res.flushHeaders();
          headFlushed = true;
        }
        // Anything still queued must go first, and a chunked body needs framing sendfile cannot add.
        return res.writableLength === 0 && !res.chunkedEncoding ? res.socket : null;
      },
      sentByKernel: (bytes) => {
        this.record.bytesSent += bytes;
        counts.fileBytesSendfile += bytes;
      },
      onceDrained: (resume) => res.once('drain', resume),
      done: () => this.fileSent(),
      failed: (err) => {
        this.stopFile = null;
        this.log('error', `Reading the file of a wsgi.file_wrapper response failed: ${err.message}; the response is cut short.`);
        cutResponse(res);
      },
    });
  }

  private fileSent(): void {
    this.stopFile = null;
    const rest = this.afterFile;
    this.afterFile = [];
    for (const piece of rest) this.onResponseBody(piece);
    if (this.endAfterFile) this.endResponse();
  }

  private releaseRegionPieces(): void {
    const count = this.unreleasedRegionPieces;
    this.unreleasedRegionPieces = 0;
    if (count > 0 && this.state === 'running') this.slot?.releaseRegion(count);
  }

  private releaseHeldRegionPieces(slot: ThreadSlot): void {
    if (this.heldRegionPieces > 0) {
      slot.releaseRegion(this.heldRegionPieces);
      this.heldRegionPieces = 0;
    }
  }

  private finish(ok: boolean): void {
    this.releaseSlot();
    // The worker ended the response, so it has read the head, which will not be sent again.
    if (ok) recycleRequestHead(this.head);
    if (!ok || this.overridden) return;
    if (this.stopFile !== null) {
      // The thread is free; the response ends once the front end has sent the file.
      this.endAfterFile = true;
      return;
    }
    this.endResponse();
  }

  private endResponse(): void {
    const spool = this.spool;
    if (spool !== null) {
      // The thread is free; the response ends once the client has been fed what was spooled.
      spool.finish(() => {
        if (this.spool !== spool) return;
        this.spool = null;
        this.endResponse();
      });
      return;
    }
    const res = this.record.res;
    const short = this.declaredLength >= 0 && this.record.bytesSent < this.declaredLength && this.record.req.method !== 'HEAD';
    if (short) {
      // The client was promised more bytes than the application produced: the connection must
      // close once what there is has gone out, so the client sees the response is incomplete, and
      // carry nothing more: a pipelined request's response would be read as the missing bytes.
      endConnectionAfter(res);
    }
    res.end();
  }

  private onFail(status: number): void {
    this.releaseSlot();
    if (!this.overridden) this.cut(status);
  }

  /** The exchange is no longer running on a thread (whatever becomes of the thread). */
  private finishRunning(): void {
    this.clearTimers();
    this.dropBody();
    this.state = 'done';
    this.slot = null;
    if (this.waitingForSlotDrain) {
      // The body stream was paused for the worker, which will take no more of it: the rest is
      // read and dropped (the data handler has no slot now), so the connection can carry the next
      // request, as Apache's ap_discard_request_body does. Paused, it never would.
      this.waitingForSlotDrain = false;
      this.record.req.resume();
    }
    if (this.record.timing !== null) this.record.timing.appEndedAt = performance.now();
  }

  /** Ends the worker's part: terminates the request stream, gives the thread back. */
  private releaseSlot(): void {
    if (this.state !== 'running') return;
    this.endRequestStream();
    const slot = this.slot;
    this.finishRunning();
    if (slot === null) return;
    // The response is complete in the front end, so the thread is free however slow the client;
    // its region is free too: the worker takes its next request's head as the release of all of it,
    // unless that head is already there (sent ahead) or will not release it (pieces still lent),
    // when the releases must be sent.
    const pieces = this.heldRegionPieces + this.unreleasedRegionPieces;
    this.heldRegionPieces = 0;
    this.unreleasedRegionPieces = 0;
    if (pieces > 0 && (slot.hasAhead || slot.lentRegionPieces > 0)) slot.releaseRegion(pieces);
    if (this.waitingForClientDrain) slot.resumeReading();
    slot.release();
  }

  /**
   * Gives up on the worker thread (it is stuck, or out of step) and answers `status`. The
   * thread's connection is cut, so whatever it does next is discarded; it reconnects once its
   * application code returns.
   */
  private abandon(status: number, why: string): void {
    const slot = this.slot;
    this.finishRunning();
    this.dropFile();
    slot?.cut(why);
    this.cut(status);
  }

  onSlotLost(reason: string): void {
    if (this.state !== 'running') return;
    this.finishRunning();
    this.dropFile();
    if (this.clientGone) return;
    if (!this.record.res.headersSent) {
      this.log('error', `WSGI0146: Daemon process '${this.ctx.groupName}' closed connection before sending complete response headers (${reason}).`);
      sendErrorPage(this.record, 502);
    } else {
      this.log('error', `WSGI0119: Unable to proxy response from daemon to client: daemon process '${this.ctx.groupName}' closed connection mid-response (${reason}).`);
      this.cut(502);
    }
  }

  /** Stops sending the worker's file, if one is being sent. */
  private dropFile(): void {
    const stop = this.stopFile;
    this.stopFile = null;
    this.afterFile = [];
    stop?.();
  }

  private onClientClose(): void {
    if (this.record.res.writableFinished) return;
    this.clientGone = true;
    this.dropFile();
    this.dropSpool();
    if (this.state === 'queued') {
      this.dropBody();
      this.ctx.withdrawn();
      return;
    }
    if (this.state === 'running') {
      // The worker thread notices when it next writes: its connection is gone, so the
      // application's write() raises and its close() still runs; the thread then reconnects.
      const slot = this.slot;
      this.finishRunning();
      slot?.cut('client closed connection');
    }
  }

  /** What this request is doing on its thread (the status page asks). */
  activity(): ThreadActivity {
    const record = this.record;
    return {
      method: record.req.method ?? '',
      url: record.req.url ?? '',
      client: clientOf(record),
      requestId: record.id,
      since: record.timing !== null && record.timing.beganAt !== 0 ? record.timing.beganAt : record.startMicros / 1000 - performance.timeOrigin,
      reading: this.bodyFlowing && !this.requestStreamEnded,
    };
  }

  // -- logging -----------------------------------------------------------------------------

  private logContext(): { pid?: number; tid?: number; client: string; requestId: string } {
    const slot = this.slot;
    const record = this.record;
    return slot !== null ? { pid: slot.pid, tid: slot.tid, client: clientOf(record), requestId: record.id } : { client: clientOf(record), requestId: record.id };
  }

  private log(level: 'error' | 'warn' | 'info', message: string): void {
    this.ctx.errorLog.log('wsgi', level, message, { client: clientOf(this.record), requestId: this.record.id });
  }
}
