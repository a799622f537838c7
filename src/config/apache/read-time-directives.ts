import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ParseSession } from './parse-session.js';
import type { ConfigNode, SourceLocation } from './types.js';

/**
 * The few ordinary-looking directives httpd executes while it reads (EXEC_ON_READ), because they
 * change how the rest of the text is read: Define / UnDefine (${VAR} and <IfDefine>), Include /
 * IncludeOptional (more text), ServerRoot (where relative Include and <IfFile> paths point).
 * Their argument checks mirror httpd's TAKE1 / TAKE12: an empty first word counts as missing.
 */

export interface DirectiveSite {
  session: ParseSession;
  /** As written, for diagnostics. */
  name: string;
  args: string[];
  loc: SourceLocation;
}

export function applyDefine({ session, name, args, loc }: DirectiveSite): void {
  if (args.length < 1 || args.length > 2 || args[0] === '') {
    session.sink.error(loc, name, `${name} takes one or two arguments: Define NAME [value] (quote a value that contains spaces); got ${args.length}`);
    return;
  }
  const variable = args[0]!;
  if (variable.includes(':')) {
    session.sink.error(loc, name, `Variable name must not contain ':' ('${variable}'); ':' is reserved for RewriteMap-style \${map:key} lookups, choose another name`);
    return;
  }
  session.define(variable, args[1]);
}

export function applyUnDefine({ session, name, args, loc }: DirectiveSite): void {
  if (args.length !== 1 || args[0] === '') {
    session.sink.error(loc, name, `${name} takes exactly one argument: UnDefine NAME; got ${args.length}`);
    return;
  }
  const variable = args[0]!;
  if (variable.includes(':')) {
    session.sink.error(loc, name, `Variable name must not contain ':' ('${variable}'); give the name used in Define`);
    return;
  }
  session.undefine(variable);
}

export function applyInclude({ session, name, args, loc }: DirectiveSite, optional: boolean, target: ConfigNode[]): void {
  if (args.length !== 1 || args[0] === '') {
    session.sink.error(loc, name, `${name} takes exactly one argument: a file, directory or wildcard path, absolute or relative to ServerRoot (quote it if it contains spaces); got ${args.length}`);
    return;
  }
  session.include(args[0]!, optional, { loc, directive: name }, target);
}

/**
 * httpd applies ServerRoot while reading, wherever it appears (even inside <VirtualHost>), and
 * resolves a relative value against the working directory (apr_filepath_merge with no root), not
 * against the previous ServerRoot.
 */
export function applyServerRoot({ session, name, args, loc }: DirectiveSite, enclosingSection: string | undefined): void {
  if (args.length !== 1 || args[0] === '') {
    session.sink.error(loc, name, `${name} takes exactly one argument: the absolute path of the server's base directory; got ${args.length}`);
    return;
  }
  if (enclosingSection !== undefined) {
    session.sink.warning(loc, name, `${name} inside <${enclosingSection}> still changes the global ServerRoot (as in httpd); move it to the top level of the configuration`);
  }
  const dir = path.resolve(args[0]!);
  let isDirectory = false;
  try {
    isDirectory = fs.statSync(dir).isDirectory();
  } catch {
    // missing or unreadable: reported below like any non-directory
  }
  if (!isDirectory) {
    session.sink.error(loc, name, `ServerRoot must be a valid directory: ${dir} does not exist or is not a directory; give the absolute path of an existing directory`);
    return;
  }
  session.setServerRoot(dir);
}
