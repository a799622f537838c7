import { nativeAddon } from './native-addon';

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

/**
 * Gives back the front end's resident pages of the node binary and its libraries that only
 * start-up needed (native/startup_pages.c says which and why it is safe); null when the addon
 * is not built. Throws if /proc cannot be read. Measured with 32 connections of hello load, the
 * binary's resident part goes from about 40 to 26 MiB, and at idle from 38 to 16 MiB; the
 * libraries' from about 3.5 to 2.5 MiB: what comes back is what the front end really runs.
 *
 * Called when the server has started, when everything it ran only to start is behind it, and
 * then every WSGI_HOST_PAGE_RELEASE_SECONDS (server.ts): each time, what the front end still
 * runs comes back as it runs (minor faults from the page cache).
 */
export function releaseStartupPages(): StartupPagesReport | null {
  // Without native/startup_pages.c the pages stay, as they would anyway.
  const native = nativeAddon<StartupPagesAddon>('startup_pages');
  return native === null ? null : native.release();
}
