/**
 * Large response pieces go from the worker's shared region to the client's socket without a
 * copy in the front end (native/region_map.c maps the region; the worker seals it so it cannot
 * shrink under the mapping). The worker may reuse a piece's half of the region only once the
 * socket has written it, or once the front end has made the socket's view a private copy (a
 * slow client): the tests check that every client gets exactly its own bytes either way, and
 * that a stalled client never holds the thread.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { regionMappingAvailable } from '../../src/groups/region-map';
import { app, request, serverFixture, sleep } from '../helpers/server';
import { parseAuto, sample, statusJson } from '../ops/ops-helpers';

const MIB = 1 << 20;

/** What test/apps/pieces.wsgi sends for `mib`, `seed` and `tail`: piece k holds (i + 7k + seed) % 251. */
function expectedBody(mib: number, seed: number, tail = 0): Buffer {
  const out = Buffer.alloc(mib * MIB + tail);
  for (let k = 0; k <= mib; k++) {
    const start = (7 * k + seed) % 251;
    const end = Math.min((k + 1) * MIB, out.length);
    for (let at = k * MIB; at < end; at++) out[at] = (at - k * MIB + start) % 251;
  }
  return out;
}

/** Where two bodies first differ, for a failure message that says which piece went wrong. */
function sameBytes(actual: Buffer, expected: Buffer, what: string): void {
  if (actual.equals(expected)) return;
  let at = 0;
  while (at < actual.length && at < expected.length && actual[at] === expected[at]) at++;
  assert.fail(`${what}: ${actual.length} bytes (expected ${expected.length}); first difference at byte ${at} (piece ${Math.floor(at / MIB)})`);
}

/** The body of one raw HTTP/1.1 response with Content-Length, read whole. */
function bodyOf(raw: Buffer): Buffer {
  const end = raw.indexOf('\r\n\r\n');
  assert.ok(end > 0, 'a response head');
  const head = raw.subarray(0, end).toString('latin1');
  assert.match(head, /^HTTP\/1\.1 200 /);
  const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1]);
  const body = raw.subarray(end + 4);
  assert.equal(body.length, length, 'the whole body, as long as Content-Length says');
  return body;
}

/** Counts of pieces lent and copied, from the status page. */
async function pieceCounts(base: string): Promise<{ lent: number; copied: number }> {
  const group = (await statusJson(base)).groups[0]!;
  return { lent: group.responsePiecesLent, copied: group.responsePiecesCopied };
}

async function responsesSpooled(base: string): Promise<number> {
  return (await statusJson(base)).groups[0]!.responsesSpooled;
}

describe('large response pieces sent straight from the worker\'s memory', () => {
  const server = serverFixture(['--processes', '1', '--threads', '1', '--server-status', '--server-metrics', app('pieces.wsgi')]);
  before(async () => {
    assert.ok(regionMappingAvailable(), 'dist/native/region_map.node is built (npm run build needs a C compiler: apt-get install gcc)');
    await server.start();
  });
  after(() => server.stop());

  it('arrive intact with Content-Length and chunked, one after another on a kept-alive connection, and are counted as lent', async () => {
    const base = `http://127.0.0.1:${server.get().port}`;
    const before = await pieceCounts(base);
    const sized = await request(`${base}/?mib=5&seed=3&tail=100000`);
    assert.equal(sized.status, 200);
    sameBytes(sized.body, expectedBody(5, 3, 100000), 'with Content-Length');
    const chunked = await request(`${base}/?mib=4&seed=9&chunked=1`);
    assert.equal(chunked.headers['transfer-encoding'], 'chunked');
    sameBytes(chunked.body, expectedBody(4, 9), 'chunked');
    const after = await pieceCounts(base);
    // 5 + 1 (the tail) + 4 pieces of 32 KiB or more went through the region. The first piece
    // of each response is lent (nothing is queued ahead of it); later ones are lent while the
    // client keeps up, copied when its socket is still busy with the one before.
    assert.equal(after.lent + after.copied - before.lent - before.copied, 10);
    assert.ok(after.lent - before.lent >= 2, `the first piece of each response is lent: ${JSON.stringify({ before, after })}`);
  });

  it('a client that takes a response as it comes is not spooled, though node holds a whole 1 MiB piece until the end of the tick', async () => {
    const base = `http://127.0.0.1:${server.get().port}`;
    const before = await responsesSpooled(base);
    for (let i = 0; i < 5; i++) {
      // A 1 MiB piece, then a few bytes on the socket: the piece alone fills response-buffer-size
      // (1 MiB) until node writes it, and a spool decided then would take the rest.
      const res = await request(`${base}/?mib=1&seed=${i}&tail=100`);
      sameBytes(res.body, expectedBody(1, i, 100), `response ${i}`);
    }
    assert.equal(await responsesSpooled(base), before);
  });

  it('requests queued behind one another on the thread each get their own bytes (the next head goes out while the last piece is still being sent)', async () => {
    const base = `http://127.0.0.1:${server.get().port}`;
    // Two clients keep the only thread busy: each response ends while its last piece is still
    // lent, and the other client's request, already waiting, starts at once.
    const client = async (seed: number): Promise<void> => {
      for (let i = 0; i < 30; i++) {
        const res = await request(`${base}/?mib=4&seed=${seed + i}`);
        assert.equal(res.status, 200);
        sameBytes(res.body, expectedBody(4, seed + i), `response ${i} of client ${seed}`);
      }
    };
    await Promise.all([client(0), client(100)]);
  });

  it('a client that stops reading holds neither the thread nor its bytes: the next request runs, and the stalled client later gets exactly its own bytes', async () => {
    const port = server.get().port;
    const base = `http://127.0.0.1:${port}`;
    // Pieces 20 ms apart, so each is lent while the kernel still takes them; the one being sent
    // when the kernel's buffers fill stays in the front end's socket, and its half of the region
    // must be copied (settled) before the worker writes the piece after next into it.
    const stalled = stalledClient(port, 'GET /?mib=16&seed=1&pause=20 HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n');
    try {
      await stalled.sent;
      await sleep(600);
      const other = await request(`${base}/?mib=6&seed=2`, { timeoutMs: 10_000 });
      assert.equal(other.status, 200, 'the only thread was free for another request');
      sameBytes(other.body, expectedBody(6, 2), 'the other request');
      const counts = await pieceCounts(base);
      assert.ok(counts.lent > 0 && counts.copied > 0, `both lent and copied pieces: ${JSON.stringify(counts)}`);
      assert.ok((await responsesSpooled(base)) >= 1, 'the stalled response went to a spool file');
      sameBytes(bodyOf(await stalled.readAll()), expectedBody(16, 1), 'the client that stalled');
    } finally {
      stalled.stop();
    }
  });

  it('the counts of pieces lent and copied and of responses spooled are the same on ?auto and in the metrics', async () => {
    const base = `http://127.0.0.1:${server.get().port}`;
    const group = (await statusJson(base)).groups[0]!;
    assert.ok(group.responsePiecesLent > 0 && group.responsePiecesCopied > 0 && group.responsesSpooled > 0, 'the tests before this one produced all three');
    const auto = parseAuto((await request(`${base}/server-status?auto`)).text).values;
    const key = (name: string): number => Number(auto.get(`ProcessGroup[${group.name}].${name}`));
    assert.deepEqual(
      [key('ResponsePiecesLent'), key('ResponsePiecesCopied'), key('ResponsesSpooled')],
      [group.responsePiecesLent, group.responsePiecesCopied, group.responsesSpooled],
    );
    const metrics = (await request(`${base}/server-metrics`)).text;
    assert.deepEqual(
      [
        sample(metrics, 'wsgi_host_response_pieces_total', { process_group: group.name, how: 'lent' }),
        sample(metrics, 'wsgi_host_response_pieces_total', { process_group: group.name, how: 'copied' }),
        sample(metrics, 'wsgi_host_responses_spooled_total', { process_group: group.name }),
      ],
      [group.responsePiecesLent, group.responsePiecesCopied, group.responsesSpooled],
    );
  });
});

/**
 * A client with a tiny receive buffer (Python, since node:net cannot set SO_RCVBUF) that sends
 * `request` (latin1) and reads nothing until told to; it then writes all it gets to its stdout.
 */
function stalledClient(port: number, request: string): { sent: Promise<void>; readAll: () => Promise<Buffer>; stop: () => void } {
  const script = [
    'import socket, sys',
    's = socket.socket(socket.AF_INET, socket.SOCK_STREAM)',
    's.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)',
    `s.connect(('127.0.0.1', ${port}))`,
    `s.sendall(bytes.fromhex('${Buffer.from(request, 'latin1').toString('hex')}'))`,
    "sys.stderr.write('sent\\n'); sys.stderr.flush()",
    'sys.stdin.readline()',
    'while True:',
    '    data = s.recv(1 << 20)',
    '    if not data: break',
    '    sys.stdout.buffer.write(data)',
  ].join('\n');
  const child = spawn(process.env['PYTHON'] ?? 'python3', ['-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  child.stdout!.on('data', (chunk: Buffer) => out.push(chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const sent = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the stalled client did not send its request within 10 s')), 10_000);
    child.stderr!.on('data', (data: Buffer) => {
      if (!data.toString().includes('sent')) return;
      clearTimeout(timer);
      resolve();
    });
  });
  return {
    sent,
    readAll: async () => {
      child.stdin!.write('go\n');
      await exited;
      return Buffer.concat(out);
    },
    stop: () => {
      if (child.exitCode === null) child.kill();
    },
  };
}

describe('large response pieces without the region mapping (WSGI_HOST_REGION_MAP=off)', () => {
  const server = serverFixture(['--processes', '1', '--threads', '1', '--server-status', app('pieces.wsgi')], { env: { WSGI_HOST_REGION_MAP: 'off' } });
  before(() => server.start());
  after(() => server.stop());

  it('are copied out of the region, and arrive intact', async () => {
    const base = `http://127.0.0.1:${server.get().port}`;
    const res = await request(`${base}/?mib=3&seed=5&tail=100000`);
    sameBytes(res.body, expectedBody(3, 5, 100000), 'copied pieces');
    const counts = await pieceCounts(base);
    assert.deepEqual(counts, { lent: 0, copied: 4 });
  });
});

describe('a thread whose connection is cut while a client still sends pieces of its region', () => {
  // Bodies streamed as the application reads them, so a client that stops sending mid-body
  // makes the front end abandon the request (408) and cut the thread's connection.
  const server = serverFixture(['--processes', '1', '--threads', '1', '--request-body-spooling=off', '--body-timeout', '1', app('pieces.wsgi')]);
  before(() => server.start());
  after(() => server.stop());

  it('reconnects with a new region: the next request cannot write into pieces the cut client has not been sent yet', async () => {
    const s = server.get();
    // Three pieces 20 ms apart, all lent while the kernel takes them; the kernel's buffers fill
    // during the third, which no newer piece ever settles. Then the application waits for a
    // body that never comes.
    const stalled = stalledClient(s.port, `POST /?mib=4&seed=1&pause=20&read=3 HTTP/1.1\r\nHost: test\r\nContent-Length: 5000000\r\n\r\n${'x'.repeat(1000)}`);
    try {
      await stalled.sent;
      await s.waitForLog(/malformed or cut short \(408\); the request is abandoned/, 10_000);
      const other = await request(`http://127.0.0.1:${s.port}/?mib=4&seed=2`, { timeoutMs: 10_000 });
      sameBytes(other.body, expectedBody(4, 2), 'the next request');
      const raw = await stalled.readAll();
      const end = raw.indexOf('\r\n\r\n');
      assert.match(raw.subarray(0, end).toString('latin1'), /^HTTP\/1\.1 200 /);
      // The response is cut after what the application produced before it blocked: three
      // pieces, each of them exactly the cut client's own.
      sameBytes(raw.subarray(end + 4), expectedBody(3, 1), 'the cut client');
    } finally {
      stalled.stop();
    }
  });
});
