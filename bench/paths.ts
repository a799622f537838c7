import * as path from 'node:path';

// Compiled to dist/bench/paths.js, so the checkout is two levels up. The Python apps and Lua
// scripts are read from the source tree (tsc copies only .ts output into dist/).
export const ROOT = path.resolve(__dirname, '..', '..');
export const APPS_DIR = path.join(ROOT, 'bench', 'apps');
export const LUA_DIR = path.join(ROOT, 'bench', 'wrk');
export const RESULTS_DIR = path.join(ROOT, '.bench');
export const DOCS_FILE = path.join(ROOT, 'docs', 'benchmarks.md');
export const WSGI_HOST_CLI = path.join(ROOT, 'bin', 'wsgi-host.js');
export const BARE_NODE_SERVER = path.join(__dirname, 'servers', 'bare-node-server.js');
export const HOP_FLOOR_SERVER = path.join(__dirname, 'servers', 'hop-floor-server.js');

/** Every server runs this interpreter: Debian's, which has Flask and which mod_wsgi, uWSGI's
 *  python3 plugin and the gunicorn package are built for. */
export const PYTHON = '/usr/bin/python3';
