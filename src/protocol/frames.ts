/**
 * The framing of the wire protocol between the front end and the Python worker threads.
 *
 * Every message is a frame: one type byte, a 4-byte big-endian payload length, then the payload.
 * Each worker thread owns one UNIX stream connection, so frames of one request are never
 * interleaved with another's. The Python side of this file is python/wsgi_host/protocol.py; the
 * two must agree byte for byte.
 */

export const FRAME_HEADER_SIZE = 5;

/** Larger frames are a protocol violation: they can only come from a corrupted stream. */
export const MAX_FRAME_PAYLOAD = 64 * 1024 * 1024;

/** Front end to worker. */
export const enum ToWorker {
  /** The request: a marshal-encoded environ dict (CGI keys and mod_wsgi.* keys). */
  Head = 0x01,
  /** A piece of the request body. */
  Body = 0x02,
  /** The request body is complete; also ends the request stream when the body was cut short by the response ending. */
  BodyEnd = 0x03,
  /**
   * The oldest ResponseBodyShared piece has been copied out and passed on: its half of the
   * connection's response region may be written again. No payload. A Head frame releases every
   * piece of the previous response (the front end sends one only after taking them all).
   */
  RegionReleased = 0x04,
  /** Sent once, right after HELLO: the front end has opened this connection's response region. */
  RegionAccepted = 0x05,
  /**
   * The answer to ResponseFile: one byte, 1 if the front end opened the file and will send it
   * (the worker may close it now), 0 if the worker must send the bytes itself.
   */
  FileTaken = 0x06,
  /** An auth hook call (access, user or group script), on a hook process's thread. Payload: JSON. */
  AuthCall = 0x07,
  /**
   * The whole request body is in the connection's shared region: offset and length (u32 BE
   * each). Only right after a Head with HeadFlags.BodyInRegion, and followed by BodyEnd; the
   * worker copies the body out before it runs the application.
   */
  BodyShared = 0x08,
  /** Control connection: finish running requests, then exit. Payload: reason (ASCII). */
  Shutdown = 0x20,
  /** Control connection: write the Python stack of every thread to the log. Payload: why (UTF-8). */
  DumpStacks = 0x21,
  /** Control connection: raise RequestTimeout in a request thread. Payload: its index (ASCII). */
  Interrupt = 0x22,
  /** Process control connection: start the interpreter of an application group. Payload: its name (UTF-8). */
  CreateInterpreter = 0x23,
}

/** Worker to front end. */
export const enum FromWorker {
  /** Status line and headers: latin-1 "200 OK\0Name\0Value\0Name\0Value". */
  ResponseHead = 0x11,
  /** A piece of the response body. */
  ResponseBody = 0x12,
  /** The response is complete. */
  ResponseEnd = 0x13,
  /**
   * The request failed in the worker. Payload: ASCII status code. Before the head was sent the
   * front end answers with that status; after it, the client connection is cut so the client sees
   * a truncated response rather than a wrong one.
   */
  ResponseFail = 0x14,
  /** A log record: one level byte (see LogLevelCode) then UTF-8 text, possibly several lines. */
  Log = 0x15,
  /** The application started reading wsgi.input: send "100 Continue" and the body. */
  WantBody = 0x16,
  /** The process's code is out of date (its script changed): run this request in a fresh process. */
  Reload = 0x17,
  /**
   * A piece of the response body left in the connection's shared response region rather than
   * sent through the socket. Payload: offset and length, each a 4-byte big-endian integer.
   */
  ResponseBodyShared = 0x18,
  /**
   * WSGIEnableSendfile: the rest of the body is part of a regular file the worker has open.
   * Payload: its descriptor in the worker (4 bytes), offset and length (8 bytes each), big-endian.
   * The worker waits for FileTaken before closing it.
   */
  ResponseFile = 0x19,
  /** The outcome of an auth hook call. Payload: JSON. */
  AuthResult = 0x1a,
  /**
   * First frame on every connection: JSON {token, pid, role, thread, tid, applicationGroup, region?}.
   * Roles: 'control' (the process, and its main interpreter), 'interpreter' (the control
   * connection of another application group's interpreter), 'request' (a serving thread of the
   * interpreter of applicationGroup).
   */
  Hello = 0x30,
  /**
   * Control connection: the process (or interpreter) has finished starting and preloading and
   * takes requests. A process's payload says how it runs application groups: JSON
   * {applicationGroups: 'sub-interpreters' | 'processes', why?, module?}.
   */
  Ready = 0x31,
  /** Control connection: replace this process. Payload: JSON {reason, immediate}. */
  Restart = 0x32,
  /** Control connection: the interpreter is alive (sent every second from a thread that needs the GIL). */
  Heartbeat = 0x33,
  /** Process control connection: an application group's interpreter could not be started. Payload: JSON {applicationGroup, message}. */
  InterpreterFailed = 0x34,
}

/** Head flags: how the front end runs the request. */
export const enum HeadFlags {
  /** The body is sent only once the worker asks for it (WantBody). */
  BodyOnRequest = 1,
  /** WSGIScriptReloading On: the worker checks the script for changes before running it. */
  ScriptReloading = 2,
  /** WSGIEnableSendfile On: the worker may hand a wsgi.file_wrapper's file to the front end. */
  Sendfile = 4,
  /** A BodyShared frame follows: the body is in the shared region, not on the socket. */
  BodyInRegion = 8,
  /**
   * Sent while the thread's previous request was still running (ThreadSlot.assignAhead): unlike
   * other heads it does not release the shared region; RegionReleased frames follow for whatever
   * the previous response left there.
   */
  Ahead = 16,
  /**
   * Pieces of the previous response are still lent to a client socket (ThreadSlot.lendRegionPiece):
   * the head does not release the shared region; RegionReleased frames follow as the socket is
   * done with each piece.
   */
  RegionHeld = 32,
}

/** Log levels as carried in Log frames; the numbers are Apache's (syslog) severities. */
export const LOG_LEVEL_NAMES = ['emerg', 'alert', 'crit', 'error', 'warn', 'notice', 'info', 'debug'] as const;

export interface Frame {
  type: number;
  payload: Buffer;
}

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** Writes a frame header at `offset` of `target`. */
export function writeFrameHeader(target: Buffer, offset: number, type: number, length: number): void {
  target[offset] = type;
  target.writeUInt32BE(length, offset + 1);
}

export function encodeFrame(type: number, payload?: Buffer | string): Buffer {
  const body = payload === undefined ? EMPTY : typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const out = Buffer.allocUnsafe(FRAME_HEADER_SIZE + body.length);
  writeFrameHeader(out, 0, type, body.length);
  body.copy(out, FRAME_HEADER_SIZE);
  return out;
}

const EMPTY = Buffer.alloc(0);

/**
 * Splits a byte stream into frames. Chunks are kept as they arrive and only joined when a frame
 * straddles them, and then only once the whole frame is there, so a large frame arriving in many
 * reads is copied once rather than once per read.
 */
export class FrameDecoder {
  private parts: Buffer[] = [];
  private partsLength = 0;
  /** Bytes needed before the held parts can yield a frame (a header, or a whole frame). */
  private needed = FRAME_HEADER_SIZE;

  /** Feeds bytes; calls `onFrame` for each complete frame. Throws ProtocolError on a corrupt stream. */
  push(chunk: Buffer, onFrame: (type: number, payload: Buffer) => void): void {
    let buf = chunk;
    if (this.partsLength > 0) {
      this.parts.push(chunk);
      this.partsLength += chunk.length;
      if (this.partsLength < this.needed) return;
      buf = Buffer.concat(this.parts, this.partsLength);
      this.parts = [];
      this.partsLength = 0;
    }
    let offset = 0;
    const end = buf.length;
    this.needed = FRAME_HEADER_SIZE;
    while (end - offset >= FRAME_HEADER_SIZE) {
      const type = buf[offset]!;
      const length = buf.readUInt32BE(offset + 1);
      if (length > MAX_FRAME_PAYLOAD) {
        throw new ProtocolError(`frame of ${length} bytes (type 0x${type.toString(16)}) exceeds the ${MAX_FRAME_PAYLOAD}-byte limit`);
      }
      const frameEnd = offset + FRAME_HEADER_SIZE + length;
      if (frameEnd > end) {
        this.needed = FRAME_HEADER_SIZE + length;
        break;
      }
      onFrame(type, buf.subarray(offset + FRAME_HEADER_SIZE, frameEnd));
      offset = frameEnd;
    }
    if (offset < end) {
      this.parts.push(buf.subarray(offset));
      this.partsLength = end - offset;
    }
  }

  /** Bytes received that do not yet form a whole frame. */
  get bufferedBytes(): number {
    return this.partsLength;
  }
}
