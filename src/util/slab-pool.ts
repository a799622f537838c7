/**
 * Reusable buffers ("slabs"): for the response pieces the front end reads out of the workers'
 * shared regions, and for the request heads it writes to them. A fresh buffer each time is
 * external memory V8 gives back only at a later collection (a megabyte piece also costs page
 * faults to touch); a slab handed back once the socket is done with it costs nothing the next
 * time.
 *
 * Pieces start `skew` bytes into their slab: a kernel copy from page-aligned memory (a memory
 * file, the page cache) into a page-aligned buffer stalls on 4K aliasing (see
 * `npm run bench:region-copy`).
 */
export class SlabPool {
  private readonly free: ArrayBuffer[] = [];
  private readonly ours = new WeakSet<ArrayBufferLike>();
  private reused = 0;

  constructor(
    /** The most bytes a piece from this pool holds. */
    readonly slabBytes: number,
    /** Free slabs kept for reuse; beyond this, returned slabs are left to the garbage collector. */
    private readonly maxFree: number,
    private readonly skew = 64,
  ) {}

  /** Buffers handed out again from the free slabs, since the pool was made. */
  get reuses(): number {
    return this.reused;
  }

  /**
   * A buffer of `length` bytes, its contents undefined. Longer than a slab, it is a one-off
   * buffer (still skewed) that give() ignores.
   */
  take(length: number): Buffer {
    if (length > this.slabBytes) return Buffer.allocUnsafeSlow(this.skew + length).subarray(this.skew);
    let memory = this.free.pop();
    if (memory !== undefined) this.reused++;
    else {
      memory = Buffer.allocUnsafeSlow(this.skew + this.slabBytes).buffer as ArrayBuffer;
      this.ours.add(memory);
    }
    return Buffer.from(memory, this.skew, length);
  }

  /**
   * Gives the slab under `piece` back. The caller must not touch the piece (or any view of the
   * same slab) afterwards: the next take() may hand it out. Pieces from elsewhere are ignored.
   */
  give(piece: Buffer): void {
    const memory = piece.buffer as ArrayBuffer;
    if (!this.ours.has(memory) || this.free.length >= this.maxFree) return;
    // Twice would hand one slab to two users.
    if (this.free.includes(memory)) return;
    this.free.push(memory);
  }
}
