import { promises as fs } from 'node:fs';

/**
 * AuthGroupFile (mod_authz_groupfile): lines of "group: user user ...", '#' comments. The file
 * is read when a request needs it and kept until its modification time or size changes. Names
 * are compared as bytes (latin-1 strings), as Apache compares them.
 */
const cache = new Map<string, { mtimeMs: number; size: number; groups: Map<string, Set<string>> }>();

/** The groups `user` is in; throws if the file cannot be read. */
export async function groupsOfUser(file: string, user: string): Promise<Set<string>> {
  const stat = await fs.stat(file);
  let entry = cache.get(file);
  if (entry === undefined || entry.mtimeMs !== stat.mtimeMs || entry.size !== stat.size) {
    entry = { mtimeMs: stat.mtimeMs, size: stat.size, groups: parseGroupFile(await fs.readFile(file, 'latin1')) };
    cache.set(file, entry);
  }
  const groups = new Set<string>();
  for (const [group, members] of entry.groups) if (members.has(user)) groups.add(group);
  return groups;
}

function parseGroupFile(text: string): Map<string, Set<string>> {
  const groups = new Map<string, Set<string>>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const name = (colon < 0 ? line : line.slice(0, colon)).trimEnd();
    const members = colon < 0 ? [] : line.slice(colon + 1).split(/\s+/).filter((m) => m !== '');
    const set = groups.get(name) ?? new Set<string>();
    for (const member of members) set.add(member);
    groups.set(name, set);
  }
  return groups;
}
