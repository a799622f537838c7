import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StartupError } from './startup-error';

/**
 * Users and groups: who the daemon processes run as (WSGIDaemonProcess user=/group=, User,
 * Group, start-server --user/--group), the front end dropping to User once its ports are bound
 * (as Apache's children do), and which directories a user can reach.
 */

/** A user to run as, resolved from the system's user database. */
export interface Credentials {
  name: string;
  uid: number;
  gid: number;
  /** Every group the user is in (primary and supplementary), as initgroups() gives them. */
  groups: number[];
  home: string;
}

export function runningAsRoot(): boolean {
  return process.getuid?.() === 0;
}

function getent(database: 'passwd' | 'group', key: string): string[] | null {
  const result = spawnSync('getent', [database, key], { encoding: 'utf8', timeout: 10_000 });
  if (result.status !== 0 || typeof result.stdout !== 'string') return null;
  const line = result.stdout.split('\n')[0] ?? '';
  return line === '' ? null : line.split(':');
}

/**
 * Resolves a user (a name, or #uid as Apache writes it) and optionally a group (name or #gid;
 * default: the user's primary group). `where` says which directive or flag named them.
 */
export function resolveCredentials(user: string, group: string | null, where: string): Credentials {
  const userKey = user.startsWith('#') ? user.slice(1) : user;
  const entry = getent('passwd', userKey);
  if (entry === null || entry.length < 7) throw new StartupError(`The user '${user}' (${where}) does not exist on this system; create it (useradd) or name another.`);
  const name = entry[0]!;
  const uid = Number(entry[2]);
  let gid = Number(entry[3]);
  if (group !== null) {
    const groupKey = group.startsWith('#') ? group.slice(1) : group;
    const groupEntry = getent('group', groupKey);
    if (groupEntry === null || groupEntry.length < 3) throw new StartupError(`The group '${group}' (${where}) does not exist on this system; create it (groupadd) or name another.`);
    gid = Number(groupEntry[2]);
  }
  const ids = spawnSync('id', ['-G', name], { encoding: 'utf8', timeout: 10_000 });
  const groups = new Set<number>([gid]);
  if (ids.status === 0 && typeof ids.stdout === 'string') for (const id of ids.stdout.trim().split(/\s+/)) if (/^\d+$/.test(id)) groups.add(Number(id));
  return { name, uid, gid, groups: [...groups].sort((a, b) => a - b), home: entry[5]! };
}

/** The first directory on the way to `dir` that `who` may not pass through, or null if it can reach it. */
export function unreachableDirectory(dir: string, who: Credentials): string | null {
  if (who.uid === 0) return null;
  let current = path.resolve(dir);
  const chain: string[] = [];
  for (;;) {
    chain.unshift(current);
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const step of chain) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(step);
    } catch {
      return null; // created later, by the server, with the right owner
    }
    const mode = stat.mode;
    const passes = stat.uid === who.uid ? (mode & 0o100) !== 0 : who.groups.includes(stat.gid) ? (mode & 0o010) !== 0 : (mode & 0o001) !== 0;
    if (!passes) return step;
  }
  return null;
}

/**
 * The front end becomes `who` for good: supplementary groups, group, then user, so it cannot
 * return to root. Done once the listening ports are bound and the logs opened.
 */
export function dropFrontEnd(who: Credentials): void {
  process.setgroups!(who.groups);
  process.setgid!(who.gid);
  process.setuid!(who.uid);
}

/** The environment variable the worker bootstrap reads to drop to the group's user. */
export const CREDENTIALS_ENV = 'WSGI_HOST_CREDENTIALS';

/** The worker bootstrap's instruction: "uid:gid:name" (user names hold no colon). */
export function credentialsForWorker(who: Credentials): string {
  return `${who.uid}:${who.gid}:${who.name}`;
}
