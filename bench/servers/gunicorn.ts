import * as fs from 'node:fs';
import * as path from 'node:path';
import { APPS_DIR, PYTHON } from '../paths';
import type { Workload } from '../workloads';
import type { ServerRecipe } from './recipe';
import { commandOutput } from './versions';

const GUNICORN = '/usr/bin/gunicorn';

function unavailable(): string | null {
  if (!fs.existsSync(GUNICORN)) return `${GUNICORN} not found (apt install gunicorn)`;
  // Debian's gunicorn runs on /usr/bin/python3; a pip-installed one elsewhere might not.
  const shebang = fs.readFileSync(GUNICORN, 'utf8').split('\n')[0] ?? '';
  if (!shebang.includes(PYTHON)) return `${GUNICORN} does not run on ${PYTHON} (${shebang})`;
  return null;
}

/**
 * gunicorn with the sync worker (one request at a time per process; it closes the connection
 * after each response) or the gthread worker (a thread pool per process, keep-alive). gunicorn
 * imports the app as a module, hence --chdir and module:application. Its default access log is
 * off; the error log is at warning so it costs nothing per request.
 */
function gunicorn(kind: 'sync' | 'gthread'): ServerRecipe {
  const workerArgs = (w: Workload): string[] =>
    // The sync worker has no threads: passing --threads > 1 would silently switch to gthread.
    kind === 'sync' ? [] : ['--worker-class', 'gthread', '--threads', String(w.threads)];
  return {
    name: `gunicorn-${kind}`,
    byDefault: true,
    unavailable,
    skips: () => null,
    describe: (w) => (kind === 'sync' ? `-w ${w.processes} (sync worker: 1 request at a time per process, threads n/a)` : `-k gthread -w ${w.processes} --threads ${w.threads}`),
    launch: ({ workload, port, dir }) => ({
      command: GUNICORN,
      args: [
        '--bind', `127.0.0.1:${port}`,
        '--workers', String(workload.processes),
        ...workerArgs(workload),
        '--chdir', APPS_DIR,
        '--error-logfile', path.join(dir, 'error_log'),
        '--log-level', 'warning',
        `${workload.appModule}:application`,
      ],
      cwd: APPS_DIR,
      files: [],
      logs: [path.join(dir, 'error_log')],
      // SIGTERM: graceful shutdown of the arbiter and its workers.
      stopSignal: 'SIGTERM',
    }),
    version: () => commandOutput(GUNICORN, ['--version'])?.replace(/^gunicorn \(version (.*)\)$/, '$1') ?? '?',
  };
}

export const gunicornSync = gunicorn('sync');
export const gunicornGthread = gunicorn('gthread');
