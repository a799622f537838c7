/**
 * Apache httpd configuration syntax: files in, a generic tree of directives and sections out,
 * with file and line on every node. Conditionals (<IfDefine>, <IfModule>, <IfFile>), Define,
 * ${VAR} and Include are resolved here because httpd resolves them while reading; what each
 * remaining directive means is for the semantic layer.
 */
import * as path from 'node:path';
import { ParseSession } from './parse-session.js';
import type { ConfigNode, ParseOptions, ParseResult } from './types.js';

export type {
  ConfigDiagnostic,
  ConfigNode,
  DirectiveNode,
  ParseOptions,
  ParseResult,
  SectionNode,
  SourceLocation,
} from './types.js';
export { formatDiagnostic } from './diagnostics.js';

/**
 * Reads and parses `file`; a relative `file` is taken relative to ServerRoot, as httpd does with
 * `-f`. Never throws for bad input: an unreadable file is an error diagnostic at line 0.
 */
export function parseConfigFile(file: string, options: ParseOptions): ParseResult {
  const session = new ParseSession(options);
  const nodes: ConfigNode[] = [];
  session.readFile(path.resolve(session.serverRoot(), file), nodes);
  return session.result(nodes);
}

/**
 * Parses `text` as if it were the contents of `file` (used in locations; relative to ServerRoot
 * if not absolute). Include directives in the text still read files.
 */
export function parseConfigText(text: string, file: string, options: ParseOptions): ParseResult {
  const session = new ParseSession(options);
  const nodes: ConfigNode[] = [];
  session.parseText(text, path.resolve(session.serverRoot(), file), nodes);
  return session.result(nodes);
}
