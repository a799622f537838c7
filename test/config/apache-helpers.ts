import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  parseConfigText,
  type ConfigDiagnostic,
  type ConfigNode,
  type DirectiveNode,
  type ParseOptions,
  type ParseResult,
  type SectionNode,
} from '../../src/config/apache/index.js';

/** Shared fixtures for the Apache parser tests: node builders and a throw-away directory. */

export const FILE = '/virtual/test.conf';

export function parse(text: string, extra: Partial<ParseOptions> = {}): ParseResult {
  return parseConfigText(text, FILE, { serverRoot: '/virtual', isModuleLoaded: () => false, env: {}, ...extra });
}

/** A directive node; `rawArgs` is the argument text as written (default: the words joined by a space). */
export function dir(name: string, args: string[], line: number, file = FILE, rawArgs = args.join(' ')): DirectiveNode {
  return { kind: 'directive', name, key: name.toLowerCase(), args, rawArgs, loc: { file, line } };
}

export function sec(name: string, args: string[], line: number, children: ConfigNode[], file = FILE): SectionNode {
  return { kind: 'section', name, key: name.toLowerCase(), args, children, loc: { file, line } };
}

/** [file:line, directive] of each diagnostic: the part users navigate by. */
export function where(ds: ConfigDiagnostic[]): Array<[string, string]> {
  return ds.map((d) => [`${d.loc.file}:${d.loc.line}`, d.directive]);
}

/** A temporary directory tree built from a map of relative path -> file contents. */
export class TempTree {
  readonly root: string;

  constructor(files: Record<string, string> = {}) {
    this.root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'apache-conf-test-')));
    for (const [rel, text] of Object.entries(files)) this.write(rel, text);
  }

  path(rel: string): string {
    return path.join(this.root, rel);
  }

  write(rel: string, text: string): string {
    const p = this.path(rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
    return p;
  }

  mkdir(rel: string): string {
    const p = this.path(rel);
    fs.mkdirSync(p, { recursive: true });
    return p;
  }

  remove(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
