import type { ServerResponse } from 'node:http';
import { accessLogTime, nowMicros } from './apache-time';
import type { LineSink } from './sink';
import type { RequestRecord } from '../front/request-record';
import { JSON_LOG_FORMAT, jsonLogLine } from './json-log-format';

/** Apache's predefined LogFormat nicknames. */
export const LOG_FORMAT_NICKNAMES: Record<string, string> = {
  common: '%h %l %u %t "%r" %>s %b',
  combined: '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"',
  vhost_combined: '%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"',
  referer: '%{Referer}i -> %U',
  agent: '%{User-Agent}i',
  /** wsgi-host's JSON lines (json-log-format.ts): the nickname stands for itself. */
  json: JSON_LOG_FORMAT,
};

/** What a format directive reads when the request is done. */
export interface LoggedRequest {
  record: RequestRecord;
  /** Epoch microseconds when the response finished. */
  endMicros: number;
  serverName: string;
  /** Bytes written to the client socket for this request, headers included (%O). */
  bytesOut: number;
}

type Piece = (r: LoggedRequest) => string;

export class LogFormatError extends Error {}

/** Escapes a value as Apache's ap_escape_logitem does: controls and high bytes as \xhh, quote and backslash escaped. */
export function escapeLogItem(value: string): string {
  return value.replace(/[\x00-\x1f\x7f-\xff"\\]/g, (ch) => {
    switch (ch) {
      case '"':
        return '\\"';
      case '\\':
        return '\\\\';
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      case '\t':
        return '\\t';
      default:
        return '\\x' + ch.charCodeAt(0).toString(16).padStart(2, '0');
    }
  });
}

function dash(value: string | null | undefined): string {
  return value === null || value === undefined || value === '' ? '-' : escapeLogItem(value);
}

function headerValue(headers: Record<string, string | string[] | number | undefined>, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(', ') : String(value);
}

function requestLine(r: LoggedRequest): string {
  const req = r.record.req;
  return escapeLogItem(`${req.method ?? ''} ${req.url ?? ''} HTTP/${req.httpVersion}`);
}

function simpleDirective(letter: string): Piece | null {
  switch (letter) {
    case 'h':
    case 'a':
      return (r) => r.record.connection.remoteAddress;
    case 'A':
      return (r) => r.record.connection.localAddress;
    case 'l':
      return () => '-';
    case 'u':
      return (r) => dash(r.record.remoteUser);
    case 't':
      return (r) => `[${accessLogTime(r.record.startMicros / 1000)}]`;
    case 'r':
      return requestLine;
    case 's':
      return (r) => String(r.record.status);
    case 'b':
      return (r) => (r.record.bytesSent === 0 ? '-' : String(r.record.bytesSent));
    case 'B':
      return (r) => String(r.record.bytesSent);
    case 'O':
      return (r) => String(r.bytesOut);
    case 'D':
      return (r) => String(Math.max(0, Math.round(r.endMicros - r.record.startMicros)));
    case 'T':
      return (r) => String(Math.floor((r.endMicros - r.record.startMicros) / 1e6));
    case 'm':
      return (r) => escapeLogItem(r.record.req.method ?? '');
    case 'U':
      return (r) => escapeLogItem((r.record.req.url ?? '').split('?')[0]!);
    case 'q': {
      return (r) => {
        const url = r.record.req.url ?? '';
        const at = url.indexOf('?');
        return at >= 0 ? escapeLogItem(url.slice(at)) : '';
      };
    }
    case 'H':
      return (r) => `HTTP/${r.record.req.httpVersion}`;
    case 'v':
      return (r) => escapeLogItem(r.serverName);
    case 'V':
      // UseCanonicalName Off (the only way here): the name the request asked for.
      return (r) => escapeLogItem(r.record.hostName ?? r.serverName);
    case 'p':
      return (r) => String(r.record.connection.localPort);
    case 'P':
      return () => String(process.pid);
    case 'L':
      // A trusted proxy's id is visible ASCII, but may hold a quote or backslash.
      return (r) => escapeLogItem(r.record.id);
    case 'X':
      // `_last`: node's server closes the connection after this response (set when the head said
      // Connection: close, or after the head when the response turned out short).
      return (r) => (r.record.res.destroyed && !r.record.res.writableFinished ? 'X' : (r.record.res as { _last?: boolean })._last === true ? '-' : '+');
    case '%':
      return () => '%';
    default:
      return null;
  }
}

/**
 * A response header as it went out: set with setHeader, or passed to writeHead as a list (the
 * WSGI responses and redirects are), which only the head node wrote keeps.
 */
function responseHeader(res: ServerResponse, name: string): string | undefined {
  const value = res.getHeader(name);
  if (value !== undefined) return Array.isArray(value) ? value.join(', ') : String(value);
  const head = (res as { _header?: string | null })._header;
  if (typeof head !== 'string') return undefined;
  const wanted = name.toLowerCase();
  const values: string[] = [];
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).toLowerCase() === wanted) values.push(line.slice(colon + 1).trim());
  }
  return values.length === 0 ? undefined : values.join(', ');
}

function argumentDirective(letter: string, arg: string): Piece | null {
  switch (letter) {
    case 'i':
      return (r) => dash(headerValue(r.record.req.headers, arg));
    case 'o':
      return (r) => dash(responseHeader(r.record.res, arg));
    case 'e':
      return (r) => dash(r.record.env[arg] ?? process.env[arg]);
    case 'T': {
      const divisor = arg === 'ms' ? 1000 : arg === 'us' ? 1 : arg === 's' ? 1e6 : null;
      if (divisor === null) return null;
      return (r) => String(Math.floor((r.endMicros - r.record.startMicros) / divisor));
    }
    case 't':
      return null;
    default:
      return null;
  }
}

/** Compiles an Apache LogFormat string (or nickname) into a function; throws LogFormatError. */
export function compileLogFormat(format: string): (r: LoggedRequest) => string {
  const source = LOG_FORMAT_NICKNAMES[format] ?? format;
  if (source === JSON_LOG_FORMAT) return jsonLogLine;
  const pieces: Piece[] = [];
  let literal = '';
  for (let i = 0; i < source.length; i++) {
    const ch = source[i]!;
    if (ch !== '%') {
      literal += ch;
      continue;
    }
    if (literal) {
      const text = literal;
      pieces.push(() => text);
      literal = '';
    }
    i++;
    // Status conditions (%400,501{User-agent}i) and the original/final modifiers (< >) are accepted.
    while (i < source.length && /[<>!0-9,]/.test(source[i]!)) i++;
    let arg: string | null = null;
    if (source[i] === '{') {
      const close = source.indexOf('}', i);
      if (close < 0) throw new LogFormatError(`unterminated %{...} in log format "${format}"`);
      arg = source.slice(i + 1, close);
      i = close + 1;
    }
    const letter = source[i];
    if (letter === undefined) throw new LogFormatError(`log format "${format}" ends with an incomplete % directive`);
    const piece = arg === null ? simpleDirective(letter) : argumentDirective(letter, arg);
    if (piece === null) {
      throw new LogFormatError(`unsupported directive %${arg === null ? '' : `{${arg}}`}${letter} in log format "${format}"`);
    }
    pieces.push(piece);
  }
  if (literal) {
    const text = literal;
    pieces.push(() => text);
  }
  return (r) => {
    let out = '';
    for (const piece of pieces) out += piece(r);
    return out;
  };
}

export class AccessLog {
  private readonly format: (r: LoggedRequest) => string;

  constructor(
    private readonly sink: LineSink,
    format: string,
  ) {
    this.format = compileLogFormat(format);
  }

  get description(): string {
    return this.sink.description;
  }

  log(record: RequestRecord, serverName: string, bytesOut: number): void {
    this.sink.write(this.format({ record, endMicros: nowMicros(), serverName, bytesOut }));
  }

  flush(): void {
    this.sink.flush();
  }

  close(): void {
    this.sink.close();
  }
}
