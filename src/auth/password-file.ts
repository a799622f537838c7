import { promises as fs } from 'node:fs';

/**
 * AuthUserFile (mod_authn_file): "user:hash" lines as htpasswd writes them for Basic, and
 * "user:realm:hash" lines as htdigest writes them for Digest; '#' comments and blank lines are
 * skipped and the first matching line counts. A file is read when a request needs it and kept
 * until its modification time or size changes. Names are bytes (latin-1 strings), as Apache
 * compares them.
 */
const cache = new Map<string, { mtimeMs: number; size: number; lines: string[][] }>();

async function entries(file: string): Promise<string[][]> {
  const stat = await fs.stat(file);
  let entry = cache.get(file);
  if (entry === undefined || entry.mtimeMs !== stat.mtimeMs || entry.size !== stat.size) {
    const lines = (await fs.readFile(file, 'latin1'))
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => line.split(':'));
    entry = { mtimeMs: stat.mtimeMs, size: stat.size, lines };
    cache.set(file, entry);
  }
  return entry.lines;
}

/** The password hash of `user`, or null if the file has no such user. Throws if it cannot be read. */
export async function passwordHashOf(file: string, user: string): Promise<string | null> {
  for (const fields of await entries(file)) if (fields[0] === user) return fields[1] ?? '';
  return null;
}

/** The htdigest hash of `user` in `realm`, or null. Throws if the file cannot be read. */
export async function realmHashOf(file: string, user: string, realm: string): Promise<string | null> {
  for (const fields of await entries(file)) if (fields[0] === user && fields[1] === realm) return fields[2] ?? '';
  return null;
}
