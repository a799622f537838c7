import type { ServerResponse } from 'node:http';
import type { RequestRecord } from './request-record';

/**
 * Makes `res` the last response on its connection although its head (keep-alive) is already out:
 * node's server closes the connection once it has finished and starts no pipelined response after
 * it. For a response that turned out shorter than its Content-Length, whose missing bytes the
 * client would otherwise take from the next response. (`_last` is what node's server checks when
 * a response finishes; shouldKeepAlive only counts until the head is written.)
 */
export function endConnectionAfter(res: ServerResponse): void {
  (res as { _last?: boolean })._last = true;
}

/**
 * Ends a response that cannot be completed: what was already written still goes out, then the
 * connection closes without the end of the body (no final chunk, or short of Content-Length), so
 * the client can tell the response is incomplete.
 */
export function cutResponse(res: ServerResponse): void {
  const socket = res.socket;
  if (socket === null || socket.destroyed) {
    res.destroy();
    return;
  }
  // A head node still holds goes first: a HEAD response's is only written when it ends, and the
  // client must get the status the application gave, not an empty reply.
  res.flushHeaders();
  socket.end();
  // A client that never reads must not keep the socket open for ever.
  setTimeout(() => socket.destroy(), 10_000).unref();
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  416: 'Range Not Satisfiable',
  417: 'Expectation Failed',
  421: 'Misdirected Request',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

const EXPLANATIONS: Record<number, string> = {
  400: 'The server could not understand the request.',
  401: 'This page needs credentials the request did not supply, or supplied wrongly.',
  403: 'You do not have permission to access this resource.',
  404: 'The requested URL was not found on this server.',
  405: 'The method is not allowed for the requested URL.',
  408: 'The server timed out waiting for the request.',
  411: 'A request with a body must say how long it is (Content-Length).',
  412: 'A precondition of the request (If-Match, If-Unmodified-Since) did not hold.',
  413: 'The request body is larger than this server accepts.',
  414: 'The requested URL is longer than this server accepts.',
  416: 'The requested range is not within the file.',
  417: 'The server cannot meet the expectation given in the request.',
  421: 'The client needs a new connection for this request as the requested host name does not match the Server Name Indication (SNI) in use for this connection.',
  431: 'The request headers are larger than this server accepts.',
  500: 'The server met an internal error or misconfiguration and could not complete the request. The error log says more.',
  501: 'The server does not support what the request asks for.',
  502: 'The application process ended before it completed the request.',
  503: 'The server cannot handle the request now; try again later.',
  504: 'The application did not answer in time.',
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? 'Error';
}

export function errorPageBody(status: number, explanation = EXPLANATIONS[status] ?? ''): string {
  const reason = reasonPhrase(status);
  return `<!DOCTYPE html>\n<html><head>\n<title>${status} ${reason}</title>\n</head><body>\n<h1>${reason}</h1>\n<p>${explanation}</p>\n</body></html>\n`;
}

/**
 * Answers with an error page, unless the response has already begun, in which case the
 * connection is cut so the client sees a truncated response rather than a wrong one.
 */
export function sendErrorPage(record: RequestRecord, status: number, headers: Record<string, string> = {}): void {
  const res = record.res;
  if (res.headersSent || res.writableEnded) {
    cutResponse(res);
    return;
  }
  const body = Buffer.from(errorPageBody(status), 'latin1');
  record.status = status;
  record.bytesSent = record.req.method === 'HEAD' ? 0 : body.length;
  const closing = status === 400 || status === 408 || status === 413 || status === 414 || status === 431 || status === 501;
  res.writeHead(status, reasonPhrase(status), {
    ...headers,
    'Content-Type': 'text/html; charset=iso-8859-1',
    'Content-Length': String(body.length),
    ...(closing ? { Connection: 'close' } : {}),
  });
  res.end(body);
}
