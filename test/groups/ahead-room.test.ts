/**
 * How many requests may wait ahead in one busy thread (ThreadSlot.canTakeAhead): as many as
 * would all have started within the send-ahead limit at the thread's average run time, at least
 * one and at most MAX_AHEAD. The end-to-end behaviour is in send-ahead.test.ts.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { aheadRoom, MAX_AHEAD } from '../../src/groups/thread-slot';

describe('room for requests ahead in a thread', () => {
  it('is MAX_AHEAD (8) for requests far shorter than the limit', () => {
    assert.equal(MAX_AHEAD, 8);
    assert.equal(aheadRoom(0.05, 2), MAX_AHEAD);
    assert.equal(aheadRoom(0.2, 2), MAX_AHEAD);
  });

  it('holds what starts within the limit: with 0.5 ms requests and a 2 ms limit, the current one and three more', () => {
    assert.equal(aheadRoom(0.5, 2), 3);
    assert.equal(aheadRoom(0.4, 2), 4);
    assert.equal(aheadRoom(1, 2), 1);
  });

  it('is one for requests close to the limit (whether a thread takes any is decided apart from this)', () => {
    assert.equal(aheadRoom(1.9, 2), 1);
    assert.equal(aheadRoom(5, 2), 1);
  });

  it('is MAX_AHEAD before any run time is known', () => {
    assert.equal(aheadRoom(0, 2), MAX_AHEAD);
  });
});
