import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Directory listings as mod_autoindex writes them without FancyIndexing: a plain <ul> of links,
 * "Parent Directory" first, then the entries sorted by name as strcmp orders bytes, directories
 * with a trailing '/'.
 */

export interface ListingEntry {
  /** The file name, as text (file names that are not valid UTF-8 are never listed). */
  name: string;
  directory: boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A byte string's text if it is valid UTF-8, else null. */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * The entries a listing shows, as mod_autoindex picks them: what a request for the entry would be
 * refused (a symbolic link without FollowSymLinks, a dangling link, something that is neither a
 * file nor a directory) is left out, and so are dot files (the default `IndexIgnore .??*`, and
 * `.ht*` which the server refuses anyway). Names that are not UTF-8 are left out too: no URL this
 * server decodes can reach them.
 */
export async function readListing(dir: string, followSymlinks: boolean): Promise<ListingEntry[]> {
  const dirents = await fs.promises.readdir(dir, { withFileTypes: true, encoding: 'buffer' });
  const entries = await Promise.all(
    dirents.map(async (dirent): Promise<ListingEntry | null> => {
      const name = decodeUtf8(dirent.name);
      if (name === null || name.startsWith('.')) return null;
      if (dirent.isSymbolicLink()) {
        if (!followSymlinks) return null;
        try {
          const target = await fs.promises.stat(path.join(dir, name));
          if (target.isDirectory()) return { name, directory: true };
          return target.isFile() ? { name, directory: false } : null;
        } catch {
          return null;
        }
      }
      if (dirent.isDirectory()) return { name, directory: true };
      return dirent.isFile() ? { name, directory: false } : null;
    }),
  );
  return entries.filter((entry): entry is ListingEntry => entry !== null);
}

/** The listing page for the directory at `urlPath` (the decoded URL path, one latin-1 character per byte). */
export function renderListing(urlPath: string, entries: readonly ListingEntry[]): string {
  const bytes = Buffer.from(urlPath, 'latin1');
  // The title is the URL path without its trailing slashes ("/" stays "/").
  let titlePath = decodeUtf8(bytes) ?? bytes.toString('latin1');
  while (titlePath.length > 1 && titlePath.endsWith('/')) titlePath = titlePath.slice(0, -1);
  const title = escapeHtml(titlePath);

  const items: string[] = [];
  const parent = parentPath(urlPath);
  if (parent !== null) items.push(`<li><a href="${escapeHtml(escapePath(Buffer.from(parent, 'latin1'), true))}"> Parent Directory</a></li>`);
  const sorted = entries
    .map((entry) => ({ entry, key: Buffer.from(entry.directory ? entry.name + '/' : entry.name, 'utf8') }))
    .sort((a, b) => Buffer.compare(a.key, b.key));
  for (const { entry } of sorted) {
    const shown = entry.directory ? entry.name + '/' : entry.name;
    const href = escapePath(Buffer.from(entry.name, 'utf8'), false) + (entry.directory ? '/' : '');
    items.push(`<li><a href="${escapeHtml(href)}"> ${escapeHtml(shown)}</a></li>`);
  }
  return (
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n' +
    `<html>\n <head>\n  <title>Index of ${title}</title>\n </head>\n <body>\n` +
    `<h1>Index of ${title}</h1>\n` +
    `<ul>${items.map((item) => item + '\n').join('')}</ul>\n` +
    '</body></html>\n'
  );
}

/** The parent of a directory URL path ("/a/b/" -> "/a/"); null for "/", which has none. */
function parentPath(urlPath: string): string | null {
  const trimmed = urlPath.replace(/\/+$/, '');
  if (trimmed === '') return null;
  return trimmed.slice(0, trimmed.lastIndexOf('/') + 1);
}

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * Percent-encodes bytes for a URL path: everything but RFC 3986's unreserved characters (and '/'
 * when `keepSlash`), so that a name with ':' can never read as a scheme, nor '?', '#' or '%' change
 * the meaning of a link.
 */
export function escapePath(bytes: Uint8Array, keepSlash: boolean): string {
  let out = '';
  for (const byte of bytes) {
    const ch = String.fromCharCode(byte);
    if ((byte < 0x80 && UNRESERVED.test(ch)) || (keepSlash && ch === '/')) out += ch;
    else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch]!);
}
