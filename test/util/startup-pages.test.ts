/**
 * Once started, the front end gives back the pages of the node binary and its libraries that
 * only start-up needed (native/startup_pages.c). The test reads the front end's resident share
 * of those mappings from /proc itself, after serving requests (which bring back the pages they run), and checks it
 * against what the server reported was resident just before the release. Serving afterwards,
 * large responses from the workers' mapped regions included, shows the release dropped only
 * pages that the file holds unchanged: had it dropped a relocated page, the process would crash.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { releasableResidentKb } from '../helpers/proc';
import * as fs from 'node:fs';
import { app, request, serverFixture, startServer } from '../helpers/server';

const MIB = 1 << 20;

/** What test/apps/pieces.wsgi sends for `mib` pieces and `seed`: piece k holds (i + 7k + seed) % 251. */
function expectedPieces(mib: number, seed: number): Buffer {
  const out = Buffer.alloc(mib * MIB);
  for (let k = 0; k < mib; k++) {
    const start = (7 * k + seed) % 251;
    for (let i = 0; i < MIB; i++) out[k * MIB + i] = (i + start) % 251;
  }
  return out;
}

describe('the start-up pages of the node binary and its libraries', { skip: process.platform !== 'linux' && 'Linux only (/proc)' }, () => {
  const server = serverFixture(['--processes', '1', '--threads', '2', app('pieces.wsgi')]);
  before(server.start);
  after(server.stop);

  it('are given back once the server has started, and the front end goes on serving', async () => {
    const line = await server.get().waitForLog(/Released the start-up pages of the node binary and its libraries: ([\d.]+) MiB were resident in (\d+) mappings/);
    const [, before, mappings] = /: ([\d.]+) MiB were resident in (\d+) mappings/.exec(line)!;
    const residentBefore = Number(before) * MIB;
    // The dynamic symbol tables, the text and the read-only data of the binary, and libc's.
    assert.ok(Number(mappings) >= 4, `the read-only mappings of the binary and its libraries were released (${mappings})`);
    assert.ok(residentBefore > 8 * MIB, `start-up had ${before} MiB of the binary resident`);

    for (let seed = 0; seed < 6; seed++) {
      const reply = await request(`${server.get().url}/?mib=2&seed=${seed}`);
      assert.equal(reply.status, 200);
      assert.ok(reply.body.equals(expectedPieces(2, seed)), `response ${seed} has its own exact bytes`);
    }
    const pid = server.get().child.pid!;
    const residentNow = releasableResidentKb(pid) * 1024;
    assert.ok(residentNow > 0, 'the front end still has the pages it runs');
    assert.ok(residentNow < 0.7 * residentBefore,
      `after serving, ${(residentNow / MIB).toFixed(1)} MiB of the released mappings are resident, against ${before} MiB before the release`);
  });
});

describe('the unused pages of the node binary and its libraries', { skip: process.platform !== 'linux' && 'Linux only (/proc)' }, () => {
  // Every second here (WSGI_HOST_PAGE_RELEASE_SECONDS; a minute by default), logged at debug.
  const server = serverFixture(['--processes', '1', '--threads', '2', '--log-level', 'debug', app('pieces.wsgi')], { env: { WSGI_HOST_PAGE_RELEASE_SECONDS: '1' } });
  before(server.start);
  after(server.stop);

  it('are given back again and again while the server runs, and the front end goes on serving', async () => {
    const pattern = /Released the unused pages of the node binary and its libraries: ([\d.]+) MiB were resident in (\d+) mappings/g;
    const released = (): number[] => [...server.get().stderr.matchAll(pattern)].map((m) => Number(m[1]));
    for (let round = 0; round < 3; round++) {
      for (let seed = 0; seed < 4; seed++) {
        const reply = await request(`${server.get().url}/?mib=1&seed=${seed + round}`);
        assert.equal(reply.status, 200);
        assert.ok(reply.body.equals(expectedPieces(1, seed + round)), `response ${seed + round} has its own exact bytes`);
      }
      const seen = released().length;
      await server.get().waitFor(() => released().length > seen, 'one more release', 5_000);
    }
    // Serving between releases brought pages back, and each release gave them back again.
    const amounts = released();
    assert.ok(amounts.length >= 3, `${amounts.length} releases`);
    assert.ok(amounts.slice(-2).every((mib) => mib > 0.5), `released after serving: ${amounts.join(', ')} MiB`);
  });
});

describe('WSGI_HOST_PAGE_RELEASE_SECONDS', () => {
  it('must be a whole number of seconds: anything else stops the start with one line saying so', async () => {
    const server = await startServer([app('pieces.wsgi')], { env: { WSGI_HOST_PAGE_RELEASE_SECONDS: 'soon' }, expectFailure: true });
    assert.equal(await server.waitForExit(), 1);
    assert.match(server.stderr.trim(), /^wsgi-host: WSGI_HOST_PAGE_RELEASE_SECONDS must be a whole number of seconds \(0 for no release after start\), not 'soon'\.$/);
    fs.rmSync(server.serverRoot, { recursive: true, force: true });
  });
});
