/**
 * The front end's read-only mapping of a worker's response region (native/region_map.c, built
 * by `npm run build` into dist/native). With it a large response piece goes to the client's
 * socket straight from the worker's memory; without it (no C compiler at build time, not Linux,
 * or WSGI_HOST_REGION_MAP=off) each piece is first copied out with pread.
 */
import { nativeAddon } from '../util/native-addon';

interface RegionMapper {
  /** An ArrayBuffer over the file's first `size` bytes; null unless it is sealed against shrinking. */
  map(fd: number, size: number): ArrayBuffer | null;
  /** Makes [offset, offset + length) of a mapping a private copy of what it holds now, in place. */
  snapshot(mapping: ArrayBuffer, offset: number, length: number): void;
}


let loaded: RegionMapper | null | undefined;

function mapper(): RegionMapper | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.env['WSGI_HOST_REGION_MAP'] === 'off') return loaded;
  // Not built: pieces are copied instead (response-region.ts).
  loaded = nativeAddon<RegionMapper>('region_map');
  return loaded;
}

/** Whether regions can be mapped in this front end (the addon is built and not turned off). */
export function regionMappingAvailable(): boolean {
  return mapper() !== null;
}

/**
 * Maps `size` bytes of region file `fd`; null when mapping is unavailable, the worker did not
 * seal the file, or mmap fails (the caller copies with pread then: slower, never wrong).
 */
/**
 * Makes a view of a mapping keep its bytes whatever the worker writes to its region from now on
 * (the view's pages become a private copy, in place). Throws if that fails.
 */
export function snapshotView(view: Buffer): void {
  const native = mapper();
  if (native === null) throw new Error('region mapping is not available');
  native.snapshot(view.buffer as ArrayBuffer, view.byteOffset, view.length);
}

export function mapRegion(fd: number, size: number): ArrayBuffer | null {
  const native = mapper();
  if (native === null) return null;
  try {
    return native.map(fd, size);
  } catch {
    return null;
  }
}
