/**
 * The order in which a worker thread's region pieces are given back to it.
 *
 * The worker counts releases, not halves: each RegionReleased frees the oldest half it still
 * thinks is in use. That holds while the front end finishes with pieces in the order they came,
 * which copying always did. A piece lent to a client socket (ResponseRegion.view) is finished
 * only when that socket has written it, possibly after later pieces (copied ones, or pieces of
 * the next request lent to a faster client). So every piece is tracked oldest first, and a
 * release goes out only once every older piece is finished too.
 */
/** How long a lent piece may keep the worker from reusing its half once the worker wrote a newer one (settleSoon). */
const SETTLE_AFTER_MS = 2;

interface PendingPiece {
  readonly lent: boolean;
  done: boolean;
  /** For a lent piece: makes the client's view keep its bytes, so the piece can be released now. */
  readonly keep?: () => void;
  /** For a lent piece: how many pieces were lent before it. */
  readonly sequence?: number;
}

export class RegionReleases {
  private readonly pending: PendingPiece[] = [];
  private lentPending = 0;
  private lends = 0;
  /** Pieces written while others were lent: when, and which lent pieces, to settle (settleSoon). */
  private readonly settleDue: { lentBefore: number; at: number }[] = [];
  private settleTimer: NodeJS.Timeout | null = null;

  /** `send(count)` writes `count` RegionReleased frames to the worker. */
  constructor(private readonly send: (count: number) => void) {}

  /** Pieces lent to client sockets that the sockets are not done with yet. */
  get lent(): number {
    return this.lentPending;
  }

  /** Pieces lent so far: settleLent(lentSoFar) later settles only pieces lent before now. */
  get lentSoFar(): number {
    return this.lends;
  }

  /**
   * The worker wrote another piece, and may soon need the half a lent piece is in: the pieces
   * lent so far that client sockets have still not written SETTLE_AFTER_MS from now are settled
   * then. Not at once: a client that keeps up takes a piece within a millisecond or so, and
   * settling costs a copy. Each call has its own deadline, so pieces lent while a timer is
   * pending are settled in their turn.
   */
  settleSoon(): void {
    if (this.lentPending === 0) return;
    this.settleDue.push({ lentBefore: this.lends, at: performance.now() + SETTLE_AFTER_MS });
    if (this.settleTimer === null) this.settleTimer = setTimeout(() => this.settleDuePieces(), SETTLE_AFTER_MS);
  }

  private settleDuePieces(): void {
    this.settleTimer = null;
    const now = performance.now();
    let lentBefore = -1;
    // Timers may fire a fraction of a millisecond early by performance.now().
    while (this.settleDue.length > 0 && this.settleDue[0]!.at <= now + 0.5) lentBefore = this.settleDue.shift()!.lentBefore;
    if (lentBefore >= 0) this.settleLent(lentBefore);
    const next = this.settleDue[0];
    if (next !== undefined) this.settleTimer = setTimeout(() => this.settleDuePieces(), Math.max(1, next.at - now));
  }

  /** A piece copied out of the region: released by `copiedDone` (or by the next head). */
  copied(): void {
    this.pending.push({ lent: false, done: false });
  }

  /** The oldest `count` copied pieces not yet released may be released, once older ones are. */
  copiedDone(count: number): void {
    for (const piece of this.pending) {
      if (count === 0) break;
      if (piece.lent || piece.done) continue;
      piece.done = true;
      count--;
    }
    this.flush();
  }

  /**
   * A piece lent to a client socket; returns what to call once the socket is done with it
   * (idempotent). `keep` makes the socket's view of it independent of the region (settleLent).
   */
  lend(keep: () => void): () => void {
    const piece: PendingPiece = { lent: true, done: false, keep, sequence: this.lends++ };
    this.pending.push(piece);
    this.lentPending++;
    return () => {
      if (piece.done) return;
      piece.done = true;
      this.lentPending--;
      this.flush();
    };
  }

  /**
   * Releases the lent pieces a client socket has not written yet (those among the first
   * `lentBefore` lent), after making their views keep their bytes, so a slow client never makes
   * the worker wait for a half of its region. A piece whose `keep` fails stays lent.
   */
  settleLent(lentBefore: number): void {
    if (this.lentPending === 0) return;
    for (const piece of this.pending) {
      if (!piece.lent || piece.done || piece.sequence! >= lentBefore) continue;
      try {
        piece.keep!();
      } catch {
        continue;
      }
      piece.done = true;
      this.lentPending--;
    }
    this.flush();
  }

  /**
   * The worker was sent a head that releases the whole region (no piece is lent): whatever was
   * copied and not released yet is released by it.
   */
  releasedByHead(): void {
    if (this.lentPending > 0) throw new Error('a head released the region while pieces of it are lent to a client');
    this.pending.length = 0;
  }

  private flush(): void {
    let count = 0;
    while (this.pending.length > 0 && this.pending[0]!.done) {
      this.pending.shift();
      count++;
    }
    if (count > 0) this.send(count);
  }
}
