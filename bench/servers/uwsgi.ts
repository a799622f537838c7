import * as fs from 'node:fs';
import * as path from 'node:path';
import { APPS_DIR } from '../paths';
import type { ServerRecipe } from './recipe';
import { commandOutput } from './versions';

const UWSGI = '/usr/bin/uwsgi';
// Debian's python3 plugin is built against the system libpython3.11, i.e. /usr/bin/python3's.
const PLUGIN = '/usr/lib/uwsgi/plugins/python3_plugin.so';

/**
 * uWSGI serving HTTP directly from its workers (no separate HTTP router process), with a master.
 * --http-socket speaks HTTP/1.0-style: one request per connection (wrk reconnects); the
 * `uwsgi-http11` variant (not run by default) uses --http11-socket, which keeps connections alive.
 */
function uwsgi(name: string, socketFlag: '--http-socket' | '--http11-socket', byDefault: boolean): ServerRecipe {
  return {
    name,
    byDefault,
    unavailable: () => (!fs.existsSync(UWSGI) ? `${UWSGI} not found (apt install uwsgi)` : !fs.existsSync(PLUGIN) ? `${PLUGIN} not found (apt install uwsgi-plugin-python3)` : null),
    skips: () => null,
    describe: (w) => `--master --processes ${w.processes}${w.threads > 1 ? ` --threads ${w.threads}` : ' (no --threads: 1 thread)'}, ${socketFlag}`,
    launch: ({ workload, port, dir }) => ({
      command: UWSGI,
      args: [
        '--plugin', 'python3',
        socketFlag, `127.0.0.1:${port}`,
        '--master',
        '--processes', String(workload.processes),
        // One thread per process is uWSGI's default worker, so --threads only when more.
        ...(workload.threads > 1 ? ['--threads', String(workload.threads)] : []),
        '--wsgi-file', workload.appFile,
        '--chdir', APPS_DIR,
        '--need-app',
        // uWSGI logs every request by default; the other servers have no access log.
        '--disable-logging',
        // uWSGI 2.0 treats SIGTERM as "reload" unless told otherwise.
        '--die-on-term',
        '--logto', path.join(dir, 'error_log'),
      ],
      cwd: APPS_DIR,
      files: [],
      logs: [path.join(dir, 'error_log')],
      stopSignal: 'SIGTERM',
    }),
    version: () => commandOutput(UWSGI, ['--version']) ?? '?',
    ...(socketFlag === '--http-socket'
      ? {
          caveat:
            "uWSGI's --http-socket answers with HTTP/1.1 but without `Connection: close`, then closes the connection: wrk sends its next " +
            'request on the closed connection, counts a read error and reconnects. So about one socket read error per request is ' +
            'expected for uwsgi and is not a failed request (every counted response was complete).',
        }
      : {
          caveat:
            "uWSGI's --http11-socket keeps connections alive, but a sync worker thread then serves one connection until the client " +
            'closes it: with more connections than threads, the others get nothing (served/conn 0), and req/s counts only the lucky few.',
        }),
  };
}

export const uwsgiHttpSocket = uwsgi('uwsgi', '--http-socket', true);
export const uwsgiHttp11Socket = uwsgi('uwsgi-http11', '--http11-socket', false);
