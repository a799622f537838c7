import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { loadApacheConfig } from '../../src/config/apache-config';
import { defaultRequestReadTimeouts } from '../../src/config/defaults';
import { parseRequestReadTimeout } from '../../src/config/request-read-timeout';
import { proxyEnviron } from '../../src/front/proxy-headers';
import { encodeFrame, FrameDecoder, MAX_FRAME_PAYLOAD, ProtocolError } from '../../src/protocol/frames';

/**
 * Property tests with a fixed seed (WSGI_HOST_FUZZ_SEED picks another), so a failure can be
 * replayed: fast-check's report gives the seed and the shrunk counterexample. Each run is
 * bounded in count and in time.
 */
const SEED = Number(process.env['WSGI_HOST_FUZZ_SEED'] ?? 20261125);
const params = (numRuns: number): fc.Parameters<unknown> => ({ seed: SEED, numRuns, endOnFailure: true });

function timed<T>(what: string, limitMs: number, run: () => T): T {
  const started = process.hrtime.bigint();
  const result = run();
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  assert.ok(elapsedMs < limitMs, `${what} took ${elapsedMs.toFixed(0)} ms (seed ${SEED})`);
  return result;
}

/** Splits `bytes` at the given cut points (any order, any values). */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let at = 0;
  for (const point of points) {
    parts.push(bytes.subarray(at, point));
    at = point;
  }
  parts.push(bytes.subarray(at));
  return parts;
}

describe(`wire protocol frame decoder (fast-check seed ${SEED})`, () => {
  it('decodes any sequence of frames, however the stream is cut into reads', () => {
    const frame = fc.record({ type: fc.integer({ min: 0, max: 255 }), payload: fc.uint8Array({ maxLength: 300 }) });
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 12 }), (frames, cuts) => {
        const stream = Buffer.concat(frames.map((f) => encodeFrame(f.type, Buffer.from(f.payload))));
        const decoder = new FrameDecoder();
        const seen: { type: number; payload: Buffer }[] = [];
        timed('decoding', 1000, () => {
          for (const part of split(stream, cuts)) decoder.push(part, (type, payload) => seen.push({ type, payload: Buffer.from(payload) }));
        });
        assert.equal(seen.length, frames.length);
        seen.forEach((f, i) => {
          assert.equal(f.type, frames[i]!.type);
          assert.deepEqual(f.payload, Buffer.from(frames[i]!.payload));
        });
        assert.equal(decoder.bufferedBytes, 0);
      }),
      params(500),
    );
  });

  it('on arbitrary bytes it yields frames or a ProtocolError, never another exception, and never more than it was given', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.nat(), { maxLength: 10 }), (bytes, cuts) => {
        const decoder = new FrameDecoder();
        let payloadBytes = 0;
        let frames = 0;
        try {
          timed('decoding', 1000, () => {
            for (const part of split(Buffer.from(bytes), cuts)) decoder.push(part, (_type, payload) => {
              frames++;
              payloadBytes += payload.length;
            });
          });
        } catch (err) {
          assert.ok(err instanceof ProtocolError, `unexpected ${String(err)} (seed ${SEED})`);
          return;
        }
        assert.ok(payloadBytes + frames * 5 + decoder.bufferedBytes <= bytes.length);
      }),
      params(800),
    );
  });

  it('refuses a frame longer than the limit at once, without waiting for its payload', () => {
    const header = Buffer.alloc(5);
    header[0] = 1;
    header.writeUInt32BE(MAX_FRAME_PAYLOAD + 1, 1);
    assert.throws(() => new FrameDecoder().push(header, () => {}), ProtocolError);
  });
});

describe(`configuration: random directives give errors with file:line, never a crash or a hang (seed ${SEED})`, () => {
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-host-config-fuzz-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const NAMES = [
    'Listen', 'ServerName', 'ServerAlias', 'DocumentRoot', 'Alias', 'AliasMatch', 'Options', 'Require', 'SetEnv', 'UnsetEnv', 'ErrorLog', 'CustomLog', 'LogFormat', 'LogLevel',
    'Timeout', 'KeepAlive', 'KeepAliveTimeout', 'LimitRequestBody', 'LimitRequestLine', 'LimitRequestFields', 'LimitRequestFieldSize', 'RequestReadTimeout', 'MaxRequestWorkers',
    'ListenBacklog', 'User', 'Group', 'SSLEngine', 'SSLCertificateFile', 'SSLCertificateKeyFile', 'SSLCertificateChainFile', 'WSGIScriptAlias', 'WSGIScriptAliasMatch',
    'WSGIDaemonProcess', 'WSGIProcessGroup', 'WSGIApplicationGroup', 'WSGITrustedProxyHeaders', 'WSGITrustedProxies', 'WSGIChunkedRequest', 'WSGIPassAuthorization',
    'WSGIImportScript', 'WSGIHandlerScript', 'WSGIRestrictProcess', 'WSGIMapHEADToGET', 'WSGISocketPrefix', 'WSGIPythonOptimize', 'NoSuchDirective',
  ];
  const WORDS = [
    '0', '1', '-1', '8080', '127.0.0.1:0', '[::1]:0', '*:0', 'On', 'Off', 'all', 'granted', 'denied', 'header=20-40,MinRate=500', 'body=0', 'header=5-1', 'handshake=x',
    'processes=2', 'threads=0', 'user=nobody', 'python-home=/nonexistent', 'process-group=g', 'application-group=%{GLOBAL}', '10.0.0.0/8', 'fd00::/129', 'X-Forwarded-For',
    '/', '/app', 'app.wsgi', '"quoted word"', "'single'", '%{ENV:X}', '(unclosed', '.*', '\\', '#', 'é', '',
  ];
  const line = fc.tuple(fc.constantFrom(...NAMES), fc.array(fc.constantFrom(...WORDS), { maxLength: 4 })).map(([name, args]) => `${name} ${args.join(' ')}`.trimEnd());
  const section = fc.constantFrom('<VirtualHost *:0>', '</VirtualHost>', '<Location /x>', '</Location>', '<Directory />', '</Directory>');
  const text = fc.array(fc.oneof({ weight: 5, arbitrary: line }, { weight: 1, arbitrary: section }), { maxLength: 25 });

  it('loads or reports problems at lines of the file', () => {
    let run = 0;
    fc.assert(
      fc.property(text, (lines) => {
        const file = path.join(dir, `case-${++run}.conf`);
        fs.writeFileSync(file, lines.join('\n') + '\n');
        const result = timed('loading', 2000, () => loadApacheConfig(file, { env: {} }));
        assert.equal(result.config === null, result.errors.length > 0);
        for (const problem of [...result.errors, ...result.warnings]) {
          assert.equal(problem.file, file);
          assert.ok(problem.line >= 0 && problem.line <= lines.length + 1, `line ${problem.line} of ${lines.length}`);
          assert.ok(problem.message.length > 0 && problem.directive.length > 0);
        }
        fs.rmSync(file);
      }),
      params(400),
    );
  });

  it('RequestReadTimeout: any arguments give a setting or a reason', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('header=1-2,MinRate=3', 'body=0', 'handshake=5', 'header=', 'x=1')), { maxLength: 4 }), (args) => {
        const result = parseRequestReadTimeout(args, defaultRequestReadTimeouts());
        if ('error' in result) assert.ok(result.error.length > 0);
        else for (const stage of [result.handshake, result.header, result.body]) if (stage !== null) assert.ok(stage.timeout > 0 && (stage.maxTimeout === 0 || stage.maxTimeout > stage.timeout));
      }),
      params(1000),
    );
  });

  it('trusted proxy headers: any header values give an environ, never an exception', () => {
    const names = fc.constantFrom('X-Forwarded-For', 'X-Real-IP', 'X-Forwarded-Proto', 'X-Forwarded-Host', 'X-Script-Name', 'X-Forwarded-SSL', 'Host', 'X-Other');
    fc.assert(
      fc.property(fc.array(fc.tuple(names, fc.string({ maxLength: 60 })), { maxLength: 10 }), fc.boolean(), (fields, withProxies) => {
        const raw = fields.flat();
        const result = proxyEnviron(raw, ['HTTP_X_FORWARDED_FOR', 'HTTP_X_FORWARDED_PROTO', 'HTTP_X_SCRIPT_NAME'], withProxies ? ['127.0.0.1', '10.0.0.0/8'] : [], '127.0.0.1', 'http');
        assert.equal(result.rawHeaders.length % 2, 0);
        assert.ok(result.rawHeaders.length <= raw.length + 2);
      }),
      params(1000),
    );
  });
});
