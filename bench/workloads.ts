import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { SHAPES, type Shape, type WorkloadName } from './config';
import { APPS_DIR } from './paths';

/** What one workload sends and what a correct response is. */
export interface Workload extends Shape {
  name: WorkloadName;
  description: string;
  /** The app as a file (Apache, uWSGI, wsgi-host) and as a module in APPS_DIR (gunicorn). */
  appFile: string;
  appModule: string;
  method: 'GET' | 'POST';
  /** The request body, for POST workloads. */
  body: Buffer | null;
  /** Whether the bare node:http server (no Python) has an equivalent of this workload. */
  bareNode: boolean;
  /** Why `body` is not a correct response, or null when it is. */
  check(status: number, body: Buffer): string | null;
  /** The exact body wrk must see (small bodies), or null to compare only `expectedLength`. */
  expectedBody: Buffer | null;
  expectedLength: number;
}

export const HELLO_BODY = Buffer.from('Hello world!');
export const IO_BODY = Buffer.from('slept 50 ms\n');
/** How long apps/slow_io.py sleeps per request. */
export const IO_SLEEP_SECONDS = 0.05;
/** bytes 0..255 repeated to 1 MiB, as in apps/download.py. */
export const DOWNLOAD_BODY = Buffer.alloc(1024 * 1024, Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
/** The file apps/file_download.py sends (and writes when it is missing): DOWNLOAD_BODY's bytes. */
export const DOWNLOAD_FILE = path.join(APPS_DIR, 'file_download.bin');

/** Writes DOWNLOAD_FILE unless it holds DOWNLOAD_BODY already (through a rename: a reader never sees part of it). */
export function ensureDownloadFile(): void {
  try {
    if (fs.readFileSync(DOWNLOAD_FILE).equals(DOWNLOAD_BODY)) return;
  } catch {
    // Missing: written below.
  }
  const temporary = `${DOWNLOAD_FILE}.${process.pid}`;
  fs.writeFileSync(temporary, DOWNLOAD_BODY);
  fs.renameSync(temporary, DOWNLOAD_FILE);
}
/** The 1 MiB upload, as a 64-byte ASCII chunk repeated: short enough to hand to Lua verbatim. */
export const UPLOAD_CHUNK = '0123456789abcdef'.repeat(4);
export const UPLOAD_REPEATS = (1024 * 1024) / UPLOAD_CHUNK.length;
export const UPLOAD_BODY = Buffer.from(UPLOAD_CHUNK.repeat(UPLOAD_REPEATS));
export const UPLOAD_DIGEST = Buffer.from(createHash('sha256').update(UPLOAD_BODY).digest('hex'));
const FLASK_JSON = { message: 'Hello, World!', framework: 'flask', items: [1, 2, 3] };

function exact(expected: Buffer): (status: number, body: Buffer) => string | null {
  return (status, body) => {
    if (status !== 200) return `status ${status}`;
    if (!body.equals(expected)) return `body ${JSON.stringify(body.subarray(0, 80).toString('latin1'))} (${body.length} bytes) instead of ${JSON.stringify(expected.subarray(0, 80).toString('latin1'))} (${expected.length} bytes)`;
    return null;
  };
}

function app(name: WorkloadName, module: string): Pick<Workload, 'name' | 'appFile' | 'appModule' | keyof Shape> {
  return { name, appFile: path.join(APPS_DIR, `${module}.py`), appModule: module, ...SHAPES[name] };
}

export const WORKLOADS: Record<WorkloadName, Workload> = {
  hello: {
    ...app('hello', 'hello'),
    description: "GET returning b'Hello world!' (12 bytes, Content-Length)",
    method: 'GET',
    body: null,
    bareNode: true,
    check: exact(HELLO_BODY),
    expectedBody: HELLO_BODY,
    expectedLength: HELLO_BODY.length,
  },
  flask: {
    ...app('flask', 'flask_json'),
    description: 'GET of a Flask route returning a small JSON dict (jsonify)',
    method: 'GET',
    body: null,
    bareNode: false,
    check: (status, body) => {
      if (status !== 200) return `status ${status}`;
      try {
        if (isDeepStrictEqual(JSON.parse(body.toString('utf8')), FLASK_JSON)) return null;
      } catch {
        // fall through
      }
      return `body ${JSON.stringify(body.subarray(0, 200).toString('latin1'))} is not the expected JSON`;
    },
    // Flask's exact bytes (key order, trailing newline) are its own business: wrk compares the
    // length of the body the start-up check accepted (the same Flask for every server).
    expectedBody: null,
    expectedLength: -1,
  },
  io: {
    ...app('io', 'slow_io'),
    description: 'GET that sleeps 50 ms, then returns 12 bytes',
    method: 'GET',
    body: null,
    bareNode: false,
    check: exact(IO_BODY),
    expectedBody: IO_BODY,
    expectedLength: IO_BODY.length,
  },
  download: {
    ...app('download', 'download'),
    description: 'GET of a 1 MiB response (one piece, Content-Length)',
    method: 'GET',
    body: null,
    bareNode: true,
    check: exact(DOWNLOAD_BODY),
    expectedBody: null, // wrk compares the length only: 1 MiB Lua string compares per response cost the client too much
    expectedLength: DOWNLOAD_BODY.length,
  },
  file: {
    ...app('file', 'file_download'),
    description: 'GET of a 1 MiB file through wsgi.file_wrapper (Content-Length; sendfile where the server has it)',
    method: 'GET',
    body: null,
    bareNode: true,
    check: exact(DOWNLOAD_BODY),
    expectedBody: null,
    expectedLength: DOWNLOAD_BODY.length,
  },
  upload: {
    ...app('upload', 'upload'),
    description: 'POST of 1 MiB, read in 64 KiB pieces and hashed; returns the SHA-256 hex',
    method: 'POST',
    body: UPLOAD_BODY,
    bareNode: true,
    check: exact(UPLOAD_DIGEST),
    expectedBody: UPLOAD_DIGEST,
    expectedLength: UPLOAD_DIGEST.length,
  },
};
