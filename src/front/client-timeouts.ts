import type { IncomingMessage } from 'node:http';
import type * as net from 'node:net';
import type { ReadTimeoutStage, RequestReadTimeouts } from '../config/model';

/**
 * RequestReadTimeout (mod_reqtimeout's model) on the client side of each connection: a stage
 * starts with `timeout` seconds; every `minRate` bytes received add a second, up to
 * `maxTimeout`. The header stage runs from the connection's start, or from the first byte of
 * the next request on a keep-alive connection, until the head is parsed; the body stage runs
 * while the front end is reading the body. Time the front end is not reading (the body is
 * paused because the application is not asking for it, or the worker is full) does not count,
 * so only a slow client runs out of time, never a slow application.
 *
 * Node's http.Server has headersTimeout but no rates, so the stages are watched here: one
 * timer for all connections samples each socket's byte count a few times a second.
 */

type Stage = 'header' | 'idle' | 'body' | 'busy';

interface ReadState {
  stage: Stage;
  /** performance.now() when the stage times out, and the most it can be extended to (0: no cap). */
  deadline: number;
  maxDeadline: number;
  /** socket.bytesRead at the last sample. */
  bytes: number;
  /** bytesRead when the stage began: 0 new bytes means the client sent nothing at all. */
  bytesAtStart: number;
  req: IncomingMessage | null;
}

const TICK_MS = 200;

export interface TimeoutHandlers {
  /** The head did not arrive in time; `sentNothing` when the client sent no byte of it. */
  headerTimedOut(socket: net.Socket, sentNothing: boolean): void;
  /** The body did not arrive in time. */
  bodyTimedOut(socket: net.Socket, req: IncomingMessage): void;
}

export class ClientReadTimeouts {
  // State lives in a map, not on the socket: a property added to client sockets and not to the
  // workers' gives them another hidden class, and Node's stream code would see both shapes.
  private readonly sockets = new Map<net.Socket, ReadState>();
  private timer: NodeJS.Timeout | null = null;
  private lastTick = 0;

  constructor(
    private config: RequestReadTimeouts,
    private readonly handlers: TimeoutHandlers,
  ) {}

  /** Whether any stage is on: when not, nothing is tracked and requests pay nothing. */
  get enabled(): boolean {
    return this.config.header !== null || this.config.body !== null;
  }

  /** A new configuration (SIGHUP): applies to stages that start from now on. */
  update(config: RequestReadTimeouts): void {
    this.config = config;
  }

  /** A new connection: its first head is timed from now. */
  track(socket: net.Socket): void {
    if (!this.enabled) return;
    const state: ReadState = { stage: 'busy', deadline: 0, maxDeadline: 0, bytes: 0, bytesAtStart: 0, req: null };
    this.begin(state, 'header', this.config.header, socket.bytesRead);
    this.sockets.set(socket, state);
    socket.once('close', () => this.sockets.delete(socket));
    if (this.timer === null) {
      this.lastTick = performance.now();
      this.timer = setInterval(() => this.tick(), TICK_MS);
      this.timer.unref();
    }
  }

  /**
   * A request head was parsed: the body stage begins. For a request without a body the parser
   * marks it complete in the same turn, and the next sample ends the stage.
   */
  headParsed(socket: net.Socket, req: IncomingMessage): void {
    const state = this.sockets.get(socket);
    if (state === undefined) return;
    // The deadline is set by the next sample (0: not started), so a request pays no clock read.
    state.req = req;
    state.stage = 'body';
    state.deadline = 0;
  }

  /** Every request on the connection is answered: the next head is timed from its first byte. */
  idle(socket: net.Socket): void {
    const state = this.sockets.get(socket);
    if (state === undefined) return;
    state.stage = 'idle';
    state.req = null;
    state.bytes = socket.bytesRead;
  }

  private begin(state: ReadState, stage: 'header' | 'body', config: ReadTimeoutStage | null, bytes: number): void {
    if (config === null) {
      state.stage = 'busy';
      return;
    }
    const now = performance.now();
    state.stage = stage;
    state.deadline = now + config.timeout * 1000;
    state.maxDeadline = config.maxTimeout > 0 ? now + config.maxTimeout * 1000 : 0;
    state.bytes = bytes;
    state.bytesAtStart = bytes;
  }

  private tick(): void {
    const now = performance.now();
    const elapsed = now - this.lastTick;
    this.lastTick = now;
    if (this.sockets.size === 0) {
      clearInterval(this.timer!);
      this.timer = null;
      return;
    }
    for (const [socket, state] of this.sockets) {
      switch (state.stage) {
        case 'busy':
          continue;
        case 'idle':
          // The first bytes of the next request: its head is timed from now, and these bytes count.
          if (socket.bytesRead !== state.bytes) {
            const before = state.bytes;
            this.begin(state, 'header', this.config.header, before);
            this.sample(socket, state, this.config.header);
          }
          continue;
        case 'header':
          this.sample(socket, state, this.config.header);
          if (now >= state.deadline && state.stage === 'header') {
            state.stage = 'busy';
            this.handlers.headerTimedOut(socket, socket.bytesRead === state.bytesAtStart);
          }
          continue;
        case 'body': {
          const req = state.req!;
          if (req.complete) {
            state.stage = 'busy';
            continue;
          }
          if (state.deadline === 0) {
            this.begin(state, 'body', this.config.body, socket.bytesRead);
            continue;
          }
          if (req.readableFlowing !== true) {
            // Nobody is reading the body: the client is not the one keeping us waiting.
            state.deadline += elapsed;
            if (state.maxDeadline !== 0) state.maxDeadline += elapsed;
            state.bytes = socket.bytesRead;
            continue;
          }
          this.sample(socket, state, this.config.body);
          if (now >= state.deadline) {
            state.stage = 'busy';
            this.handlers.bodyTimedOut(socket, req);
          }
          continue;
        }
      }
    }
  }

  /** MinRate: every `minRate` bytes since the last sample buy a second, up to the maximum. */
  private sample(socket: net.Socket, state: ReadState, config: ReadTimeoutStage | null): void {
    const bytes = socket.bytesRead;
    const received = bytes - state.bytes;
    state.bytes = bytes;
    if (received <= 0 || config === null || config.minRate === 0) return;
    state.deadline += (received / config.minRate) * 1000;
    if (state.maxDeadline !== 0 && state.deadline > state.maxDeadline) state.deadline = state.maxDeadline;
  }
}
