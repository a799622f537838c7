import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { DeadlineWatch, type Watched } from '../../src/util/deadline-watch';

const MODULE = path.resolve(__dirname, '..', '..', 'src', 'util', 'deadline-watch.js');
const MiB = 1024 * 1024;

class Item implements Watched {
  watchIndex = -1;
  checked = 0;
  constructor(readonly onCheck: (item: Item) => void = () => {}) {}
  checkDeadlines(): void {
    this.checked++;
    this.onCheck(this);
  }
}

/** Lets the watch's 250 ms tick run once or twice. */
const aTickLater = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 600));

/**
 * Bytes promoted to the old generation while a fresh node churns 300,000 requests through a
 * window of 32 in flight, as a loaded front end does; `watched` puts each in a DeadlineWatch
 * from its start to its end. The watch itself is made and collected into the old generation
 * first, as a server's is long before its first busy second. --trace-gc-nvp gives each
 * scavenge's promoted bytes.
 */
function promotedDuringChurn(watched: boolean): Promise<number> {
  const script = `
    const { DeadlineWatch } = require(${JSON.stringify(MODULE)});
    const watch = new DeadlineWatch();
    const first = { watchIndex: -1, checkDeadlines() {} };
    watch.add(first);
    watch.delete(first);
    globalThis.gc();
    globalThis.gc();
    const inFlight = [];
    for (let i = 0; i < 300000; i++) {
      const request = { watchIndex: -1, payload: new Array(64).fill(i), text: 'request ' + i, checkDeadlines() {} };
      if (${watched}) watch.add(request);
      inFlight.push(request);
      if (inFlight.length > 32) {
        const done = inFlight.shift();
        if (${watched}) watch.delete(done);
      }
    }
    watch.close();
  `;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--expose-gc', '--trace-gc-nvp', '-e', script], { timeout: 60_000, maxBuffer: 64 * MiB }, (err, stdout, stderr) => {
      if (err !== null) return reject(new Error(`${err.message}\n${stderr}`));
      let promoted = 0;
      let scavenges = 0;
      for (const match of stdout.matchAll(/gc=s .*?promoted=(\d+)/g)) {
        promoted += Number(match[1]);
        scavenges++;
      }
      if (scavenges === 0) return reject(new Error(`no scavenge was traced: ${stdout.slice(0, 500)}`));
      resolve(promoted);
    });
  });
}

describe('the deadline watch', () => {
  it('checks each watched item on its tick, until it is deleted', async () => {
    const watch = new DeadlineWatch();
    const items = [new Item(), new Item(), new Item()];
    for (const item of items) watch.add(item);
    watch.add(items[0]!); // twice: still one entry
    assert.equal(watch.size, 3);
    watch.delete(items[0]!);
    watch.delete(items[0]!); // not watched any more: nothing to do
    assert.equal(watch.size, 2);
    assert.equal(items[0]!.watchIndex, -1);
    await aTickLater();
    assert.equal(items[0]!.checked, 0);
    assert.ok(items[1]!.checked >= 1 && items[2]!.checked >= 1, 'the watched items were checked');
    watch.close();
    assert.equal(watch.size, 0);
    assert.ok(items.every((item) => item.watchIndex === -1), 'closing leaves no item thinking it is watched');
  });

  it('keeps checking the rest when a check ends items, itself or others', async () => {
    const watch = new DeadlineWatch();
    const others: Item[] = [];
    const ending = new Item((self) => {
      watch.delete(self);
      for (const other of others.splice(0)) watch.delete(other);
    });
    const kept = [new Item(), new Item()];
    watch.add(ending);
    for (let i = 0; i < 3; i++) {
      const other = new Item();
      others.push(other);
      watch.add(other);
    }
    for (const item of kept) watch.add(item);
    await aTickLater();
    assert.equal(ending.checked, 1, 'an item that ended itself is not checked again');
    assert.deepEqual(kept.map((item) => item.checked > 0), [true, true]);
    assert.equal(watch.size, 2);
    // An item deleted from another watch (or never added) is left alone.
    const stranger = new Item();
    watch.delete(stranger);
    assert.equal(watch.size, 2);
    watch.close();
  });

  it('lets finished requests die young under load', async () => {
    const [control, watched] = await Promise.all([promotedDuringChurn(false), promotedDuringChurn(true)]);
    // With a Set, each replaced table kept its successor (and the requests in it) alive through
    // scavenges: 30 to 200 MiB more were promoted in this churn.
    assert.ok(watched <= control + 2 * MiB,
      `watching the requests promoted ${((watched - control) / MiB).toFixed(1)} MiB more than not watching them (${(control / MiB).toFixed(1)} MiB)`);
  });
});
