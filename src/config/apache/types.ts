/**
 * The shapes the Apache-syntax parser produces. This layer knows nothing about what a directive
 * means; it only records what was written and where, so the semantic layer can point users at
 * the exact file and line of a mistake.
 */

export interface SourceLocation {
  /** Absolute path of the file the line came from (included files carry their own path). */
  file: string;
  /**
   * 1-based number of the directive's FIRST physical line (a directive continued with `\` is
   * reported where it starts, which is where a reader looks for it). 0 means "the file as a
   * whole", used only when a file cannot be read at all.
   */
  line: number;
}

export interface DirectiveNode {
  kind: 'directive';
  /** As written (after ${VAR} substitution). */
  name: string;
  /** `name` lower-cased: Apache directive names are case-insensitive. */
  key: string;
  args: string[];
  /**
   * The arguments as written (after ${VAR} substitution), for directives that read their own
   * syntax, as mod_wsgi's RAW_ARGS directives do for name="quoted value" options.
   */
  rawArgs: string;
  loc: SourceLocation;
}

export interface SectionNode {
  kind: 'section';
  /** As written, without the `<`, e.g. `VirtualHost`. */
  name: string;
  key: string;
  args: string[];
  children: ConfigNode[];
  loc: SourceLocation;
}

export type ConfigNode = DirectiveNode | SectionNode;

export interface ConfigDiagnostic {
  loc: SourceLocation;
  /** The directive the problem is about, e.g. `Include`, `<Directory>`, `</Location>`. */
  directive: string;
  /** Says what is wrong and what is allowed or how to fix it. */
  message: string;
}

export interface ParseOptions {
  /** Initial ServerRoot; relative Include / IfFile paths resolve against the current ServerRoot. */
  serverRoot: string;
  /** Names given with -D on the command line (for <IfDefine>); they carry no value. */
  defines?: Iterable<string>;
  /** For <IfModule name>: name may be 'mod_wsgi.c', 'wsgi_module', ...; the caller decides. */
  isModuleLoaded(name: string): boolean;
  /** For ${VAR} when VAR is not Define'd with a value (default process.env). */
  env?: Record<string, string | undefined>;
}

export interface ParseResult {
  nodes: ConfigNode[];
  errors: ConfigDiagnostic[];
  warnings: ConfigDiagnostic[];
  /** ServerRoot after every ServerRoot directive has been applied (absolute). */
  serverRoot: string;
  /** Every name defined at the end (command line -D and Define); '' when defined without a value. */
  defines: Map<string, string>;
}
