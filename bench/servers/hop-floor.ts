import * as path from 'node:path';
import { MAX_AHEAD } from '../../src/groups/thread-slot';
import { APPS_DIR, HOP_FLOOR_SERVER, PYTHON } from '../paths';
import type { ServerRecipe } from './recipe';

/**
 * A REFERENCE, not a WSGI server: node:http plus one round trip per request over a persistent
 * UNIX socket to one of N Python processes that do no WSGI at all, with one request sent ahead
 * to a busy process as wsgi-host's send-ahead does (hop-floor-server.ts,
 * apps/hop_floor_worker.py). It is the floor of wsgi-host's architecture (a Node front end
 * handing requests to Python processes) for small requests: wsgi-host's distance to it is what
 * WSGI, the environ, routing, logging and supervision cost; its distance to the bare node server
 * is what the process hop costs by itself.
 */
export const hopFloor: ServerRecipe = {
  name: 'hop-floor',
  byDefault: true,
  unavailable: () => null,
  skips: (w) => (w.name === 'hello' || w.name === 'download' || w.name === 'upload' ? null : 'no equivalent: the hop-floor reference runs only hello, download and upload'),
  describe: (w) => `reference: 1 node process + ${w.processes} Python processes of 1 thread, no WSGI`,
  launch: ({ workload, port }) => ({
    command: process.execPath,
    args: [HOP_FLOOR_SERVER, String(port), workload.name, PYTHON, path.join(APPS_DIR, 'hop_floor_worker.py'), String(workload.processes)],
    cwd: APPS_DIR,
    files: [],
    logs: [],
    stopSignal: 'SIGTERM',
  }),
  version: () => `node ${process.version} + ${PYTHON}`,
  caveat:
    'hop-floor is a reference, not a WSGI server: node:http in front of Python processes that only answer (no environ, no WSGI, ' +
    'no logging), one persistent UNIX socket each, and requests sent ahead to busy processes when all are busy (up to ' +
    `${MAX_AHEAD} each, as wsgi-host's send-ahead does). For hello it is the floor of a Node-front-end-plus-Python-processes design. ` +
    'It copies 1 MiB bodies through the socket, so for download and upload it is a naive hop, not a floor: wsgi-host, which ' +
    'hands response bodies over shared memory or sendfile, can beat it there.',
};
