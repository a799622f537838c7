import * as path from 'node:path';

/** What a release did. */
export interface StartupPagesReport {
  /** Size of the clean mappings dropped. */
  releasedBytes: number;
  /** How much of them was resident just before. */
  residentBeforeBytes: number;
  /** How many mappings were dropped. */
  mappings: number;
}

interface StartupPagesAddon {
  release(): StartupPagesReport;
}

/** native/startup_pages.c, built by `npm run build` into dist/native; null where it is not built. */
function addon(): StartupPagesAddon | null {
  try {
    return require(path.resolve(__dirname, '..', '..', 'native', 'startup_pages.node')) as StartupPagesAddon;
  } catch {
    return null; // no C compiler at build time, or not Linux: the pages stay, as they would anyway
  }
}

/**
 * Gives back the front end's resident pages of the node binary and its libraries that only
 * start-up needed (native/startup_pages.c says which and why it is safe); null when the addon
 * is not built. Throws if /proc cannot be read. Measured with 32 connections of hello load, the
 * binary's resident part goes from about 40 to 26 MiB, and at idle from 38 to 16 MiB; the
 * libraries' from about 3.5 to 2.5 MiB: what comes back is what the front end really runs.
 *
 * Called once, when the server has started: everything it ran only to start is behind it, and
 * the first requests bring back the pages they need (minor faults from the page cache, once).
 */
export function releaseStartupPages(): StartupPagesReport | null {
  const native = addon();
  return native === null ? null : native.release();
}
