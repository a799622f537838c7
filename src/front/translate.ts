import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PathAlias, ScriptAlias, VirtualHostConfig } from '../config/model';

/** Where a request's URL leads, as Apache's translate-name phase decides. */
export type Translation =
  | {
      kind: 'wsgi';
      alias: ScriptAlias;
      scriptPath: string;
      scriptName: string;
      pathInfo: string;
    }
  | {
      kind: 'file';
      /** The file system path the URL names (it may not exist, or may carry path info). */
      filePath: string;
      /** The directory the mapping is rooted at; nothing outside it may be served. */
      root: string;
      /** The URL path below the mapping's prefix, starting with '/'. */
      relative: string;
      /** The URL prefix the mapping covers ('' for DocumentRoot). */
      urlPrefix: string;
    }
  | { kind: 'error'; status: 403 | 404; reason: string };

/**
 * Maps a decoded URL path to a WSGI script or a file: Alias/AliasMatch first (mod_alias runs
 * before mod_wsgi), then WSGIScriptAlias/WSGIScriptAliasMatch (first match wins), then
 * DocumentRoot.
 */
export function translate(vhost: VirtualHostConfig, urlPath: string): Translation {
  for (const alias of vhost.aliases) {
    const hit = matchAlias(alias, urlPath);
    if (hit === null) continue;
    if (alias.pattern !== null) return aliasMatchTarget(hit);
    // Joined with exactly one slash, so "Alias /static/ /srv/static" works as users mean it
    // (Apache would glue the two together and look for /srv/staticstyle.css).
    const relative = hit.rest.startsWith('/') ? hit.rest : '/' + hit.rest;
    const root = withoutTrailingSlash(hit.root);
    const filePath = relative === '/' && alias.pattern === null && !alias.urlPrefix.endsWith('/') && hit.rest === '' ? root : root + relative;
    return { kind: 'file', filePath, root, relative, urlPrefix: hit.matched };
  }
  for (const alias of vhost.scriptAliases) {
    const hit = matchAlias(alias, urlPath);
    if (hit === null) continue;
    if (alias.pattern === null && alias.urlPrefix === '') {
      // WSGIScriptAlias / : the whole URL is path info and SCRIPT_NAME is empty.
      return { kind: 'wsgi', alias, scriptPath: hit.target, scriptName: '', pathInfo: urlPath };
    }
    let stat: fs.Stats | null = null;
    try {
      stat = fs.statSync(hit.target);
    } catch {
      stat = null;
    }
    if (stat !== null && stat.isDirectory()) return scriptInDirectory(alias, hit.target, hit.matched, hit.rest);
    return { kind: 'wsgi', alias, scriptPath: hit.target, scriptName: hit.matched, pathInfo: hit.rest };
  }
  const root = vhost.documentRoot;
  return { kind: 'file', filePath: root + urlPath, root, relative: urlPath, urlPrefix: '' };
}

/**
 * AliasMatch: the substituted target is the file, as mod_alias makes it (nothing of the URL is
 * appended); it is served below the target's fixed directory part, which it cannot leave.
 */
function aliasMatchTarget(hit: AliasHit): Translation {
  const root = withoutTrailingSlash(hit.root);
  const filePath = hit.target;
  const relative = root === '/' ? filePath : filePath.slice(root.length);
  if (!filePath.startsWith(root) || (relative !== '' && !relative.startsWith('/')) || relative.split('/').includes('..')) {
    return { kind: 'error', status: 403, reason: `AliasMatch target ${filePath} is outside its directory ${root}` };
  }
  return { kind: 'file', filePath, root, relative: relative === '' ? '/' : relative, urlPrefix: hit.matched };
}

/** A directory path without trailing slashes ('/' stays '/'). */
function withoutTrailingSlash(dir: string): string {
  return dir.length > 1 ? dir.replace(/\/+$/, '') : dir;
}

interface AliasHit {
  /** The URL text the alias matched (SCRIPT_NAME for a script). */
  matched: string;
  /** The rest of the URL path. */
  rest: string;
  /** The target with $n substituted. */
  target: string;
  /** The fixed directory part of the target (for containment checks). */
  root: string;
}

function matchAlias(alias: PathAlias | ScriptAlias, urlPath: string): AliasHit | null {
  if (alias.pattern !== null) {
    const match = alias.pattern.exec(urlPath);
    if (match === null) return null;
    const target = alias.target.replace(/\$(\d)/g, (_, n: string) => match[Number(n)] ?? '');
    const fixed = alias.target.split('$')[0]!;
    return { matched: urlPath.slice(0, match.index + match[0].length), rest: urlPath.slice(match.index + match[0].length), target, root: fixed.endsWith('/') ? fixed : path.dirname(fixed) };
  }
  const prefix = alias.urlPrefix;
  if (prefix === '') return { matched: '', rest: urlPath, target: alias.target, root: alias.target };
  if (!urlPath.startsWith(prefix)) return null;
  const next = urlPath[prefix.length];
  if (!prefix.endsWith('/') && next !== undefined && next !== '/') return null;
  return { matched: prefix, rest: urlPath.slice(prefix.length), target: alias.target, root: alias.target };
}

/** WSGIScriptAlias /url/ /dir/: the first path segment names a script file in the directory. */
function scriptInDirectory(alias: ScriptAlias, dir: string, matched: string, rest: string): Translation {
  const segments = rest.split('/').filter((s) => s !== '');
  if (segments.length === 0) return { kind: 'error', status: 403, reason: `WSGI0136: Attempt to invoke directory as WSGI application: ${dir}` };
  const name = segments[0]!;
  const scriptPath = path.join(dir, name);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(scriptPath);
  } catch {
    return { kind: 'error', status: 404, reason: `WSGI0135: Target WSGI script not found or unable to stat: ${scriptPath}` };
  }
  if (stat.isDirectory()) return { kind: 'error', status: 403, reason: `WSGI0136: Attempt to invoke directory as WSGI application: ${scriptPath}` };
  const base = matched.endsWith('/') ? matched : matched + '/';
  const after = rest.slice(rest.indexOf(name) + name.length);
  return { kind: 'wsgi', alias, scriptPath, scriptName: base + name, pathInfo: after };
}
