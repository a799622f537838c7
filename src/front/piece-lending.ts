/**
 * Region pieces of one response lent to its client's socket (ResponseRegion.view): what the
 * socket still has to write, and which client connections get copies instead.
 *
 * The worker may reuse a lent piece's half of its region only once the piece is given back:
 * when the socket's write callback comes, or when the response closes (node drops the
 * callbacks of writes to a socket that was destroyed), or when the thread's slot settles the
 * piece for a client too slow to take it (ThreadSlot.settleLentRegionPiecesSoon).
 */
import type * as net from 'node:net';
import type { ServerResponse } from 'node:http';
import type { ThreadSlot } from '../groups/thread-slot';
import type { ResponseRegion } from '../groups/response-region';

/**
 * Client connections that once kept a lent piece too long (it had to be settled, which costs
 * more than copying it at once): they get copies from then on.
 */
const slowClients = new WeakSet<net.Socket>();

/** Whether `socket` may be lent pieces: alive, and never slow to take one. */
export function mayBorrow(socket: net.Socket | null): socket is net.Socket {
  return socket !== null && !socket.destroyed && !slowClients.has(socket);
}

export class PieceLending {
  /** Give-backs of pieces the socket is not done with yet. */
  private readonly outstanding = new Set<() => void>();
  private watchingClose = false;

  constructor(private readonly res: ServerResponse) {}

  /**
   * Lends `view` (a piece of `slot`'s region) to `client`: `send(view, written)` passes it on,
   * and must call `written` once the socket is done with it.
   */
  lend(slot: ThreadSlot, region: ResponseRegion, view: Buffer, client: net.Socket, send: (view: Buffer, written: () => void) => void): void {
    const giveBack = slot.lendRegionPiece(() => {
      region.keep(view);
      slowClients.add(client);
    });
    if (!this.watchingClose) {
      this.watchingClose = true;
      this.res.once('close', () => this.giveAllBack());
    }
    this.outstanding.add(giveBack);
    send(view, () => {
      this.outstanding.delete(giveBack);
      giveBack();
    });
  }

  private giveAllBack(): void {
    for (const giveBack of this.outstanding) giveBack();
    this.outstanding.clear();
  }
}
