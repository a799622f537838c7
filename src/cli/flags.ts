/**
 * A small declarative flag table: the same entries drive parsing and the --help text, so the help
 * cannot drift from what is accepted.
 */

export type FlagKind = 'string' | 'integer' | 'number' | 'boolean' | 'list';

export interface FlagSpec {
  name: string;
  kind: FlagKind;
  /** Shown in --help, e.g. "NUMBER", "PATH". */
  placeholder?: string;
  help: string;
  /** Shown in --help as the default. */
  defaultText?: string;
  /** For 'integer'/'number': the smallest accepted value. */
  min?: number;
}

export type FlagValues = Record<string, string | number | boolean | string[] | undefined>;

export class FlagError extends Error {}

export interface ParsedFlags {
  values: FlagValues;
  positionals: string[];
}

/** Parses argv against the table; --name=value and --name value both work. */
export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[]): ParsedFlags {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const values: FlagValues = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '-') {
      if (arg.startsWith('-') && arg !== '-') throw new FlagError(`unknown option ${arg}`);
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const spec = byName.get(name);
    if (spec === undefined) throw new FlagError(`unknown option --${name}`);
    if (spec.kind === 'boolean') {
      if (eq >= 0) {
        const text = arg.slice(eq + 1).toLowerCase();
        if (!['on', 'off', 'true', 'false', '1', '0', 'yes', 'no'].includes(text)) throw new FlagError(`--${name} takes no value (or on/off), not "${arg.slice(eq + 1)}"`);
        values[name] = ['on', 'true', '1', 'yes'].includes(text);
      } else {
        values[name] = true;
      }
      continue;
    }
    let text: string;
    if (eq >= 0) {
      text = arg.slice(eq + 1);
    } else {
      if (i + 1 >= argv.length) throw new FlagError(`--${name} needs a value (${spec.placeholder ?? 'VALUE'})`);
      text = argv[++i]!;
    }
    values[name] = convert(spec, text, values[name]);
  }
  return { values, positionals };
}

function convert(spec: FlagSpec, text: string, previous: FlagValues[string]): string | number | string[] {
  switch (spec.kind) {
    case 'string':
      return text;
    case 'list':
      return [...((previous as string[] | undefined) ?? []), text];
    case 'integer':
    case 'number': {
      const value = Number(text);
      if (text.trim() === '' || !Number.isFinite(value) || (spec.kind === 'integer' && !Number.isInteger(value))) {
        throw new FlagError(`--${spec.name} needs ${spec.kind === 'integer' ? 'a whole number' : 'a number'}, not "${text}"`);
      }
      if (spec.min !== undefined && value < spec.min) throw new FlagError(`--${spec.name} must be at least ${spec.min}, not ${text}`);
      return value;
    }
    case 'boolean':
      return text;
  }
}

/** Formats the option list for --help. */
export function formatFlagHelp(specs: readonly FlagSpec[]): string {
  const lines: string[] = [];
  for (const spec of specs) {
    // One-letter options (serve's -f and -D, as httpd's) are written with one dash.
    const dashes = spec.name.length === 1 ? '-' : '--';
    const left = `  ${dashes}${spec.name}${spec.kind === 'boolean' ? '' : ' ' + (spec.placeholder ?? 'VALUE')}`;
    const help = spec.help + (spec.defaultText !== undefined ? ` (default: ${spec.defaultText})` : '') + (spec.kind === 'list' ? ' Repeatable.' : '');
    lines.push(left.length >= 30 ? `${left}\n${' '.repeat(30)}${help}` : left.padEnd(30) + help);
  }
  return lines.join('\n');
}
