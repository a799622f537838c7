import { APPS_DIR, BARE_NODE_SERVER } from '../paths';
import type { ServerRecipe } from './recipe';

/**
 * A node:http server with no Python behind it, answering like the Python apps: the ceiling of
 * wsgi-host's front end, which is one node process too. Only for workloads with nothing Python
 * specific (Flask and the 50 ms sleep would measure nothing about the front end).
 */
export const bareNode: ServerRecipe = {
  name: 'node',
  byDefault: true,
  unavailable: () => null,
  skips: (w) => (w.bareNode ? null : 'no Python equivalent: the bare node server runs only hello, download, file and upload'),
  describe: () => '1 node process, no Python (processes x threads n/a)',
  launch: ({ workload, port }) => ({
    command: process.execPath,
    args: [BARE_NODE_SERVER, String(port), workload.name],
    cwd: APPS_DIR,
    files: [],
    logs: [],
    stopSignal: 'SIGTERM',
  }),
  version: () => `node ${process.version}`,
};
