import * as path from 'node:path';
import type { DirectorySettings, Section, VirtualHostConfig } from '../config/model';

/**
 * The settings layers that apply to a request, in Apache's merge order: the server and virtual
 * host settings; <Directory> sections from the shortest path to the longest; <DirectoryMatch>;
 * <Files>/<FilesMatch> (top level, then those nested in applicable directories); <Location> and
 * <LocationMatch> in the order they appear.
 */
export function settingsLayers(vhost: VirtualHostConfig, urlPath: string, filePath: string | null): DirectorySettings[] {
  const layers: DirectorySettings[] = [vhost.settings];
  const directoryFiles: Section[] = [];
  if (filePath !== null) {
    const dirs = vhost.sections.filter((s) => s.kind === 'directory' && s.pattern === null && directoryMatches(s.path, filePath));
    dirs.sort((a, b) => depth(a.path) - depth(b.path));
    for (const dir of dirs) {
      layers.push(dir.settings);
      directoryFiles.push(...dir.files);
    }
    const dirOf = filePath.endsWith('/') ? filePath : path.dirname(filePath) + '/';
    for (const section of vhost.sections) {
      if (section.kind === 'directory' && section.pattern !== null && (section.pattern.test(dirOf) || section.pattern.test(filePath))) {
        layers.push(section.settings);
        directoryFiles.push(...section.files);
      }
    }
    const base = path.basename(filePath);
    for (const section of [...vhost.sections.filter((s) => s.kind === 'files'), ...directoryFiles]) {
      if (section.pattern !== null ? section.pattern.test(base) : wildcardMatch(section.path, base)) layers.push(section.settings);
    }
  }
  for (const section of vhost.sections) {
    if (section.kind !== 'location') continue;
    if (section.pattern !== null ? section.pattern.test(urlPath) : locationMatches(section.path, urlPath)) layers.push(section.settings);
  }
  return layers;
}

function depth(dir: string): number {
  return dir.split('/').filter((p) => p !== '').length;
}

/** <Directory /a/b> applies to /a/b itself and everything under it; wildcards match one component each. */
function directoryMatches(sectionPath: string, filePath: string): boolean {
  const want = sectionPath.split('/').filter((p) => p !== '');
  const have = filePath.split('/').filter((p) => p !== '');
  if (want.length > have.length) return false;
  for (let i = 0; i < want.length; i++) if (!wildcardMatch(want[i]!, have[i]!)) return false;
  return true;
}

/** <Location /a> applies to /a, /a/ and /a/..., not /abc (Apache's location walk compares whole segments). */
function locationMatches(sectionPath: string, urlPath: string): boolean {
  if (sectionPath === '/') return true;
  if (/[*?[]/.test(sectionPath)) return wildcardMatch(sectionPath, urlPath) || wildcardMatch(sectionPath + '/*', urlPath);
  if (!urlPath.startsWith(sectionPath)) return false;
  const next = urlPath[sectionPath.length];
  return sectionPath.endsWith('/') || next === undefined || next === '/';
}

const wildcardCache = new Map<string, RegExp>();

export function wildcardMatch(pattern: string, text: string): boolean {
  if (!/[*?[]/.test(pattern)) return pattern === text;
  let regex = wildcardCache.get(pattern);
  if (regex === undefined) {
    let source = '^';
    for (let i = 0; i < pattern.length; i++) {
      const ch = pattern[i]!;
      if (ch === '*') source += '[^/]*';
      else if (ch === '?') source += '[^/]';
      else if (ch === '[') {
        const close = pattern.indexOf(']', i + 1);
        if (close < 0) source += '\\[';
        else {
          source += '[' + pattern.slice(i + 1, close).replace(/^!/, '^').replace(/\\/g, '\\\\') + ']';
          i = close;
        }
      } else source += ch.replace(/[.+^${}()|\\]/g, '\\$&');
    }
    regex = new RegExp(source + '$');
    wildcardCache.set(pattern, regex);
  }
  return regex.test(text);
}
