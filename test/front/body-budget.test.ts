/**
 * The front end's budget for request bodies read whole and waiting for a thread
 * (src/front/body-budget.ts): unit tests of its rules with stand-in requests, then a real
 * server with one slow thread and sixteen clients uploading 1 MiB each.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { BodyBudget, BODIES_AHEAD } from '../../src/front/body-budget';
import { statusJson } from '../ops/ops-helpers';
import { app, request, serverFixture } from '../helpers/server';

const MiB = 1024 * 1024;

/** A stand-in for node:http's request: only pause and resume, which the budget calls. */
class FakeRequest {
  flowing = true;
  pauses = 0;
  pause(): void {
    this.flowing = false;
    this.pauses++;
  }
  resume(): void {
    this.flowing = true;
  }
}

function tracked(budget: BodyBudget): { req: FakeRequest; ticket: ReturnType<BodyBudget['track']> } {
  const req = new FakeRequest();
  return { req, ticket: budget.track(req as unknown as IncomingMessage) };
}

describe('the body budget', () => {
  it('pauses newer bodies once the waiting ones hold the budget, and resumes them oldest first', () => {
    const budget = new BodyBudget(4 * MiB);
    // Four complete bodies waiting for a thread: the budget is used up.
    const waiting = Array.from({ length: 4 }, () => tracked(budget));
    for (const { ticket } of waiting) {
      ticket.received(MiB);
      ticket.finishedReading();
    }
    assert.equal(budget.heldBytes, 4 * MiB);
    const newer = Array.from({ length: 3 }, () => tracked(budget));
    for (const { ticket } of newer) ticket.received(64 * 1024);
    assert.deepEqual(newer.map(({ req }) => req.flowing), [false, false, false], 'all three paused');
    assert.equal(budget.pausedNow, 3);
    // One body dispatched: room for some of the paused, the oldest first.
    waiting[0]!.ticket.release();
    assert.equal(newer[0]!.req.flowing, true, 'the oldest paused body reads again');
    assert.equal(newer[2]!.req.flowing, true, 'a freed megabyte makes room for all three (they hold 192 KiB)');
    for (const { ticket } of [...waiting, ...newer]) ticket.release();
    assert.equal(budget.heldBytes, 0);
    assert.equal(budget.pausedNow, 0);
    assert.equal(budget.pausesTotal, 3);
  });

  it('makes room one read at a time, in arrival order', () => {
    const budget = new BodyBudget(MiB);
    // Five complete bodies waiting (more than four: no reader is exempt), holding the budget.
    const complete = [MiB - 128 * 1024, 128 * 1024, 0, 0, 0].map((bytes) => {
      const body = tracked(budget);
      body.ticket.received(bytes);
      body.ticket.finishedReading();
      return body;
    });
    const readers = Array.from({ length: 6 }, () => tracked(budget));
    for (const { ticket } of readers) ticket.received(1);
    assert.ok(readers.every(({ req }) => !req.flowing), 'over the budget, every newer reader pauses');
    // 128 KiB freed: room for two readers at 64 KiB each, the oldest two.
    complete[1]!.ticket.release();
    assert.deepEqual(readers.map(({ req }) => req.flowing), [true, true, false, false, false, false]);
    for (const { ticket } of [...complete, ...readers]) ticket.release();
    assert.equal(budget.heldBytes, 0);
    assert.equal(budget.pausedNow, 0);
  });

  it('never stops every reader: while few bodies are complete, the oldest four keep reading', () => {
    const budget = new BodyBudget(MiB);
    // Eight partial bodies, far over the budget, none complete: no dispatch could free it.
    const readers = Array.from({ length: 8 }, () => tracked(budget));
    for (const { ticket } of readers) ticket.received(MiB / 2);
    assert.deepEqual(readers.map(({ req }) => req.flowing), [true, true, true, true, false, false, false, false]);
    // The oldest completes: the fifth is now among the oldest four still reading.
    readers[0]!.ticket.finishedReading();
    assert.equal(readers[4]!.req.flowing, true, 'the fifth reads again: it is among the oldest four');
    assert.equal(readers[5]!.req.flowing, false, 'the sixth is not');
    readers[1]!.ticket.release(); // its client went away
    assert.equal(readers[5]!.req.flowing, true, 'now the sixth is among the oldest four too');
    assert.equal(readers[6]!.req.flowing, false);
    for (const { ticket } of readers) ticket.release();
    assert.equal(budget.heldBytes, 0);
    assert.equal(budget.pausedNow, 0);
  });

  it('lets a paused body go when it stops counting (its request failed, say)', () => {
    const budget = new BodyBudget(MiB);
    const complete = Array.from({ length: 4 }, () => tracked(budget));
    for (const { ticket } of complete) {
      ticket.received(MiB / 4);
      ticket.finishedReading();
    }
    const paused = tracked(budget);
    paused.ticket.received(1);
    assert.equal(paused.req.flowing, false);
    paused.ticket.release();
    assert.equal(paused.req.flowing, true, 'node:http may read and drop the rest');
    assert.equal(budget.pausedNow, 0);
    for (const { ticket } of complete) ticket.release();
    assert.equal(budget.heldBytes, 0);
  });

  it('counts a body once, whatever order its ends come in', () => {
    const budget = new BodyBudget(MiB);
    const { ticket } = tracked(budget);
    ticket.received(1000);
    ticket.release();
    ticket.received(1000); // a late piece of a released body
    ticket.finishedReading();
    ticket.release();
    assert.equal(budget.heldBytes, 0);
  });

  it('tells a spillable body to go to its spool file once the budget is used up, and frees room when it goes', () => {
    const budget = new BodyBudget(MiB);
    const spillable = budget.trackSpillable();
    assert.equal(spillable.keep(MiB / 2), true);
    const other = budget.trackSpillable();
    assert.equal(other.keep(MiB / 4), true);
    assert.equal(other.keep(MiB / 2), false, 'over the budget: spill');
    assert.equal(budget.spillsTotal, 1);
    assert.equal(budget.heldBytes, MiB * 0.75, 'what was refused is not counted');
    other.release(); // the reader moved it to its spool file
    assert.equal(budget.heldBytes, MiB / 2);
    // A paused buffered body reads again when a spillable one's memory is freed.
    const complete = Array.from({ length: 4 }, () => tracked(budget));
    for (const { ticket } of complete) ticket.finishedReading();
    const paused = tracked(budget);
    paused.ticket.received(MiB / 2 + 1);
    assert.equal(paused.req.flowing, false);
    spillable.release();
    assert.equal(paused.req.flowing, true, 'the spillable body\'s half megabyte freed room');
    assert.equal(spillable.keep(1), false, 'a released ticket keeps nothing');
    for (const { ticket } of [...complete, paused]) ticket.release();
    assert.equal(budget.heldBytes, 0);
  });

  it('refuses a budget that is not a positive number of bytes', () => {
    assert.throws(() => new BodyBudget(0), /positive number of bytes/);
  });
});

describe('bodies waiting for a slow thread', () => {
  const server = serverFixture(['--processes', '1', '--threads', '1', '--server-status', '--chunked-request', app('slow_upload.wsgi')]);
  before(server.start);
  after(server.stop);

  it('hold no more than the budget, and every upload is answered with its own body', async () => {
    const base = server.get().url;
    const bodies = Array.from({ length: 16 }, (_, k) => Buffer.alloc(MiB, `upload ${k} `));
    let most = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const held = (await statusJson(base)).server.bodiesHeld;
        most = Math.max(most, held.bytes);
      }
    })();
    const replies = await Promise.all(bodies.map((body) => request(`${base}/?ms=40`, { method: 'POST', body, timeoutMs: 60_000 })));
    sampling = false;
    await sampler;
    replies.forEach((reply, k) => {
      assert.equal(reply.status, 200);
      assert.deepEqual(JSON.parse(reply.text), { length: MiB, sha256: createHash('sha256').update(bodies[k]!).digest('hex') }, `upload ${k}`);
    });
    const held = (await statusJson(base)).server.bodiesHeld;
    assert.equal(held.limitBytes, BODIES_AHEAD * MiB);
    assert.ok(held.pausesTotal > 0, 'bodies were paused while the thread was busy');
    assert.equal(held.pausedNow, 0);
    assert.equal(held.bytes, 0, 'every body stopped counting once its request was over');
    // The budget, plus the oldest bodies still being read when few are complete, plus a read
    // each (a socket read of up to 64 KiB may land after its body was paused).
    assert.ok(most <= (BODIES_AHEAD + 4) * MiB + bodies.length * 64 * 1024, `the bodies waiting held up to ${(most / MiB).toFixed(1)} MiB`);
  });

  it('go to spool files when chunked and over the budget, and every upload is answered with its own body', async () => {
    const base = server.get().url;
    const spillsBefore = (await statusJson(base)).server.bodiesHeld.spillsTotal;
    const bodies = Array.from({ length: 16 }, (_, k) => Buffer.alloc(MiB / 2, `chunked ${k} `));
    // No Content-Length: node's client sends the body chunked, which the front end reads whole
    // (request body spooling is on by default) into memory or, past the budget, a spool file.
    const replies = await Promise.all(
      bodies.map((body) => request(`${base}/?ms=40`, { method: 'POST', body, headers: { 'Transfer-Encoding': 'chunked' }, timeoutMs: 60_000 })),
    );
    replies.forEach((reply, k) => {
      assert.equal(reply.status, 200);
      assert.deepEqual(JSON.parse(reply.text), { length: MiB / 2, sha256: createHash('sha256').update(bodies[k]!).digest('hex') }, `upload ${k}`);
    });
    const held = (await statusJson(base)).server.bodiesHeld;
    assert.ok(held.spillsTotal > spillsBefore, 'bodies over the budget went to spool files');
    assert.equal(held.bytes, 0, 'every body stopped counting once its request was over');
  });
});
