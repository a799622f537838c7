import type { ServerConfig } from '../config/model';
import { Server } from '../server';
import { StartupError } from '../startup-error';

/** A command-line mistake: printed with a hint to use --help, exit status 2. */
export class UsageError extends Error {}

/** Re-reads the configuration for SIGHUP: a new configuration, or null and what is wrong. */
export type ConfigReloader = () => { config: ServerConfig | null; problems: string[] };

/**
 * Starts a server, prints its banner, and runs until SIGTERM or SIGINT, which stop it gracefully
 * (a second signal stops it at once). With a reloader, SIGHUP re-reads the configuration.
 * Resolves with the process exit status.
 */
export async function runServer(config: ServerConfig, banner: (server: Server) => string, reloader?: ConfigReloader): Promise<number> {
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

  let reloading: Promise<void> = Promise.resolve();
  process.on('SIGHUP', () => {
    // Reloads run one after another, never side by side.
    reloading = reloading.then(async () => {
      if (reloader === undefined) {
        server.errorLog.notice('core', 'Received SIGHUP; restarting the process groups one process at a time.');
        await server.restartAllGroups('graceful_signal');
        return;
      }
      server.errorLog.notice('core', 'Received SIGHUP; re-reading the configuration.');
      const { config: next, problems } = reloader();
      if (next === null) {
        server.errorLog.error('core', `The configuration has errors; the running configuration stays in place:\n${problems.join('\n')}`);
        return;
      }
      for (const problem of problems) server.errorLog.warn('core', problem);
      try {
        await server.reload(next);
        server.errorLog.notice('core', 'The new configuration is in place.');
      } catch (err) {
        server.errorLog.error('core', `The new configuration could not be applied (${(err as Error).message}); the running configuration stays in place.`);
      }
    });
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
      reloading
        .then(() => server.stop())
        .then(
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
