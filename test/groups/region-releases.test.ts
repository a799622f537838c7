/**
 * RegionReleases: the worker frees the oldest half it thinks is in use on each RegionReleased,
 * so releases must follow the order of the pieces, whichever order the front end is done with
 * them in (a lent piece waits on its client's socket; a copied one is done at once).
 */
import { strict as assert } from 'node:assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { RegionReleases } from '../../src/groups/region-releases';

function tracked(): { releases: RegionReleases; sent: () => number } {
  let sent = 0;
  const releases = new RegionReleases((count) => {
    sent += count;
  });
  return { releases, sent: () => sent };
}

describe('region releases', () => {
  it('a copied piece after a lent one is released only once the lent one is back', () => {
    const { releases, sent } = tracked();
    const giveBack = releases.lend(() => {});
    releases.copied();
    releases.copiedDone(1);
    assert.equal(sent(), 0, 'the lent piece is older: releasing the copy would free its half');
    giveBack();
    assert.equal(sent(), 2);
    giveBack();
    assert.equal(sent(), 2, 'giving back twice releases once');
  });

  it('a piece lent to a faster client waits for an older one lent to a slower client', () => {
    const { releases, sent } = tracked();
    const slow = releases.lend(() => {});
    const fast = releases.lend(() => {});
    fast();
    assert.equal(sent(), 0);
    assert.equal(releases.lent, 1);
    slow();
    assert.equal(sent(), 2);
    assert.equal(releases.lent, 0);
  });

  it('settling keeps the bytes of pieces lent before the mark and releases them; later ones stay lent', () => {
    const { releases, sent } = tracked();
    const kept: string[] = [];
    releases.lend(() => kept.push('first'));
    const mark = releases.lentSoFar;
    const second = releases.lend(() => kept.push('second'));
    releases.settleLent(mark);
    assert.deepEqual(kept, ['first']);
    assert.equal(sent(), 1);
    assert.equal(releases.lent, 1);
    second();
    assert.equal(sent(), 2);
  });

  it('settleSoon settles pieces still lent a few milliseconds after a newer piece came, and each later arrival in its turn', async () => {
    const { releases, sent } = tracked();
    const kept: number[] = [];
    releases.lend(() => kept.push(1));
    releases.settleSoon();
    releases.lend(() => kept.push(2));
    releases.settleSoon();
    releases.lend(() => kept.push(3));
    assert.deepEqual(kept, [], 'not at once: a client that keeps up takes a piece within a millisecond or so');
    await sleep(30);
    assert.deepEqual(kept, [1, 2], 'the pieces lent before each arrival, not the newest one');
    assert.equal(sent(), 2);
    assert.equal(releases.lent, 1);
  });

  it('settleSoon does nothing when nothing is lent, or when the lent piece came back in time', async () => {
    const { releases, sent } = tracked();
    releases.settleSoon();
    const giveBack = releases.lend(() => assert.fail('a piece given back in time is not copied'));
    releases.settleSoon();
    giveBack();
    await sleep(20);
    assert.equal(sent(), 1);
  });

  it('a piece whose bytes cannot be kept stays lent until its socket gives it back', () => {
    const { releases, sent } = tracked();
    const giveBack = releases.lend(() => {
      throw new Error('mremap failed');
    });
    releases.settleLent(releases.lentSoFar);
    assert.equal(sent(), 0);
    assert.equal(releases.lent, 1);
    giveBack();
    assert.equal(sent(), 1);
  });

  it('a head releases what was copied, and refuses while a piece is lent', () => {
    const { releases, sent } = tracked();
    releases.copied();
    releases.copied();
    releases.releasedByHead();
    releases.copiedDone(2);
    assert.equal(sent(), 0, 'pieces the head released are not released again');
    const giveBack = releases.lend(() => {});
    assert.throws(() => releases.releasedByHead(), /lent/);
    giveBack();
    assert.equal(sent(), 1);
  });
});
