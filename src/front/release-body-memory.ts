import { nativeAddon } from '../util/native-addon';

/**
 * Frees the memory of request body pieces the front end is done with, without waiting for V8.
 *
 * Why: a body read whole before dispatch waits in the queue long enough for V8 to move its
 * pieces to the old generation, whose garbage only a full mark-compact frees. With 32 clients
 * uploading 1 MiB each, that was a mark-compact every 80 ms (each triggered by the external
 * memory the bodies hold) and nearly 200 MiB resident in the front end, mostly bodies already
 * passed on.
 *
 * How: with native/body_memory.c built, a piece's ArrayBuffer is detached, which gives its
 * memory back to malloc at once, for the next body to reuse: under 32 clients uploading 1 MiB
 * the front end's malloc heap went from 52 to 36 MiB (36 being the bodies still buffered)
 * and its RSS from 95 to 84 MiB. Without the addon, the memory is transferred to a new
 * ArrayBuffer instead: the old one is detached, the new one is young and unreachable, and the
 * next scavenge frees it.
 *
 * Only pieces that are the whole of their memory are released: a piece sharing its memory (Node's
 * small-buffer pool) stays with the garbage collector. The caller must hold the only reference to
 * the pieces, and nothing may be reading them still (a socket write included): a detached piece
 * reads as empty.
 */
export function releaseBodyMemory(pieces: readonly Buffer[]): void {
  for (const piece of pieces) {
    const memory = piece.buffer;
    if (!(memory instanceof ArrayBuffer) || piece.byteOffset !== 0 || piece.byteLength !== memory.byteLength || memory.byteLength === 0) continue;
    if (native !== null && native.free(memory)) continue;
    try {
      structuredClone(memory, { transfer: [memory] });
    } catch {
      // Not transferable (held by the runtime): the garbage collector frees it in its time.
    }
  }
}

interface BodyMemoryAddon {
  /** Detaches `memory`, freeing what it alone holds; false if V8 would not detach it. */
  free(memory: ArrayBuffer): boolean;
}

/** native/body_memory.c; without it, bodies are freed at the next scavenge. */
const native = nativeAddon<BodyMemoryAddon>('body_memory');

/** Whether bodies are freed at once (the addon is built) rather than at the next scavenge. */
export function freesBodyMemoryAtOnce(): boolean {
  return native !== null;
}
