import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';

const MODULE = path.resolve(__dirname, '..', '..', 'src', 'util', 'young-generation-cap.js');
const MiB = 1024 * 1024;

/**
 * Runs a fresh node that keeps a sliding window of objects alive across scavenges (as requests
 * in flight do), yielding to the event loop between small batches as a server does, and reports
 * the largest new space it saw. With `capMiB`, the cap is in force during the run and is lifted
 * at the end, after which the run goes on to show V8 may grow the new space again.
 */
function run(capMiB: number | null): Promise<{ during: number; capReported: number; after: number; capAfter: number }> {
  const script = `
    const { capYoungGeneration, newSpaceBytes, youngGenerationCap } = require(${JSON.stringify(MODULE)});
    const release = ${capMiB === null ? 'null' : `capYoungGeneration(${capMiB} * 1024 * 1024)`};
    const window = new Array(20000);
    let i = 0;
    async function churn(rounds) {
      let most = 0;
      for (let round = 0; round < rounds; round++) {
        for (let k = 0; k < 1000; k++, i++) window[i % window.length] = { i, text: 'request ' + i, pair: [i, i + 1] };
        most = Math.max(most, newSpaceBytes());
        await new Promise((resolve) => setImmediate(resolve));
      }
      return most;
    }
    (async () => {
      const during = await churn(2500);
      const capReported = youngGenerationCap();
      if (release !== null) release();
      const after = await churn(2500);
      console.log(JSON.stringify({ during, capReported, after, capAfter: youngGenerationCap() }));
    })();
  `;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err !== null) return reject(new Error(`${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout.trim()) as { during: number; capReported: number; after: number; capAfter: number });
    });
  });
}

describe('the front end young-generation cap', () => {
  it('keeps the new space at the cap while V8 alone grows it past', async () => {
    const [free, capped] = await Promise.all([run(null), run(4)]);
    // The workload does make V8 grow the new space well past the cap...
    assert.ok(free.during > 8 * MiB, `without a cap the new space reached only ${free.during / MiB} MiB`);
    assert.equal(free.capReported, 0);
    // ...and with the cap it stops there. (In a burst where V8 grows it at two scavenges in a
    // row before the check runs, it may pass the cap by one doubling: at most twice the cap.)
    assert.ok(capped.during <= 8 * MiB, `with a 4 MiB cap the new space reached ${capped.during / MiB} MiB`);
    assert.equal(capped.capReported, 4 * MiB);
    // Lifting the cap gives V8 its own sizing back.
    assert.equal(capped.capAfter, 0);
    assert.ok(capped.after > 8 * MiB, `after the cap was lifted the new space reached only ${capped.after / MiB} MiB`);
  });

  it('refuses a size that is not a positive number of bytes', async () => {
    const { capYoungGeneration } = (await import(MODULE)) as typeof import('../../src/util/young-generation-cap');
    assert.throws(() => capYoungGeneration(0), /positive number of bytes/);
    assert.throws(() => capYoungGeneration(Number.NaN), /positive number of bytes/);
  });
});
