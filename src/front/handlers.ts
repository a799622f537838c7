import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ResolvedSettings } from '../config/model';

/**
 * The handler for a file-mapped request: SetHandler wins, else AddHandler by the file's
 * extension (Apache's mod_mime matches every extension of the name, the last one winning),
 * else null for the default (static) handler.
 */
export function handlerFor(settings: ResolvedSettings, filePath: string): string | null {
  if (settings.setHandler !== null) return settings.setHandler;
  const names = Object.keys(settings.addHandlers);
  if (names.length === 0) return null;
  const parts = path.basename(filePath).toLowerCase().split('.').slice(1);
  let handler: string | null = null;
  for (const ext of parts) {
    const found = settings.addHandlers[ext];
    if (found !== undefined) handler = found;
  }
  return handler;
}

/**
 * Splits a file-mapped path into what exists and the path info after it, as Apache's directory
 * walk does: the longest existing prefix of the path within `root` (a file, or a directory).
 * Null if not even `root` exists.
 */
export interface FoundPath {
  path: string;
  pathInfo: string;
  isFile: boolean;
}

export function existingPrefix(filePath: string, root: string): FoundPath | null {
  const rootNormal = path.resolve(root);
  let candidate = path.resolve(filePath);
  let pathInfo = '';
  for (;;) {
    if (candidate !== rootNormal && !candidate.startsWith(rootNormal + path.sep)) return null;
    let stat: fs.Stats | null = null;
    try {
      stat = fs.statSync(candidate);
    } catch {
      stat = null;
    }
    if (stat !== null) {
      // Path info only ever follows a file: below a directory, a missing name is just missing.
      if (!stat.isFile() && pathInfo !== '') return null;
      return { path: candidate, pathInfo, isFile: stat.isFile() };
    }
    const parent = path.dirname(candidate);
    if (parent === candidate) return null;
    pathInfo = '/' + path.basename(candidate) + pathInfo;
    candidate = parent;
  }
}
