import * as fs from 'node:fs';
import * as path from 'node:path';
import { APPS_DIR, PYTHON, ROOT, WSGI_HOST_CLI } from '../paths';
import type { ServerRecipe } from './recipe';
import { commandOutput } from './versions';

/** What the npm package ships (package.json "files"): enough to run from anywhere. */
const PACKAGE_PARTS = ['package.json', 'bin', path.join('dist', 'src'), path.join('dist', 'native'), 'python'];

let cli = WSGI_HOST_CLI;
let snapshotNote = '';

/**
 * Copies the built wsgi-host out of the checkout and runs that copy for the whole run. The
 * checkout is shared with people rebuilding dist/ while the bench runs; without the copy a
 * rebuild half-way would change (or break) wsgi-host between workloads.
 */
export function snapshotWsgiHost(dir: string): void {
  for (const part of PACKAGE_PARTS) {
    // dist/native is missing where no C compiler built it: wsgi-host then copies pieces instead.
    if (!fs.existsSync(path.join(ROOT, part))) continue;
    fs.cpSync(path.join(ROOT, part), path.join(dir, part), { recursive: true, filter: (src) => !src.includes('__pycache__') });
  }
  cli = path.join(dir, 'bin', 'wsgi-host.js');
  snapshotNote = `, copied to ${path.relative(ROOT, dir)} at the start of the run`;
}

function checkoutVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  // Read-only git queries: the commit, and whether src/ or python/ differ from it.
  const commit = commandOutput('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']);
  const dirty = commandOutput('git', ['-C', ROOT, 'diff', '--stat', 'HEAD', '--', 'src', 'python']);
  return `${pkg.version} (commit ${commit ?? '?'}${dirty ? ' plus uncommitted changes in src/ or python/' : ''}`;
}

function wsgiHostRecipe(name: string, byDefault: boolean, extraArgs: string[]): ServerRecipe {
  const extra = extraArgs.length > 0 ? ` ${extraArgs.join(' ')}` : '';
  return {
    name,
    byDefault,
    unavailable: () =>
      !fs.existsSync(path.join(ROOT, 'dist', 'src', 'cli', 'main.js')) ? 'not built (run tsc -p .)' : !fs.existsSync(PYTHON) ? `${PYTHON} not found` : null,
    skips: () => null,
    describe: (w) => `--processes ${w.processes} --threads ${w.threads}${w.name === 'file' ? ' --enable-sendfile' : ''}${extra}`,
    launch: ({ workload, port, dir }) => ({
      command: process.execPath,
      args: [
        cli, 'start-server', workload.appFile,
        '--host', '127.0.0.1', '--port', String(port),
        '--processes', String(workload.processes), '--threads', String(workload.threads),
        '--server-root', dir, '--python', PYTHON,
        // WSGIEnableSendfile is off by default, as in mod_wsgi; a site serving files turns it on.
        ...(workload.name === 'file' ? ['--enable-sendfile'] : []),
        ...extraArgs,
      ],
      cwd: APPS_DIR,
      files: [],
      logs: [path.join(dir, 'error_log')],
      stopSignal: 'SIGTERM',
    }),
    version: () => `${checkoutVersion()}${snapshotNote})`,
  };
}

/** wsgi-host itself, exactly as a user runs it: `start-server` with defaults except the shape. */
export const wsgiHost: ServerRecipe = wsgiHostRecipe('wsgi-host', true, []);

/**
 * Not run by default: wsgi-host with its workers under SCHED_OTHER (`--scheduling-policy
 * normal`), to measure what the default SCHED_BATCH does in an interleaved run
 * (BENCH_SERVERS=wsgi-host,wsgi-host-sched-normal).
 */
export const wsgiHostSchedNormal: ServerRecipe = wsgiHostRecipe('wsgi-host-sched-normal', false, ['--scheduling-policy', 'normal']);

/**
 * Not run by default: wsgi-host with its front end left at the starting nice value
 * (`--front-end-priority 0`), to measure what the default priority does in an interleaved run
 * (BENCH_SERVERS=wsgi-host,wsgi-host-priority-0). It matters only where the bench runs as root.
 */
export const wsgiHostPriority0: ServerRecipe = wsgiHostRecipe('wsgi-host-priority-0', false, ['--front-end-priority', '0']);

/**
 * Not run by default: wsgi-host with its front end under SCHED_OTHER (`--front-end-scheduling-policy
 * normal`), to measure what the default SCHED_BATCH does for the front end in an interleaved run
 * (BENCH_SERVERS=wsgi-host,wsgi-host-fe-normal).
 */
export const wsgiHostFrontEndNormal: ServerRecipe = wsgiHostRecipe('wsgi-host-fe-normal', false, ['--front-end-scheduling-policy', 'normal']);

/** Every recipe that runs wsgi-host (from the copy taken at the start of the run), the default one first. */
export const WSGI_HOST_RECIPES: readonly ServerRecipe[] = [wsgiHost, wsgiHostSchedNormal, wsgiHostPriority0, wsgiHostFrontEndNormal];

/** Whether the recipe runs wsgi-host. */
export function runsWsgiHost(recipe: ServerRecipe): boolean {
  return WSGI_HOST_RECIPES.includes(recipe);
}
