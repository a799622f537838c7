/**
 * Conformance test against gunicorn's corpus of valid and invalid raw HTTP requests
 * (test/fixtures/gunicorn-requests, see its README.md).
 *
 * One server runs test/apps/echo_request.wsgi for the whole file. Each fixture's bytes are sent
 * exactly as given on a new connection (no Connection: close added, no half-close unless a row
 * below says so), and the responses are read until the expected ones are complete, the server
 * closes, or nothing arrives for a while.
 *
 * - valid: every request the fixture lists gets a 200, in order, and the echoed request line,
 *   headers (as environ keys, mod_wsgi's rules) and body equal gunicorn's parse.
 * - invalid: the answer is one 4xx/5xx response (or, for errors in the body, no 2xx before the
 *   connection closes); for errors in the head the application is never called.
 *
 * Whether the application was called is read from the error log: echo_request.wsgi writes
 * "echo_request called: remote_port=PORT ..." to wsgi.errors on every call, and after each
 * exchange a probe request (whose own marker line is awaited) makes sure every earlier line has
 * reached the captured log.
 *
 * A fixture holding an HTTP/1.1 request without Host also runs a second time with
 * "Host: example.com" added after the request line ("+Host"): wsgi-host, like Apache, answers
 * 400 to the bytes as they are (RFC 9112 section 3.2), and the variant checks that the rest of
 * the request is parsed (or rejected) as gunicorn does.
 *
 * Where wsgi-host differs from gunicorn's expectation for a good reason (gunicorn settings, or a
 * gunicorn policy where Apache/mod_wsgi, Node's llhttp or RFC 9112 choose otherwise), the test
 * name is in KNOWN_DIFFERENCES with a reason and what wsgi-host does instead, which is asserted.
 * Where wsgi-host is wrong, the test name is in SERVER_BUGS: the test asserts the right behaviour
 * and is marked todo, so the suite passes while the bug stands and reports when it is fixed.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { app, ROOT, serverFixture, type RunningServer } from '../helpers/server';

// -- the corpus ------------------------------------------------------------------------------

interface ExpectedRequest {
  method: string;
  uri: string;
  path: string;
  query: string;
  fragment: string;
  version: string;
  headers: [string, string][];
  body_latin1: string;
  trailers?: [string, string][];
}

interface Fixture {
  id: string;
  kind: 'valid' | 'invalid';
  gunicorn_settings: Record<string, unknown>;
  raw_latin1: string;
  requests?: ExpectedRequest[];
  error?: string;
  error_stage?: 'head' | 'body';
}

const CORPUS = path.join(ROOT, 'test', 'fixtures', 'gunicorn-requests');

function loadCorpus(): Fixture[] {
  const fixtures: Fixture[] = [];
  for (const kind of ['valid', 'invalid'] as const) {
    for (const file of fs.readdirSync(path.join(CORPUS, kind)).filter((f) => f.endsWith('.json')).sort()) {
      fixtures.push(JSON.parse(fs.readFileSync(path.join(CORPUS, kind, file), 'utf8')) as Fixture);
    }
  }
  return fixtures;
}

// -- what to expect --------------------------------------------------------------------------

/** Fields of an echo (see echo_request.wsgi) to compare; `headers` is compared whole. */
interface EchoCheck {
  REQUEST_METHOD?: string;
  REQUEST_URI?: string;
  PATH_INFO?: string;
  QUERY_STRING?: string;
  SERVER_PROTOCOL?: string;
  SERVER_NAME?: string;
  headers?: Record<string, string>;
  body_latin1?: string;
}

/** What wsgi-host does with one exchange. */
interface Outcome {
  /** Status codes of the responses, in order; [] means no response at all. */
  statuses: number[];
  /**
   * How many times the application is called; left out where it is a race (an error in a
   * streamed body can be found before or after the request reaches a worker thread).
   */
  calls?: number;
  /** Per response: the echo to check, 'fixture' for the fixture's own parse of that request, null for none. */
  echoes?: (EchoCheck | 'fixture' | null)[];
  /** The connection is closed by the server at the end (default: not checked). */
  closes?: boolean;
  /** Also: what happens when the client half-closes (EOF) after the bytes, as gunicorn's harness ends its input. */
  atEof?: Omit<Outcome, 'atEof'>;
}

interface KnownDifference extends Outcome {
  reason: string;
}

const NO_HOST = 'HTTP/1.1 request without Host: RFC 9112 section 3.2 (and Apache) require 400; gunicorn accepts it';
const NO_CONNECT = 'CONNECT: wsgi-host is not a forward proxy, so it answers 501 Not Implemented (RFC 9110 section 9.1) and closes the connection';
const CHUNKED_NOT_FINAL = 'chunked not the final transfer coding: exactly 400 and the connection closes (RFC 9112 section 6.3), not 501 as for an unknown coding';
const LIMITS = "wsgi-host applies Apache's defaults, LimitRequestFieldSize 8190 (name, colon, space and value) and LimitRequestFields 100, like gunicorn's defaults";
const CHUNK_EXT_BWS = 'llhttp rejects whitespace around ";" in a chunk extension (400), which RFC 9112 section 7.1.1 allows as BWS';
const STRIP_SPACES = 'gunicorn setting strip_header_spaces; whitespace before ":" gets 400, as RFC 9112 section 5.1 requires';
const UNKNOWN_METHOD = 'llhttp accepts only the methods it knows, so "-BLARGH" gets 400 (gunicorn accepts any token)';
const OBS_FOLD = 'gunicorn setting permit_obsolete_folding; llhttp rejects obs-fold with 400, which RFC 9112 section 5.2 allows';
const NO_PROXY_PROTOCOL = 'gunicorn setting proxy_protocol; wsgi-host speaks no PROXY protocol, so the PROXY line is a bad request: 400';
const UNKNOWN_CODING = 'a transfer coding before chunked (gzip, identity): 501 Not Implemented, as Apache 2.4 answers (RFC 9112 section 6.1); gunicorn decodes the chunked framing and ignores the other coding';
const TRAILERS_IGNORED = 'wsgi-host (like Apache with MergeTrailers off) never uses trailer fields, so a forbidden field there is harmless and the request succeeds';

/**
 * Where wsgi-host's answer differs from gunicorn's expectation and wsgi-host is right (or
 * within what RFC 9112 allows), keyed by test name. The outcome is what wsgi-host does.
 */
const KNOWN_DIFFERENCES: Record<string, KnownDifference> = {
  // ---- valid fixtures that wsgi-host answers differently ----
  'valid/004': { reason: NO_HOST, statuses: [400], calls: 0 },
  'valid/005': { reason: NO_HOST, statuses: [400], calls: 0 },
  'valid/006': { reason: NO_HOST, statuses: [400], calls: 0 },
  'valid/007': { reason: NO_HOST, statuses: [400], calls: 0 },
  'valid/009': { reason: NO_HOST, statuses: [400], calls: 0 },
  'valid/010': { reason: NO_HOST, statuses: [400], calls: 0 },
  'valid/011': { reason: NO_HOST, statuses: [400], calls: 0 },
  'valid/012': { reason: NO_HOST, statuses: [400], calls: 0 },
  'valid/009 +Host': {
    reason: 'Transfer-Encoding: identity plus Content-Length: llhttp answers 400, as RFC 9112 section 6.1 allows ("identity" is no transfer coding any more; Apache too answers 400 when chunked is not last)',
    statuses: [400],
    calls: 0,
  },
  'valid/013 +Host': { reason: CHUNK_EXT_BWS, statuses: [400], closes: true },
  'valid/014': { reason: NO_HOST, statuses: [400], calls: 0 },
  'valid/018': { reason: NO_HOST, statuses: [400], calls: 0, closes: true },
  'valid/022': { reason: `${NO_HOST} (here: the second request)`, statuses: [200, 400], calls: 1, echoes: ['fixture', null] },
  'valid/023': { reason: NO_HOST, statuses: [400], calls: 0 },
  'valid/024': { reason: `gunicorn settings limit_request_line=0/limit_request_field_size=0 lift its limits; ${LIMITS}, so the oversized field gets 400`, statuses: [400], calls: 0, closes: true },
  'valid/025': { reason: NO_HOST, statuses: [400], calls: 0 },
  'valid/025_line': { reason: NO_HOST, statuses: [400], calls: 0 },
  'valid/026': { reason: `gunicorn setting limit_request_field_size raises its limit; ${LIMITS}, so the oversized field gets 400`, statuses: [400], calls: 0, closes: true },
  'valid/027': { reason: 'llhttp rejects bytes >= 0x80 in the request-target with 400; RFC 9112 section 3.2 allows only URI characters (ASCII) there', statuses: [400], calls: 0 },
  'valid/028': { reason: STRIP_SPACES, statuses: [400], calls: 0 },
  'valid/028 +Host': { reason: STRIP_SPACES, statuses: [400], calls: 0 },
  'valid/029': { reason: NO_HOST, statuses: [400], calls: 0 },
  'valid/030': { reason: NO_HOST, statuses: [400], calls: 0 },
  'valid/031': { reason: UNKNOWN_METHOD, statuses: [400], calls: 0 },
  'valid/031 +Host': { reason: UNKNOWN_METHOD, statuses: [400], calls: 0 },
  'valid/031compat': { reason: `gunicorn settings permit_unconventional_http_method/casefold_http_method; ${UNKNOWN_METHOD}`, statuses: [400], calls: 0 },
  'valid/031compat +Host': { reason: `gunicorn settings permit_unconventional_http_method/casefold_http_method; ${UNKNOWN_METHOD}`, statuses: [400], calls: 0 },
  'valid/031compat2': { reason: `gunicorn setting permit_unconventional_http_method; ${UNKNOWN_METHOD}`, statuses: [400], calls: 0 },
  'valid/031compat2 +Host': { reason: `gunicorn setting permit_unconventional_http_method; ${UNKNOWN_METHOD}`, statuses: [400], calls: 0 },
  'valid/040_compat': {
    reason: 'gunicorn setting header_map=dangerous passes "_" header names; mod_wsgi drops them, so the environ is the default parse (as valid/040)',
    statuses: [200],
    calls: 1,
    echoes: [{ headers: { CONTENT_LENGTH: '7' }, body_latin1: 'tricked' }],
  },
  'valid/099': {
    reason: 'the fixture holds 8599 of the 17914 body bytes its Content-Length announces: a live server waits for the rest (no answer); at EOF it answers 400',
    statuses: [],
    calls: 0,
    atEof: { statuses: [400], calls: 0 },
  },
  'valid/100': { reason: NO_HOST, statuses: [400], calls: 0 },
  'valid/compat_obs_fold': { reason: OBS_FOLD, statuses: [400], calls: 0 },
  'valid/compat_obs_fold_huge': { reason: OBS_FOLD, statuses: [400], calls: 0 },
  'valid/compat_obs_fold_huge +Host': { reason: OBS_FOLD, statuses: [400], calls: 0 },
  'valid/pp_01': { reason: NO_PROXY_PROTOCOL, statuses: [400], calls: 0 },
  'valid/pp_02': { reason: NO_PROXY_PROTOCOL, statuses: [400], calls: 0 },
  'valid/pp_02 +Host': { reason: NO_PROXY_PROTOCOL, statuses: [400], calls: 0 },
  'valid/pp_03': { reason: 'gunicorn setting proxy_protocol (a request without the PROXY header); plain HTTP, so wsgi-host parses it as gunicorn does', statuses: [200], calls: 1, echoes: ['fixture'] },
  'valid/pp_04': { reason: NO_PROXY_PROTOCOL + ' (v2 binary header)', statuses: [400], calls: 0 },
  'valid/pp_05': { reason: NO_PROXY_PROTOCOL + ' (v2 binary header)', statuses: [400], calls: 0 },
  'valid/025 +Host': { reason: UNKNOWN_CODING, statuses: [501], calls: 0, closes: true },
  'valid/025_line +Host': { reason: UNKNOWN_CODING, statuses: [501], calls: 0, closes: true },
  'valid/029 +Host': { reason: UNKNOWN_CODING, statuses: [501], calls: 0, closes: true },
  'valid/030 +Host': { reason: UNKNOWN_CODING, statuses: [501], calls: 0, closes: true },
  'valid/rfc9112_smuggle_gzip_chunked_01': { reason: UNKNOWN_CODING, statuses: [501], calls: 0, closes: true },
  'valid/rfc9112_smuggle_te_identity_chunked_01': { reason: UNKNOWN_CODING, statuses: [501], calls: 0, closes: true },
  'valid/rfc9112_target_authority_connect_01': { reason: NO_CONNECT, statuses: [501], calls: 0, closes: true },
  'valid/rfc9112_target_authority_ipv6_01': { reason: NO_CONNECT, statuses: [501], calls: 0, closes: true },

  // ---- invalid fixtures that wsgi-host accepts, or answers otherwise ----
  'invalid/001': {
    reason: "gunicorn's NoMoreData is EOF inside the head: on a live connection the head is just incomplete and the server waits; at EOF it answers 400",
    statuses: [],
    calls: 0,
    atEof: { statuses: [400], calls: 0 },
  },
  'invalid/006': { reason: "gunicorn's limit_request_line is 4094; Apache's LimitRequestLine is 8190 and Node's head limit 16 KiB, so this 4112-byte line is accepted", statuses: [200], calls: 1 },
  'invalid/008': { reason: `${LIMITS}: two Someheader fields of 8189 and 4108 bytes are accepted and joined (each is within Apache's 8190 too)`, statuses: [200], calls: 1 },
  'invalid/010 +Host': { reason: 'gunicorn setting limit_request_field_size=10; wsgi-host has no such limit', statuses: [200], calls: 1 },
  'invalid/011': { reason: 'gunicorn setting limit_request_fields=2; wsgi-host has no such limit', statuses: [200], calls: 1 },
  'invalid/012': { reason: 'gunicorn setting limit_request_field_size=98; wsgi-host has no such limit', statuses: [200], calls: 1 },
  'invalid/013': { reason: 'gunicorn settings limit_request_field_size/permit_obsolete_folding; llhttp rejects the obs-fold itself with 400', statuses: [400], calls: 0 },
  'invalid/017 +Host': { reason: LIMITS + ': an 8189-byte field is accepted', statuses: [200], calls: 1 },
  'invalid/019': { reason: 'gunicorn setting forwarded_allow_ips (it checks X-Forwarded-*); rejected here only for the missing Host', statuses: [400], calls: 0 },
  'invalid/019 +Host': { reason: 'gunicorn setting forwarded_allow_ips; wsgi-host, like mod_wsgi, passes X-Forwarded-* to the application untouched', statuses: [200], calls: 1 },
  'invalid/040': { reason: 'gunicorn setting header_map=refuse; mod_wsgi drops "_" header names instead of refusing the request', statuses: [200], calls: 1, echoes: [{ headers: { CONTENT_LENGTH: '7' }, body_latin1: 'tricked' }] },
  'invalid/041': {
    reason: 'Apache/mod_wsgi join repeated fields with ", " whatever the field; gunicorn refuses a repeated Content-Type',
    statuses: [200],
    calls: 1,
    echoes: [{ headers: { CONTENT_TYPE: 'application/json, text/html', HTTP_HOST: 'localhost' } }],
  },
  'invalid/chunked_05': { reason: 'HTTP/1.0 with Transfer-Encoding: chunked: RFC 9112 section 6.1 says to treat the framing as faulty and close after processing it; Apache decodes it too', statuses: [200], calls: 1, echoes: [{ body_latin1: 'hello world' }] },
  'invalid/chunked_07 +Host': { reason: 'gunicorn setting header_map=refuse; mod_wsgi drops "Transfer_Encoding" and the request is a plain chunked one', statuses: [200], calls: 1, echoes: [{ body_latin1: 'hello world' }] },
  'invalid/limit_header_default_01': { reason: LIMITS + ': an 8190-byte field is accepted', statuses: [200], calls: 1 },
  'invalid/pp_01': { reason: NO_PROXY_PROTOCOL, statuses: [400], calls: 0 },
  'invalid/pp_02': { reason: NO_PROXY_PROTOCOL, statuses: [400], calls: 0 },
  'invalid/pp_03': { reason: NO_PROXY_PROTOCOL, statuses: [400], calls: 0 },
  'invalid/rfc9110_trailer_forbidden_host_01': { reason: TRAILERS_IGNORED, statuses: [200], calls: 1, echoes: [{ body_latin1: 'hello', headers: { HTTP_HOST: 'example.com', HTTP_TRANSFER_ENCODING: 'chunked' } }] },
  'invalid/rfc9112_chunked_missing_final_crlf_01': {
    reason: "gunicorn's ChunkMissingTerminator is EOF before the end of the trailer section: on a live connection the server waits for it (no answer; the body is not complete, so with request body spooling the application is not called yet); at EOF it answers 400",
    statuses: [],
    calls: 0,
    atEof: { statuses: [400] },
  },
  'invalid/rfc9112_target_asterisk_non_options_01': {
    reason: 'asterisk-form with GET: Apache core, and so wsgi-host, pass "*" to the handler whatever the method (RFC 9112 section 3.2.4 means it for OPTIONS only)',
    statuses: [200],
    calls: 1,
    echoes: [{ REQUEST_URI: '*', PATH_INFO: '*' }],
  },
  'valid/013': { reason: 'HTTP/1.1 without Host: 400 and the connection closes; nothing after it on the connection is answered (one request, one answer)', statuses: [400], calls: 0, closes: true },
  'valid/021': { reason: 'HTTP/1.1 without Host: 400 and the connection closes; nothing after it on the connection is answered (one request, one answer)', statuses: [400], calls: 0, closes: true },
  'invalid/chunked_03': { reason: CHUNKED_NOT_FINAL, statuses: [400], calls: 0, closes: true },
  'invalid/chunked_03 +Host': { reason: CHUNKED_NOT_FINAL, statuses: [400], calls: 0, closes: true },
  'invalid/chunked_04': { reason: CHUNKED_NOT_FINAL, statuses: [400], calls: 0, closes: true },
  'invalid/chunked_04 +Host': { reason: CHUNKED_NOT_FINAL, statuses: [400], calls: 0, closes: true },
  'invalid/chunked_06': { reason: CHUNKED_NOT_FINAL, statuses: [400], calls: 0, closes: true },
  'invalid/chunked_06 +Host': { reason: CHUNKED_NOT_FINAL, statuses: [400], calls: 0, closes: true },
  'invalid/chunked_08': { reason: CHUNKED_NOT_FINAL, statuses: [400], calls: 0, closes: true },
  'invalid/chunked_08 +Host': { reason: CHUNKED_NOT_FINAL, statuses: [400], calls: 0, closes: true },
  'invalid/version_02': {
    reason: 'llhttp accepts HTTP/2.0 in an HTTP/1 request line and the application sees SERVER_PROTOCOL HTTP/2.0 (RFC 9112 section 2.3 allows, not requires, 505)',
    statuses: [200],
    calls: 1,
    echoes: [{ SERVER_PROTOCOL: 'HTTP/2.0', REQUEST_URI: '/foo' }],
  },
};

/**
 * Where wsgi-host is wrong, keyed by test name: the test asserts `shouldBe` (default: the
 * fixture's own expectation) and is marked todo, so the suite passes while the bug stands and
 * reports when it is fixed. Empty now: the bugs this corpus found were fixed (a 400 overtaking or
 * following the answer to an earlier request on the connection, two Host fields accepted,
 * chunked-not-last answered 501).
 */
const SERVER_BUGS: Record<string, { bug: string; shouldBe?: Outcome }> = {};

// -- the exchange ----------------------------------------------------------------------------

interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

interface Exchange {
  responses: HttpResponse[];
  /** Bytes after the last complete response (an incomplete or unparsable response). */
  rest: Buffer;
  /** The server closed the connection. */
  closed: boolean;
  clientPort: number;
  /** Error-log lines written for this exchange by echo_request.wsgi. */
  calls: number;
  /** The error log written meanwhile (the probe's lines left out). */
  log: string[];
  raw: Buffer;
}

/** Parses as many complete responses as `data` holds. */
function parseResponses(data: Buffer, eof: boolean): { responses: HttpResponse[]; rest: Buffer } {
  const responses: HttpResponse[] = [];
  let at = 0;
  for (;;) {
    const headEnd = data.indexOf('\r\n\r\n', at, 'latin1');
    if (headEnd < 0) break;
    const lines = data.toString('latin1', at, headEnd).split('\r\n');
    const statusLine = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0]!);
    if (statusLine === null) break;
    const status = Number(statusLine[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const bodyStart = headEnd + 4;
    let body: Buffer;
    if (status >= 100 && status < 200) {
      at = bodyStart;
      continue;
    }
    if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = [];
      let pos = bodyStart;
      let end = -1;
      for (;;) {
        const lineEnd = data.indexOf('\r\n', pos, 'latin1');
        if (lineEnd < 0) break;
        const size = parseInt(data.toString('latin1', pos, lineEnd), 16);
        if (Number.isNaN(size)) break;
        if (size === 0) {
          // The last chunk, then trailer fields (none, as a rule) and an empty line.
          const trailersEnd = data.indexOf('\r\n\r\n', lineEnd, 'latin1');
          if (trailersEnd >= 0) end = trailersEnd + 4;
          break;
        }
        if (lineEnd + 2 + size + 2 > data.length) break;
        parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
        pos = lineEnd + 2 + size + 2;
      }
      if (end < 0) break;
      body = Buffer.concat(parts);
      at = end;
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (bodyStart + length > data.length) break;
      body = data.subarray(bodyStart, bodyStart + length);
      at = bodyStart + length;
    } else if (status === 204 || status === 304) {
      body = Buffer.alloc(0);
      at = bodyStart;
    } else {
      if (!eof) break;
      body = data.subarray(bodyStart);
      at = data.length;
    }
    responses.push({ status, headers, body });
  }
  return { responses, rest: data.subarray(at) };
}

const IDLE_MS = 400;
const GRACE_MS = 60;
/** How long to wait for a response that is expected but has not come (a loaded machine is slow). */
const PATIENT_MS = 5000;

/**
 * Sends `bytes` on a new connection and reads until `expected` complete responses are in (then
 * until the server closes if the last one says "Connection: close", else a short grace for
 * anything unexpected), the server closes, or IDLE_MS pass without data.
 */
function exchange(port: number, bytes: Buffer, expected: number, halfClose: boolean): Promise<Omit<Exchange, 'calls' | 'log'>> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | null = null;
    let closed = false;
    let finished = false;
    let clientPort = 0;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      if (timer !== null) clearTimeout(timer);
      socket.destroy();
      const raw = Buffer.concat(chunks);
      const { responses, rest } = parseResponses(raw, closed);
      resolve({ responses, rest, closed, clientPort, raw });
    };
    const arm = (ms: number): void => {
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(finish, ms);
    };
    socket.on('connect', () => {
      clientPort = socket.localPort ?? 0;
      socket.write(bytes);
      if (halfClose) socket.end();
      arm(expected > 0 ? PATIENT_MS : IDLE_MS);
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const { responses } = parseResponses(Buffer.concat(chunks), false);
      if (expected > 0 && responses.length >= expected) {
        const last = responses[responses.length - 1]!;
        arm(/close/i.test(last.headers['connection'] ?? '') ? IDLE_MS : GRACE_MS);
      } else {
        arm(expected > responses.length ? PATIENT_MS : IDLE_MS);
      }
    });
    socket.on('end', () => {
      closed = true;
      finish();
    });
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (clientPort !== 0 || err.code === 'ECONNRESET' || err.code === 'EPIPE') {
        closed = true;
        finish();
      } else {
        reject(err);
      }
    });
  });
}

let probeCounter = 0;

/** Sends the bytes, then a probe whose log line shows that every earlier log line is in. */
async function run(server: RunningServer, bytes: Buffer, expected: number, halfClose: boolean): Promise<Exchange> {
  const logStart = server.stderr.length;
  const result = await exchange(server.port, bytes, expected, halfClose);
  const probe = `/__probe__/${++probeCounter}`;
  const answer = await exchange(server.port, Buffer.from(`GET ${probe} HTTP/1.1\r\nHost: probe.invalid\r\nConnection: close\r\n\r\n`, 'latin1'), 1, false);
  assert.equal(answer.responses[0]?.status, 200, `the probe after the exchange failed:\n${answer.raw.toString('latin1')}`);
  await server.waitForLog(`uri='${probe}'`);
  const marker = `echo_request called: remote_port=${result.clientPort} `;
  const log = server.stderr
    .slice(logStart)
    .split('\n')
    .filter((line) => line !== '' && !line.includes(`:${answer.clientPort}]`) && !line.includes(probe));
  const calls = log.filter((line) => line.includes(marker)).length;
  return { ...result, calls, log };
}

// -- expected environ ------------------------------------------------------------------------

/** HTTP_* / CONTENT_* keys as mod_wsgi builds them from the fixture's header list. */
function environHeaders(headers: [string, string][]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of headers) {
    if (!/^[A-Za-z0-9-]+$/.test(name)) continue;
    const upper = name.toUpperCase();
    if (upper === 'PROXY' || upper === 'AUTHORIZATION' || upper === 'PROXY-AUTHORIZATION') continue;
    const key = upper === 'CONTENT-TYPE' ? 'CONTENT_TYPE' : upper === 'CONTENT-LENGTH' ? 'CONTENT_LENGTH' : 'HTTP_' + upper.replace(/-/g, '_');
    env[key] = key in env ? `${env[key]}, ${value}` : value;
  }
  return env;
}

/** PATH_INFO as mod_wsgi gives it: percent-decoded to latin-1, slashes merged, dot segments resolved. */
function modWsgiPathInfo(rawPath: string): string | undefined {
  if (rawPath === '*') return '*';
  if (!rawPath.startsWith('/')) return undefined;
  const decoded = rawPath.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))).replace(/\/{2,}/g, '/');
  const segments = decoded.split('/').slice(1);
  const out: string[] = [];
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === '.' || segment === '..') {
      if (segment === '..') out.pop();
      if (last) out.push('');
    } else {
      out.push(segment);
    }
  });
  return '/' + out.join('/');
}

function echoOf(request: ExpectedRequest): EchoCheck {
  const check: EchoCheck = {
    REQUEST_METHOD: request.method,
    REQUEST_URI: request.uri,
    QUERY_STRING: request.query,
    SERVER_PROTOCOL: request.version,
    headers: environHeaders(request.headers),
    body_latin1: request.body_latin1,
  };
  const pathInfo = modWsgiPathInfo(request.path);
  if (pathInfo !== undefined) check.PATH_INFO = pathInfo;
  return check;
}

// -- variants --------------------------------------------------------------------------------

const ADDED_HOST: [string, string] = ['HOST', 'example.com'];

/** Whether the head of an HTTP/1.1 request in the fixture lacks a Host field. */
function lacksHost(fixture: Fixture): boolean {
  if (fixture.requests !== undefined) {
    return fixture.requests.some((r) => r.version === 'HTTP/1.1' && !r.headers.some(([name]) => name === 'HOST'));
  }
  const raw = fixture.raw_latin1;
  const lineEnd = raw.indexOf('\r\n');
  const headEnd = raw.indexOf('\r\n\r\n');
  const head = headEnd >= 0 ? raw.slice(0, headEnd) : raw;
  return lineEnd >= 0 && raw.slice(0, lineEnd).endsWith(' HTTP/1.1') && !/\r\nhost[ \t]*:/i.test(head);
}

/** The fixture with "Host: example.com" after the request line of each HTTP/1.1 request that lacks one. */
function withHost(fixture: Fixture): { raw: string; requests?: ExpectedRequest[] } {
  const raw = fixture.raw_latin1;
  if (fixture.requests === undefined) {
    const lineEnd = raw.indexOf('\r\n') + 2;
    return { raw: raw.slice(0, lineEnd) + 'Host: example.com\r\n' + raw.slice(lineEnd) };
  }
  let out = '';
  let cursor = 0;
  const requests: ExpectedRequest[] = [];
  for (const request of fixture.requests) {
    // The end of the request line (the method may be spelt otherwise: gunicorn can casefold it).
    const lineEnd = ` ${request.uri} ${request.version}\r\n`;
    const at = raw.indexOf(lineEnd, cursor);
    assert.ok(at >= 0, `request line of ${request.uri} not found in ${fixture.id}`);
    const needsHost = request.version === 'HTTP/1.1' && !request.headers.some(([name]) => name === 'HOST');
    out += raw.slice(cursor, at + lineEnd.length) + (needsHost ? 'Host: example.com\r\n' : '');
    cursor = at + lineEnd.length;
    requests.push(needsHost ? { ...request, headers: [ADDED_HOST, ...request.headers] } : request);
  }
  return { raw: out + raw.slice(cursor), requests };
}

// -- checks ----------------------------------------------------------------------------------

function describeExchange(result: Exchange): string {
  const text = result.raw.toString('latin1');
  const received = text.length > 1500 ? text.slice(0, 1500) + '...' : text;
  const log = result.log.map((line) => (line.length > 300 ? line.slice(0, 300) + '...' : line)).join('\n');
  return `statuses=[${result.responses.map((r) => r.status).join(', ')}] calls=${result.calls} closed=${result.closed} rest=${result.rest.length} bytes\n--- received (${text.length} bytes) ---\n${received}\n--- error log meanwhile ---\n${log}`;
}

function checkEcho(response: HttpResponse, expected: EchoCheck, what: string, context: string): void {
  assert.equal(response.status, 200, `${what}: status\n${context}`);
  const echo = JSON.parse(response.body.toString('latin1')) as Record<string, unknown> & { body_base64: string };
  const { headers, ...fields } = expected;
  for (const [key, value] of Object.entries(fields)) {
    assert.equal(echo[key], value, `${what}: ${key}\n${context}`);
  }
  if (headers !== undefined) assert.deepEqual(echo['headers'], headers, `${what}: the HTTP_*/CONTENT_* keys\n${context}`);
  if (expected.body_latin1 !== undefined) {
    assert.equal(Buffer.from(echo.body_base64, 'base64').toString('latin1'), expected.body_latin1, `${what}: body (base64)\n${context}`);
  }
}

function checkOutcome(result: Exchange, outcome: Omit<Outcome, 'atEof'>, requests: ExpectedRequest[] | undefined): void {
  const context = describeExchange(result);
  assert.deepEqual(
    result.responses.map((r) => r.status),
    outcome.statuses,
    `response statuses\n${context}`,
  );
  assert.equal(result.rest.length, 0, `unparsable or incomplete bytes after the responses\n${context}`);
  if (outcome.calls !== undefined) assert.equal(result.calls, outcome.calls, `times the application was called\n${context}`);
  if (outcome.closes !== undefined) assert.equal(result.closed, outcome.closes, `connection closed by the server\n${context}`);
  outcome.echoes?.forEach((echo, i) => {
    if (echo === null) return;
    const expected = echo === 'fixture' ? requests?.[i] : undefined;
    if (echo === 'fixture' && expected === undefined) assert.fail(`no request ${i} in the fixture to compare with`);
    checkEcho(result.responses[i]!, expected !== undefined ? echoOf(expected) : (echo as EchoCheck), `response ${i + 1}`, context);
  });
}

/** The fixture's own expectation, read with wsgi-host's rules. */
function checkAsFixtureSays(result: Exchange, fixture: Fixture, requests: ExpectedRequest[] | undefined): void {
  const context = describeExchange(result);
  if (fixture.kind === 'valid') {
    checkOutcome(result, { statuses: requests!.map(() => 200), calls: requests!.length, echoes: requests!.map(() => 'fixture') }, requests);
    return;
  }
  const statuses = result.responses.map((r) => r.status);
  assert.ok(statuses.every((s) => s >= 400 && s <= 599), `only 4xx/5xx answers (${fixture.error})\n${context}`);
  assert.ok(statuses.length <= 1, `at most one response to one bad request\n${context}`);
  assert.equal(result.rest.length, 0, `unparsable or incomplete bytes after the responses\n${context}`);
  if (fixture.error_stage === 'head') {
    assert.equal(statuses.length, 1, `an error response to a bad head (${fixture.error})\n${context}`);
    assert.equal(result.calls, 0, `the application must not be called for a bad head (${fixture.error})\n${context}`);
  } else {
    assert.ok(statuses.length === 1 || result.closed, `an error response, or the connection closed (${fixture.error})\n${context}`);
  }
}

// -- the tests -------------------------------------------------------------------------------

interface Case {
  name: string;
  fixture: Fixture;
  raw: string;
  requests: ExpectedRequest[] | undefined;
}

function casesOf(fixture: Fixture): Case[] {
  const cases: Case[] = [{ name: fixture.id, fixture, raw: fixture.raw_latin1, requests: fixture.requests }];
  if (lacksHost(fixture)) {
    const variant = withHost(fixture);
    cases.push({ name: `${fixture.id} +Host`, fixture, raw: variant.raw, requests: variant.requests });
  }
  return cases;
}

const FIXTURES = loadCorpus();
const CASES = FIXTURES.flatMap(casesOf);

describe('gunicorn request corpus', () => {
  const server = serverFixture([app('echo_request.wsgi'), '--chunked-request', '--log-level', 'info']);
  before(async () => {
    await server.start();
    // Load the application before the first case, so no case waits for the import.
    await exchange(server.get().port, Buffer.from('GET /__warm__ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 'latin1'), 1, false);
  });
  after(server.stop);

  for (const c of CASES) {
    const known = KNOWN_DIFFERENCES[c.name];
    const bug = SERVER_BUGS[c.name];
    const title = known !== undefined ? `${c.name} (differs: ${known.reason})` : c.name;
    it(title, bug !== undefined ? { todo: `server bug: ${bug.bug}` } : {}, async () => {
      const outcome = bug?.shouldBe ?? known;
      const bytes = Buffer.from(c.raw, 'latin1');
      const expected = outcome !== undefined ? outcome.statuses.length : c.fixture.kind === 'valid' ? c.requests!.length : 1;
      const result = await run(server.get(), bytes, expected, false);
      if (outcome === undefined) {
        checkAsFixtureSays(result, c.fixture, c.requests);
        return;
      }
      checkOutcome(result, outcome, c.requests);
      if (outcome.atEof !== undefined) {
        const atEof = await run(server.get(), bytes, outcome.atEof.statuses.length, true);
        checkOutcome(atEof, outcome.atEof, c.requests);
      }
    });
  }

  it('covers every fixture, and every table row names a test', () => {
    assert.ok(FIXTURES.length >= 130, `only ${FIXTURES.length} fixtures found in ${CORPUS}`);
    const names = new Set(CASES.map((c) => c.name));
    for (const key of [...Object.keys(KNOWN_DIFFERENCES), ...Object.keys(SERVER_BUGS)]) assert.ok(names.has(key), `table row ${key} names no test`);
    for (const fixture of FIXTURES) {
      if (Object.keys(fixture.gunicorn_settings).length === 0) continue;
      const rows = casesOf(fixture).filter((c) => KNOWN_DIFFERENCES[c.name] !== undefined || SERVER_BUGS[c.name] !== undefined);
      assert.ok(rows.length > 0, `${fixture.id} depends on gunicorn settings ${JSON.stringify(fixture.gunicorn_settings)} but is in no table`);
    }
  });
});
