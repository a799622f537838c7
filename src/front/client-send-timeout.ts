import type * as net from 'node:net';

/** How often connections with unsent bytes are looked at. */
const TICK_MS = 1000;

interface SendState {
  /** Bytes the kernel has taken so far (what the socket wrote, less what it still holds). */
  sent: number;
  /** performance.now() when the client last took bytes while some were waiting; 0: nothing waits. */
  since: number;
}

/**
 * Apache's Timeout for writes: a client that takes none of the bytes waiting for it for that
 * long loses its connection. Without it, a client that asks for a large response and never
 * reads would hold the response's spool file (or, with spooling off, a worker thread) for ever.
 * A slow client that keeps taking bytes is never cut off, however long the response takes.
 */
export class ClientSendTimeout {
  // State lives in a map, not on the socket (see ClientReadTimeouts).
  private readonly sockets = new Map<net.Socket, SendState>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private timeoutMs: number,
    private readonly onTimeout: (socket: net.Socket, seconds: number) => void,
  ) {}

  /** A new configuration (SIGHUP). */
  update(timeoutMs: number): void {
    this.timeoutMs = timeoutMs;
  }

  track(socket: net.Socket): void {
    this.sockets.set(socket, { sent: 0, since: 0 });
    socket.once('close', () => this.sockets.delete(socket));
    if (this.timer === null) {
      this.timer = setInterval(() => this.tick(), TICK_MS);
      this.timer.unref();
    }
  }

  private tick(): void {
    if (this.timeoutMs <= 0) return;
    const now = performance.now();
    for (const [socket, state] of this.sockets) {
      const waiting = socket.writableLength;
      if (waiting === 0 || socket.destroyed) {
        state.since = 0;
        continue;
      }
      // bytesWritten counts what was handed to the socket, including what it still holds.
      const sent = socket.bytesWritten - waiting;
      if (state.since === 0 || sent !== state.sent) {
        state.sent = sent;
        state.since = now;
      } else if (now - state.since >= this.timeoutMs) {
        this.sockets.delete(socket);
        this.onTimeout(socket, Math.round((now - state.since) / 1000));
        socket.destroy();
      }
    }
  }

  /** Stops the timer (the server is stopping). */
  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
