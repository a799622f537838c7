import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * mkdir -p, one level at a time: Node's recursive mkdir can spin for ever on file systems that
 * refuse mkdir with ENOENT (such as /proc).
 */
export function makeDirectories(dir: string, mode = 0o755): void {
  const missing: string[] = [];
  let current = path.resolve(dir);
  while (!fs.existsSync(current)) {
    missing.push(current);
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const each of missing.reverse()) fs.mkdirSync(each, { mode });
}
