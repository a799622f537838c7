import { PerformanceObserver } from 'node:perf_hooks';
import * as v8 from 'node:v8';

/**
 * Stops V8's young generation (new space) of the front end from growing once it has reached a
 * size. (V8 doubles it at a scavenge: in a burst it can grow at two scavenges in a row before the
 * check below runs, and so pass the cap by one doubling.)
 *
 * Why: under load V8 grows the new space to its maximum, 32 MiB in Node 20, and the pages stay
 * resident: a quarter of the front end's memory. Measured with 32 connections (A/B, 4 rounds),
 * an 8 MiB cap takes the front end's RSS from 96 to 79 MiB on hello, 93 to 81 on Flask and 96
 * to 80 on 1 MiB downloads, for about 2 µs more scavenging per hello request (a smaller new space
 * is scavenged more often; its survivors, the requests in flight, are the same).
 *
 * How: the maximum new space size can only be given on node's command line, which a server
 * started as `wsgi-host start-server` does not control. V8 grows the new space by
 * --semi-space-growth-factor at a scavenge, and reads that flag each time; so after each
 * scavenge the factor is set to 1 (no growth) once the new space has reached the cap, and back to
 * V8's 2 when V8 has shrunk it (it does when allocation slows down). A growth factor given on
 * node's own command line is overridden while the cap is in force.
 */

/** V8's own growth factor, restored below the cap. */
const V8_GROWTH_FACTOR = 2;

const NEW_SPACE = 'new_space';

let observer: PerformanceObserver | null = null;
let users = 0;
let capBytes = 0;
let atCap = false;

/** The current size of the new space, in bytes (0 if V8 does not report one). */
export function newSpaceBytes(): number {
  for (const space of v8.getHeapSpaceStatistics()) {
    if (space.space_name === NEW_SPACE) return space.space_size;
  }
  return 0;
}

function setGrowthFactor(factor: number): boolean {
  try {
    v8.setFlagsFromString(`--semi-space-growth-factor=${factor}`);
    return true;
  } catch {
    // A node whose V8 flags are frozen after start-up: the new space keeps V8's sizing.
    return false;
  }
}

function check(): void {
  const full = newSpaceBytes() >= capBytes;
  if (full === atCap) return;
  if (setGrowthFactor(full ? 1 : V8_GROWTH_FACTOR)) atCap = full;
}

/** The cap in force, in bytes; 0 when there is none. */
export function youngGenerationCap(): number {
  return observer === null ? 0 : capBytes;
}

/**
 * Caps the new space at `maxBytes` until the returned function is called (once per call of
 * this). The cap is process-wide: with several callers (servers in one process, as in tests),
 * the first caller's size holds and the cap lifts when the last one is done.
 */
export function capYoungGeneration(maxBytes: number): () => void {
  if (!(maxBytes > 0)) throw new Error(`the young generation cap must be a positive number of bytes, not ${maxBytes}`);
  users++;
  if (observer === null) {
    capBytes = maxBytes;
    atCap = false;
    // Only scavenges resize the new space; the entries come in batches after them, soon
    // enough since V8 grows it only after several scavenges with many survivors.
    observer = new PerformanceObserver(check);
    observer.observe({ entryTypes: ['gc'] });
    check();
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--users > 0 || observer === null) return;
    observer.disconnect();
    observer = null;
    if (atCap) setGrowthFactor(V8_GROWTH_FACTOR);
    atCap = false;
  };
}
