import { VERSION } from '../paths';
import { checkConfigCommand, serveCommand } from './serve';
import { startServerCommand } from './start-server';
import { UsageError } from './run';

const USAGE = `Usage: wsgi-host COMMAND [OPTIONS]

Hosts Python WSGI applications the way Apache + mod_wsgi does, with a Node.js front end.

Commands:
  start-server [SCRIPT]   Serve a WSGI script with one command (like mod_wsgi-express start-server).
  serve -f FILE           Run a server from an Apache-style configuration file.
  check-config -f FILE    Check a configuration file and print "Syntax OK" or its errors.
  help                    Show this help.
  version                 Show the version.

Run 'wsgi-host COMMAND --help' for the options of a command.
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'start-server':
        return await startServerCommand(rest);
      case 'serve':
        return await serveCommand(rest);
      case 'check-config':
      case 'configtest':
        return checkConfigCommand(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      case 'version':
      case '--version':
        process.stdout.write(`wsgi-host ${VERSION}\n`);
        return 0;
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`wsgi-host: ${err.message}\nRun 'wsgi-host --help' for usage.\n`);
      return 2;
    }
    throw err;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (status) => process.exit(status),
    (err: unknown) => {
      process.stderr.write(`wsgi-host: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
