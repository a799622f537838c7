import type { ScriptMount } from '../config/model';

export interface MountMatch {
  mount: ScriptMount;
  scriptName: string;
  pathInfo: string;
}

/**
 * Finds the WSGIScriptAlias serving `path` (decoded, slashes merged). As in mod_alias and
 * mod_wsgi, the first configured match wins and a prefix matches only at a path-segment
 * boundary: "/app" serves "/app" and "/app/x", not "/application".
 */
export function matchMount(mounts: readonly ScriptMount[], path: string): MountMatch | null {
  for (const mount of mounts) {
    const prefix = mount.urlPrefix;
    if (prefix === '') return { mount, scriptName: '', pathInfo: path };
    if (path === prefix || (path.startsWith(prefix) && (prefix.endsWith('/') || path[prefix.length] === '/'))) {
      return { mount, scriptName: prefix, pathInfo: path.slice(prefix.length) };
    }
  }
  return null;
}
