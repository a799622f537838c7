import type { IncomingMessage } from 'node:http';

/**
 * Checks on a request body's framing and size that Node's parser leaves to the server. Only
 * requests that carry Transfer-Encoding ever reach this module.
 */

/**
 * Apache 2.4's answer to a Transfer-Encoding the parser let through: null when the codings are
 * exactly "chunked"; 400 when chunked is not the last coding (RFC 9112 section 6.3: the body's
 * length cannot be known, so the connection must close); 501 when chunked is last but other
 * codings come before it (RFC 9112 section 6.1: a coding the server does not understand).
 */
export function transferCodingProblem(transferEncoding: string): { status: 400 | 501; codings: string } | null {
  if (transferEncoding.length === 7 && transferEncoding.toLowerCase() === 'chunked') return null;
  const codings = transferEncoding.split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '');
  if (codings.length === 1 && codings[0] === 'chunked') return null;
  return { status: codings[codings.length - 1] === 'chunked' ? 501 : 400, codings: codings.join(', ') };
}

/**
 * LimitRequestBody for a body whose length nobody announced (chunked): counts the decoded bytes
 * as the parser hands them over, and calls `exceeded` once when they pass `limit`; from then on
 * nothing more of the body is passed on and the socket stops being read. Counting happens in
 * the parser's push, so it works whoever reads the body and whenever they do, without changing
 * how the stream flows.
 */
export function limitChunkedBody(req: IncomingMessage, limit: number, exceeded: (received: number) => void): void {
  const push = req.push;
  let received = 0;
  let over = false;
  req.push = function limitedPush(this: IncomingMessage, chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk === null) return over ? false : push.call(this, chunk, encoding);
    if (over) return false;
    received += (chunk as Buffer).length;
    if (received > limit) {
      over = true;
      exceeded(received);
      return false;
    }
    return push.call(this, chunk, encoding);
  };
}
