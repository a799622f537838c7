import * as path from 'node:path';

const loaded = new Map<string, unknown>();

/**
 * native/NAME.c as `npm run build` builds it into dist/native/NAME.node, loaded once; null
 * where it is not built (no C compiler at build time, or not Linux). Every addon is optional:
 * each caller says what the front end does without it.
 */
export function nativeAddon<T>(name: string): T | null {
  if (!loaded.has(name)) {
    let addon: unknown = null;
    try {
      addon = require(path.resolve(__dirname, '..', '..', 'native', `${name}.node`));
    } catch {
      // Not built: the caller's fallback.
    }
    loaded.set(name, addon);
  }
  return loaded.get(name) as T | null;
}
