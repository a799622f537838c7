import * as fs from 'node:fs';
import * as path from 'node:path';
import { hasWildcard, matchesWildcard } from './wildcard.js';

/**
 * Expands the path of an Include / IncludeOptional into the list of files to read, in the order
 * httpd reads them (ap_dir_nofnmatch / ap_dir_fnmatch in server/util.c):
 *  - a directory means every entry in it (dot files too) and, recursively, in its subdirectories,
 *    each directory sorted by byte order;
 *  - wildcards may appear in any component; a wildcard in a directory component only matches real
 *    directories (httpd uses the readdir type, so a symlink to a directory is not followed there),
 *    a wildcard in the last component may match a directory, which is then read recursively;
 *  - Include fails when a wildcard matches nothing; IncludeOptional ignores that, and ignores a
 *    missing file or directory; neither ignores an unreadable directory;
 *  - a missing plain file is returned as is: reading it produces the "could not open" error
 *    (Include) or it is skipped here (IncludeOptional).
 */

/** httpd's AP_MAX_FNMATCH_DIR_DEPTH: stops a symlink loop inside an included directory. */
export const MAX_INCLUDE_DIR_DEPTH = 128;

export interface IncludeExpansion {
  files: string[];
  /** The first problem met; httpd stops the walk there, and so do we. */
  error?: string;
}

export function expandIncludePath(absolutePath: string, optional: boolean): IncludeExpansion {
  const walk = new IncludeWalk(optional);
  let error: string | undefined;
  if (!hasWildcard(absolutePath)) {
    error = walk.plainPath(absolutePath);
  } else {
    const root = path.parse(absolutePath).root;
    error = walk.wildcardPath(root, absolutePath.slice(root.length));
  }
  return error === undefined ? { files: walk.files } : { files: walk.files, error };
}

class IncludeWalk {
  readonly files: string[] = [];
  private dirDepth = 0;

  constructor(private readonly optional: boolean) {}

  /** A path without wildcards: a directory is read recursively, anything else is a file. */
  plainPath(p: string): string | undefined {
    const st = statOrUndefined(p);
    if (st?.isDirectory()) {
      if (++this.dirDepth > MAX_INCLUDE_DIR_DEPTH) {
        return `Directory '${p}' exceeds the maximum include directory nesting level of ${MAX_INCLUDE_DIR_DEPTH}; there is probably a symbolic link pointing back up the tree`;
      }
      let names: string[];
      try {
        names = fs.readdirSync(p);
      } catch (e) {
        return `Could not open directory ${p}: ${describeFsError(e)}`;
      }
      for (const name of names.sort(byteOrder)) {
        const err = this.plainPath(path.join(p, name));
        if (err !== undefined) return err;
      }
      this.dirDepth--;
      return undefined;
    }
    if (this.optional && st === undefined) return undefined;
    this.files.push(p);
    return undefined;
  }

  /** `rest` is the remaining pattern below `dir`, components separated by '/'. */
  wildcardPath(dir: string, rest: string): string | undefined {
    const slash = rest.indexOf('/');
    const component = slash < 0 ? rest : rest.slice(0, slash);
    const below = slash < 0 ? undefined : rest.slice(slash + 1);

    if (!hasWildcard(component)) {
      const next = path.join(dir, component);
      return below === undefined ? this.plainPath(next) : this.wildcardPath(next, below);
    }

    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      if (this.optional && (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      return `Could not open directory ${dir}: ${describeFsError(e)}`;
    }
    const matches = entries
      .filter((d) => matchesWildcard(component, d.name) && (below === undefined || d.isDirectory()))
      .map((d) => d.name)
      .sort(byteOrder);
    if (matches.length === 0) {
      if (this.optional) return undefined;
      return `No matches for the wildcard '${component}' in '${dir}'; Include requires at least one match (use IncludeOptional to allow none)`;
    }
    for (const name of matches) {
      const next = path.join(dir, name);
      const err = below === undefined ? this.plainPath(next) : this.wildcardPath(next, below);
      if (err !== undefined) return err;
    }
    return undefined;
  }
}

/** httpd sorts with strcmp, i.e. by bytes: 'B.conf' before 'a.conf', '10' before '9'. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function statOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p);
  } catch {
    return undefined;
  }
}

export function describeFsError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string') {
    const reason: Record<string, string> = {
      ENOENT: 'no such file or directory',
      EACCES: 'permission denied',
      ENOTDIR: 'a component of the path is not a directory',
      EISDIR: 'is a directory',
      ELOOP: 'too many levels of symbolic links',
      ENAMETOOLONG: 'file name too long',
    };
    return `${reason[err.code] ?? err.message} (${err.code})`;
  }
  return String(e);
}
