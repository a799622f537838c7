/**
 * The JSON access log format (the `json` LogFormat nickname, start-server --access-log-format
 * json): one JSON object per line with named fields.
 *
 * Apache's own escaping (\xhh) is not valid JSON, so values are escaped here: the request line
 * and headers arrive as bytes (held as latin-1 strings); bytes that form UTF-8 are written as the
 * characters they encode; other bytes become %XX in the URI and U+FFFD elsewhere; quotes,
 * backslashes and control characters get JSON escapes, so every line parses.
 */
import type { LoggedRequest } from './access-log';
import { timingsOf } from '../ops/request-stats';

/** The nickname (and the format string it stands for). */
export const JSON_LOG_FORMAT = 'json';

const HIGH_BYTES = /[\x80-\xff]/;
/** Anything but printable ASCII other than the quote and the backslash. */
const NOT_PLAIN = /[^\x20\x21\x23-\x5b\x5d-\x7e]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Lenient = new TextDecoder('utf-8');

function quote(value: string): string {
  // Most values need no escaping at all.
  if (!NOT_PLAIN.test(value)) return '"' + value + '"';
  const out = JSON.stringify(value);
  // JSON allows DEL raw; escaped, a line stays printable.
  return out.includes('\x7f') ? out.replace(/\x7f/g, '\\u007f') : out;
}

/** A value that arrived as bytes (a header, the method): UTF-8 decoded, U+FFFD for bytes that are not. */
function wireText(value: string): string {
  if (!NOT_PLAIN.test(value) || !HIGH_BYTES.test(value)) return quote(value);
  return quote(utf8Lenient.decode(Buffer.from(value, 'latin1')));
}

/** The request target: UTF-8 decoded if it is UTF-8, else its high bytes percent-encoded (lossless). */
function wireUri(value: string): string {
  if (!NOT_PLAIN.test(value) || !HIGH_BYTES.test(value)) return quote(value);
  const bytes = Buffer.from(value, 'latin1');
  try {
    return quote(utf8.decode(bytes));
  } catch {
    return quote(value.replace(/[\x80-\xff]/g, (ch) => '%' + ch.charCodeAt(0).toString(16).toUpperCase()));
  }
}

function optionalHeader(value: string | string[] | undefined): string {
  if (value === undefined) return 'null';
  return wireText(Array.isArray(value) ? value.join(', ') : value);
}

function millis(ms: number | null): string {
  return ms === null ? 'null' : (Math.max(0, ms)).toFixed(3);
}

/** One access log line as JSON. */
export function jsonLogLine(r: LoggedRequest): string {
  const record = r.record;
  const req = record.req;
  const conn = record.connection;
  let line =
    '{"time":"' + new Date(record.startMicros / 1000).toISOString() +
    '","request_id":' + wireText(record.id) +
    ',"remote_addr":' + quote(conn.remoteAddress) +
    ',"remote_port":' + conn.remotePort +
    ',"remote_user":' + (record.remoteUser === null ? 'null' : wireText(record.remoteUser)) +
    ',"server_name":' + quote(r.serverName) +
    ',"host":' + optionalHeader(req.headers.host) +
    ',"method":' + wireText(req.method ?? '') +
    ',"uri":' + wireUri(req.url ?? '') +
    ',"protocol":"HTTP/' + req.httpVersion +
    '","status":' + record.status +
    ',"bytes_sent":' + record.bytesSent +
    ',"bytes_out":' + r.bytesOut +
    ',"duration_ms":' + millis((r.endMicros - record.startMicros) / 1000) +
    ',"referer":' + optionalHeader(req.headers.referer) +
    ',"user_agent":' + optionalHeader(req.headers['user-agent']);
  const timing = record.timing;
  if (timing !== null) {
    const { queueMs, appMs } = timingsOf(timing, performance.now());
    line += ',"process_group":' + quote(timing.group.name) + ',"queue_ms":' + millis(queueMs) + ',"app_ms":' + millis(appMs) + ',"pid":' + (timing.pid === 0 ? 'null' : timing.pid);
  }
  return line + '}';
}
