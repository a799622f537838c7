import { formatProblem, loadApacheConfig, type LoadResult } from '../config/apache-config';
import type { ServerConfig } from '../config/model';
import { VERSION } from '../paths';
import type { Server } from '../server';
import { FlagError, formatFlagHelp, parseFlags, type FlagSpec } from './flags';
import { runServer, UsageError } from './run';

const CONFIG_FLAGS: FlagSpec[] = [
  { name: 'f', kind: 'string', placeholder: 'FILE', help: 'The configuration file (Apache syntax, mod_wsgi directives).' },
  { name: 'D', kind: 'list', placeholder: 'NAME', help: 'Define NAME for <IfDefine NAME>, as httpd -D does.' },
  { name: 'skip-unsupported', kind: 'boolean', help: 'Report directives wsgi-host does not implement as warnings instead of errors.' },
  { name: 'help', kind: 'boolean', help: 'Show this help and exit.' },
];

export const SERVE_USAGE = `Usage: wsgi-host serve -f FILE [OPTIONS]

Runs a server from an Apache-style configuration file: Listen, <VirtualHost>, Alias,
WSGIScriptAlias, WSGIDaemonProcess and the other directives mod_wsgi users already have.
SIGHUP re-reads the file (a broken file is reported and the running configuration keeps
serving); SIGTERM or SIGINT stops the server gracefully.

Options:
${formatFlagHelp(CONFIG_FLAGS)}
`;

export const CHECK_CONFIG_USAGE = `Usage: wsgi-host check-config -f FILE [OPTIONS]

Checks a configuration file without starting anything, like apachectl configtest: prints
"Syntax OK", or every error with its file, line and directive.

Options:
${formatFlagHelp(CONFIG_FLAGS)}
`;

/** Reads argv for serve/check-config: -f FILE (or --f), -D NAME, --skip-unsupported. */
function parseConfigArgs(argv: string[], command: string): { file: string; defines: string[]; skipUnsupported: boolean; help: boolean } {
  // Apache's short forms (-f FILE, -DNAME) are accepted alongside --f and --D.
  const normalized: string[] = [];
  for (const arg of argv) {
    if (arg === '-f') normalized.push('--f');
    else if (arg === '-D') normalized.push('--D');
    else if (/^-D\S+/.test(arg)) normalized.push('--D', arg.slice(2));
    else normalized.push(arg);
  }
  let parsed;
  try {
    parsed = parseFlags(normalized, CONFIG_FLAGS);
  } catch (err) {
    if (err instanceof FlagError) throw new UsageError(`${command}: ${err.message}`);
    throw err;
  }
  const { values, positionals } = parsed;
  if (positionals.length > 0) throw new UsageError(`${command}: unexpected argument ${positionals[0]!}`);
  const help = values['help'] === true;
  const file = values['f'] as string | undefined;
  if (file === undefined && !help) throw new UsageError(`${command}: give the configuration file with -f FILE`);
  return { file: file ?? '', defines: (values['D'] as string[] | undefined) ?? [], skipUnsupported: values['skip-unsupported'] === true, help };
}

function report(result: LoadResult): void {
  for (const warning of result.warnings) process.stderr.write(`warning: ${formatProblem(warning)}\n`);
  for (const error of result.errors) process.stderr.write(`${formatProblem(error)}\n`);
}

export function checkConfigCommand(argv: string[]): number {
  const args = parseConfigArgs(argv, 'check-config');
  if (args.help) {
    process.stdout.write(CHECK_CONFIG_USAGE);
    return 0;
  }
  const result = loadApacheConfig(args.file, { defines: args.defines, skipUnsupported: args.skipUnsupported });
  report(result);
  if (result.config === null) {
    process.stderr.write(`${result.errors.length} error${result.errors.length === 1 ? '' : 's'} in ${args.file}\n`);
    return 1;
  }
  process.stdout.write('Syntax OK\n');
  return 0;
}

export async function serveCommand(argv: string[]): Promise<number> {
  const args = parseConfigArgs(argv, 'serve');
  if (args.help) {
    process.stdout.write(SERVE_USAGE);
    return 0;
  }
  const load = (): LoadResult => loadApacheConfig(args.file, { defines: args.defines, skipUnsupported: args.skipUnsupported });
  const result = load();
  report(result);
  if (result.config === null) {
    process.stderr.write(`wsgi-host: ${result.errors.length} error${result.errors.length === 1 ? '' : 's'} in ${args.file}; not starting\n`);
    return 1;
  }
  return runServer(result.config, (server) => serveBanner(server, server.config), () => {
    const again = load();
    return { config: again.config, problems: [...again.warnings.map((w) => `warning: ${formatProblem(w)}`), ...again.errors.map(formatProblem)] };
  });
}

/** What a configured server prints when it starts. */
export function serveBanner(server: Server, config: ServerConfig): string {
  const rows: [string, string][] = [['Configuration', config.configFile ?? '(flags)']];
  rows.push(['Listening', server.addresses.map((a) => `${a.tls ? 'https' : 'http'}://${a.host === '::' || a.host === '0.0.0.0' ? 'localhost' : a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}/`).join(', ')]);
  const hosts = [config.mainServer, ...config.virtualHosts].filter((v) => v === config.mainServer || v.addresses.length > 0);
  rows.push(['Virtual Hosts', hosts.map((v) => (v === config.mainServer ? `${v.serverName} (main server)` : `${v.serverName} (${v.addresses.map((a) => `${a.host || '*'}:${a.port || '*'}`).join(' ')})`)).join(', ')]);
  for (const group of config.processGroups) {
    const python = server.pythonFor(group);
    rows.push([
      'Process Group',
      `'${group.name}': ${group.processes} process${group.processes === 1 ? '' : 'es'} x ${group.threads} thread${group.threads === 1 ? '' : 's'}, Python ${python?.version ?? '?'} (${python?.executable ?? group.python})`,
    ]);
  }
  rows.push(['Error Log', `${server.logsFor(config.mainServer).errorLog.description} (level ${config.mainServer.logLevel})`]);
  return `wsgi-host ${VERSION}\n` + rows.map(([k, v]) => `${k.padEnd(17)}: ${v}`).join('\n') + '\n';
}
