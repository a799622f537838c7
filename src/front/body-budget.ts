import type { IncomingMessage } from 'node:http';
import { BUFFERED_BODY_BYTES } from '../config/defaults';

/**
 * While fewer bodies than this are complete and waiting for a thread, the oldest this many of
 * those still being read are read whatever the budget: the threads always have bodies coming,
 * the budget never stops everything (no body could complete to free it), and a few slow clients
 * at the head of the line do not stall the rest.
 */
const ALWAYS_READ = 4;

/** What a resumed body is expected to read before the budget hears from it: one socket read. */
const RESUMED_READ_BYTES = 64 * 1024;

/**
 * Bounds the memory the front end spends on request bodies it reads whole before dispatch
 * (bodies up to 1 MiB, so that a slow client never holds a Python thread) while their requests
 * wait for a thread.
 *
 * Without a bound, every waiting request held its whole body: with 32 clients uploading 1 MiB
 * to 2 threads, 30 bodies (30 MiB) sat in the front end, and nothing but the number of
 * connections limited it. With one, once the bodies not yet dispatched hold `limitBytes`, the
 * newer ones are paused: their bytes stay in the client's socket (TCP flow control), and are
 * read, in arrival order, as dispatched bodies free the budget. Bodies already dispatched are
 * not counted: those are bounded by the number of threads.
 *
 * A paused body is time the client is not being read, so RequestReadTimeout does not count it
 * (ClientReadTimeouts only times bodies that are flowing).
 *
 * Bodies read by a RequestBodyReader (chunked, or sent after 100 Continue, with request body
 * spooling on) are not paused: once the budget is used up, the reader moves the body to a spool
 * file, as it does with a body over 1 MiB, and its bytes stop counting.
 */
export class BodyBudget {
  private held = 0;
  /** Bodies still being read, oldest first. */
  private readonly reading: BodyTicket[] = [];
  /** The paused ones among them, in arrival order. */
  private readonly paused: BodyTicket[] = [];
  /** Bodies read whole and not yet dispatched. */
  private complete = 0;
  private pausedTotal = 0;
  private spilledTotal = 0;

  constructor(readonly limitBytes: number) {
    if (!(limitBytes > 0)) throw new Error(`the body budget must be a positive number of bytes, not ${limitBytes}`);
  }

  /** Bytes of bodies read and not yet dispatched. */
  get heldBytes(): number {
    return this.held;
  }

  /** Bodies paused now, waiting for the budget. */
  get pausedNow(): number {
    return this.paused.length;
  }

  /** Bodies paused since the start (each counted once per pause). */
  get pausesTotal(): number {
    return this.pausedTotal;
  }

  /** Spillable bodies moved to a spool file because the budget was used up, since the start. */
  get spillsTotal(): number {
    return this.spilledTotal;
  }

  /** Starts counting `req`'s body, which its caller reads whole. */
  track(req: IncomingMessage): BodyTicket {
    const ticket = new BodyTicket(this, req);
    this.reading.push(ticket);
    return ticket;
  }

  /**
   * Starts counting a body whose reader can move it to a spool file (RequestBodyReader): rather
   * than being paused, it is told to spill once the budget is used up (BodyTicket.keep).
   */
  trackSpillable(): BodyTicket {
    return new BodyTicket(this, null);
  }

  /** BodyTicket's: whether `bytes` more of a spillable body fit; counted if so. */
  keep(bytes: number): boolean {
    if (this.held + bytes > this.limitBytes) {
      this.spilledTotal++;
      return false;
    }
    this.held += bytes;
    return true;
  }

  /** BodyTicket's: `ticket` received `bytes` more. */
  received(ticket: BodyTicket, bytes: number): void {
    this.held += bytes;
    const req = ticket.req;
    if (req !== null && this.held > this.limitBytes && !ticket.paused && !this.alwaysRead(ticket)) {
      ticket.paused = true;
      req.pause();
      this.insertPaused(ticket);
      this.pausedTotal++;
    }
  }

  /** BodyTicket's: `ticket`'s body is complete, and waits for a thread. */
  completed(ticket: BodyTicket): void {
    this.stopReading(ticket);
    this.complete++;
    // A paused body may now be among the oldest still being read.
    this.resumeWhatFits();
  }

  /** BodyTicket's: a body no longer counts (dispatched, or its request is over). */
  released(ticket: BodyTicket, bytes: number, wasComplete: boolean): void {
    if (wasComplete) this.complete--;
    else this.stopReading(ticket);
    this.held -= bytes;
    this.resumeWhatFits();
  }

  /** BodyTicket's: a spillable body's `bytes` no longer count. */
  spillableReleased(bytes: number): void {
    this.held -= bytes;
    this.resumeWhatFits();
  }

  private stopReading(ticket: BodyTicket): void {
    remove(this.reading, ticket);
    // A body that stops counting while paused (its request failed, say) is let go: node:http
    // then reads and drops the rest, or closes the connection, as for any unread body.
    if (ticket.paused) this.resume(ticket);
  }

  private alwaysRead(ticket: BodyTicket): boolean {
    if (this.complete >= ALWAYS_READ) return false;
    for (let i = 0; i < ALWAYS_READ && i < this.reading.length; i++) {
      if (this.reading[i] === ticket) return true;
    }
    return false;
  }

  /** Keeps `paused` in arrival order: a ticket paused now is usually the newest. */
  private insertPaused(ticket: BodyTicket): void {
    const place = this.reading.indexOf(ticket);
    let at = this.paused.length;
    while (at > 0 && this.reading.indexOf(this.paused[at - 1]!) > place) at--;
    this.paused.splice(at, 0, ticket);
  }

  private resume(ticket: BodyTicket): void {
    remove(this.paused, ticket);
    ticket.paused = false;
    ticket.req?.resume();
  }

  private resumeWhatFits(): void {
    if (this.complete < ALWAYS_READ) {
      for (let i = 0; i < ALWAYS_READ && i < this.reading.length; i++) {
        const ticket = this.reading[i]!;
        if (ticket.paused) this.resume(ticket);
      }
    }
    // Oldest first, each counted for one read's worth until its bytes come in, so that a freed
    // megabyte does not set every paused body reading at once.
    let room = this.limitBytes - this.held;
    while (room > 0 && this.paused.length > 0) {
      this.resume(this.paused[0]!);
      room -= RESUMED_READ_BYTES;
    }
  }
}

/** One request body's account with the budget. */
export class BodyTicket {
  paused = false;
  private bytes = 0;
  private state: 'reading' | 'complete' | 'released' = 'reading';

  constructor(
    private readonly budget: BodyBudget,
    /** The request to pause; null for a spillable body, which is never paused. */
    readonly req: IncomingMessage | null,
  ) {}

  /** `bytes` more of the body were read (a body its caller holds in memory, paused if need be). */
  received(bytes: number): void {
    if (this.state !== 'reading') return;
    this.bytes += bytes;
    this.budget.received(this, bytes);
  }

  /**
   * For a spillable body: whether `bytes` more may stay in memory (and are counted); false
   * once the budget is used up, and the caller should move the body to its spool file and
   * release the ticket.
   */
  keep(bytes: number): boolean {
    if (this.state !== 'reading') return false;
    if (!this.budget.keep(bytes)) return false;
    this.bytes += bytes;
    return true;
  }

  /** The body is complete: it waits for a thread (and still counts until released). */
  finishedReading(): void {
    if (this.state !== 'reading') return;
    this.state = 'complete';
    if (this.req !== null) this.budget.completed(this);
  }

  /** The body is dispatched, or its request is over: it no longer counts. Idempotent. */
  release(): void {
    if (this.state === 'released') return;
    const wasComplete = this.state === 'complete';
    this.state = 'released';
    if (this.req === null) this.budget.spillableReleased(this.bytes);
    else this.budget.released(this, this.bytes, wasComplete);
  }
}

function remove<T>(list: T[], item: T): void {
  const at = list.indexOf(item);
  if (at >= 0) list.splice(at, 1);
}

/**
 * The front end's budget: four bodies of the largest size read whole in memory (larger ones go
 * to a spool file). Four complete bodies waiting for a thread keep the threads fed (each takes
 * one as it frees up) while the bodies behind them wait in their clients' sockets.
 */
export const BODIES_AHEAD = 4;
export const frontEndBodyBudget = new BodyBudget(BODIES_AHEAD * BUFFERED_BODY_BYTES);
