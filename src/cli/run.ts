import type { ServerConfig } from '../config/model';
import { Server } from '../server';
import { StartupError } from '../startup-error';

/** A command-line mistake: printed with a hint to use --help, exit status 2. */
export class UsageError extends Error {}

/**
 * Starts a server, prints its banner, and runs until SIGTERM or SIGINT, which stop it gracefully
 * (a second signal stops it at once). Resolves with the process exit status.
 */
export async function runServer(config: ServerConfig, banner: (server: Server) => string): Promise<number> {
  let server: Server;
  try {
    server = new Server(config);
    await server.start();
  } catch (err) {
    if (err instanceof StartupError) {
      process.stderr.write(`wsgi-host: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  process.stdout.write(banner(server));

  process.on('uncaughtException', (err) => {
    // A bug must not take every connection down with it: record it and keep serving.
    server.errorLog.log('core', 'crit', `Internal error (please report it): ${err.stack ?? err.message}`);
  });

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        server.errorLog.log('core', 'warn', `Received ${signal} again; stopping at once.`);
        resolve(1);
        return;
      }
      stopping = true;
      server.errorLog.notice('core', `Received ${signal}; stopping gracefully.`);
      server.stop().then(
        () => resolve(0),
        (err: unknown) => {
          process.stderr.write(`wsgi-host: error while stopping: ${(err as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}
