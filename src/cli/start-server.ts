import * as fs from 'node:fs';
import * as path from 'node:path';
import { configFromStartServerFlags, ExpressConfigError, START_SERVER_FLAGS } from '../config/express';
import { renderApacheConfig } from '../config/write-apache-config';
import { makeDirectories } from '../util/fs';
import type { ServerConfig } from '../config/model';
import { VERSION } from '../paths';
import type { Server } from '../server';
import { FlagError, formatFlagHelp, parseFlags } from './flags';
import { runServer, UsageError } from './run';

export const START_SERVER_USAGE = `Usage: wsgi-host start-server [SCRIPT] [OPTIONS]

Serves the WSGI application in SCRIPT (a .wsgi or .py file defining \`application\`) from a
process group of Python worker processes, as mod_wsgi-express start-server does. With no SCRIPT
it serves a built-in welcome page.

Options:
${formatFlagHelp(START_SERVER_FLAGS)}
`;

export async function startServerCommand(argv: string[]): Promise<number> {
  let config: ServerConfig;
  try {
    const { values, positionals } = parseFlags(argv, START_SERVER_FLAGS);
    if (values['help'] === true) {
      process.stdout.write(START_SERVER_USAGE);
      return 0;
    }
    const setupDir = values['setup-only'] as string | undefined;
    // As with mod_wsgi-express setup-server, the directory is the server root (logs, sockets).
    if (setupDir !== undefined && values['server-root'] === undefined) values['server-root'] = setupDir;
    config = configFromStartServerFlags(values, positionals);
    if (setupDir !== undefined) return writeSetup(config, setupDir, argv);
  } catch (err) {
    if (err instanceof FlagError || err instanceof ExpressConfigError) throw new UsageError(`start-server: ${err.message}`);
    throw err;
  }
  return runServer(config, (server) => banner(server, config));
}

/** --setup-only DIR: the same configuration as a file, so users can move from flags to a file. */
function writeSetup(config: ServerConfig, dir: string, argv: string[]): number {
  const target = path.resolve(dir);
  const file = path.join(target, 'httpd.conf');
  const command = ['wsgi-host', 'start-server', ...argv.filter((a, i) => a !== '--setup-only' && argv[i - 1] !== '--setup-only' && !a.startsWith('--setup-only='))].join(' ');
  let text: string;
  try {
    text = renderApacheConfig(config, command);
  } catch (err) {
    throw new UsageError(`start-server --setup-only: ${(err as Error).message}`);
  }
  makeDirectories(target);
  makeDirectories(config.serverRoot);
  fs.writeFileSync(file, text);
  process.stdout.write(`Wrote ${file}\nStart the server with: wsgi-host serve -f ${file}\n`);
  return 0;
}

/** The start-up summary, in the spirit of mod_wsgi-express's. */
export function banner(server: Server, config: ServerConfig): string {
  const address = server.addresses.find((a) => !a.tls);
  const main = config.mainServer;
  const alias = main.scriptAliases[0]!;
  const group = config.processGroups[0]!;
  const python = server.pythonFor(group);
  const host = config.listeners[0]!.host || main.serverName;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address?.port ?? config.listeners[0]!.port}${alias.urlPrefix}/`;
  const processes = `${group.processes} process${group.processes === 1 ? '' : 'es'}`;
  const threads = `${group.threads} thread${group.threads === 1 ? '' : 's'}`;
  const logs = server.logsFor(main);
  const secure = server.addresses.find((a) => a.tls);
  const rows: [string, string][] = [
    ['Server URL', url],
    ...(secure !== undefined ? ([['Server URL (HTTPS)', `https://${host.includes(':') ? `[${host}]` : host}:${secure.port}${alias.urlPrefix}/`]] as [string, string][]) : []),
    ['Application', `${alias.target} (callable '${alias.callableObject ?? 'application'}')`],
    ['Python', python !== undefined ? `${python.version} (${python.executable})` : group.python],
    ['Process Group', `'${group.name}'`],
    ['Request Capacity', `${group.processes * group.threads} (${processes} x ${threads})`],
    ['Queue Timeout', group.queueTimeout > 0 ? `${group.queueTimeout} seconds` : 'none'],
    ['Error Log', `${logs.errorLog.description} (level ${main.logLevel})`],
    ['Access Log', logs.accessLogs[0]?.description ?? 'off (--access-log)'],
    ['Server Root', config.serverRoot],
  ];
  return `wsgi-host ${VERSION}\n` + rows.map(([k, v]) => `${k.padEnd(17)}: ${v}`).join('\n') + '\n';
}
