import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ConditionContext } from './conditions.js';
import { DiagnosticSink } from './diagnostics.js';
import { FileParser } from './file-parser.js';
import { describeFsError, expandIncludePath } from './include-paths.js';
import type { ConfigNode, ParseOptions, ParseResult, SourceLocation } from './types.js';

/** httpd's AP_MAX_INCLUDE_DEPTH: how many Include directives may be nested inside each other. */
export const MAX_INCLUDE_DEPTH = 128;

/** Where an Include came from, so problems with the included file point at that line. */
export interface IncludeSite {
  loc: SourceLocation;
  directive: string;
}

/**
 * State that lives across every file of one configuration, exactly the state httpd changes while
 * reading (EXEC_ON_READ): defined names and values, the current ServerRoot, and the chain of files
 * being read, which turns include cycles and runaway nesting into errors instead of a stack
 * overflow.
 */
export class ParseSession implements ConditionContext {
  readonly sink = new DiagnosticSink();
  private root: string;
  /** Names visible to <IfDefine>: -D names plus Define'd ones. */
  private readonly defined = new Set<string>();
  /** Only `Define NAME value` gives ${NAME} a value; a bare `Define NAME` does not (as in httpd). */
  private readonly values = new Map<string, string>();
  private readonly env: Record<string, string | undefined>;
  private readonly moduleTest: (name: string) => boolean;
  /** Real paths of the files being read, outermost first. */
  private readonly fileStack: string[] = [];

  constructor(options: ParseOptions) {
    this.root = path.resolve(options.serverRoot);
    for (const name of options.defines ?? []) this.defined.add(name);
    this.env = options.env ?? process.env;
    this.moduleTest = (name) => options.isModuleLoaded(name);
  }

  serverRoot(): string {
    return this.root;
  }

  setServerRoot(dir: string): void {
    this.root = dir;
  }

  isDefined(name: string): boolean {
    return this.defined.has(name);
  }

  isModuleLoaded(name: string): boolean {
    return this.moduleTest(name);
  }

  define(name: string, value: string | undefined): void {
    this.defined.add(name);
    if (value !== undefined) this.values.set(name, value);
  }

  undefine(name: string): void {
    this.defined.delete(name);
    this.values.delete(name);
  }

  lookupVariable(name: string): string | undefined {
    return this.values.get(name) ?? this.env[name];
  }

  /** Parses `text` as the contents of `file` (absolute), appending its nodes to `target`. */
  parseText(text: string, file: string, target: ConfigNode[]): void {
    this.fileStack.push(realPathOr(file));
    try {
      new FileParser(this, file, target).parse(text);
    } finally {
      this.fileStack.pop();
    }
  }

  /** Reads and parses one file; `site` is the Include that asked for it (none for the top file). */
  readFile(file: string, target: ConfigNode[], site?: IncludeSite): void {
    let text: string;
    try {
      // A FIFO or device would block or never end; httpd refuses anything but regular files too.
      if (!fs.statSync(file).isFile() && file !== '/dev/null') {
        this.fileProblem(file, site, 'it is not a regular file; name a file, a directory or a wildcard');
        return;
      }
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
      const hint = missing && site?.directive.toLowerCase() === 'include' ? '; check the path, or use IncludeOptional if the file may be absent' : '';
      this.fileProblem(file, site, describeFsError(e) + hint);
      return;
    }
    this.parseText(text, file, target);
  }

  /** Include / IncludeOptional: `pattern` as written, resolved against the current ServerRoot. */
  include(pattern: string, optional: boolean, site: IncludeSite, target: ConfigNode[]): void {
    const absolute = path.resolve(this.root, pattern);
    const { files, error } = expandIncludePath(absolute, optional);
    for (const file of files) {
      const key = realPathOr(file);
      const cycleStart = this.fileStack.indexOf(key);
      if (cycleStart >= 0) {
        const chain = [...this.fileStack.slice(cycleStart), key].join(' -> ');
        this.sink.error(site.loc, site.directive, `Include cycle: ${chain}; a file must not include itself, directly or through other files`);
        continue;
      }
      if (this.fileStack.length > MAX_INCLUDE_DEPTH) {
        this.sink.error(site.loc, site.directive, `Exceeded the maximum include depth of ${MAX_INCLUDE_DEPTH} while including ${file}; Include directives may be nested at most ${MAX_INCLUDE_DEPTH} deep`);
        return;
      }
      this.readFile(file, target, site);
    }
    if (error !== undefined) {
      const relative = path.isAbsolute(pattern) ? '' : ` (relative paths are resolved against ServerRoot ${this.root})`;
      this.sink.error(site.loc, site.directive, `${error}${relative}`);
    }
  }

  result(nodes: ConfigNode[]): ParseResult {
    const defines = new Map<string, string>();
    for (const name of this.defined) defines.set(name, this.values.get(name) ?? '');
    return { nodes, errors: this.sink.errors, warnings: this.sink.warnings, serverRoot: this.root, defines };
  }

  private fileProblem(file: string, site: IncludeSite | undefined, reason: string): void {
    const message = `Could not open configuration file ${file}: ${reason}`;
    if (site) {
      this.sink.error(site.loc, site.directive, message);
    } else {
      this.sink.error({ file, line: 0 }, '', message);
    }
  }
}

/** Cycle detection must see through symlinks and `..`; a file that is not there keeps its name. */
function realPathOr(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    return path.resolve(file);
  }
}
