import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { app, freePort, request, startServe, startServer, waitForFileLine } from '../helpers/server';
import { eventually } from './ops-helpers';

/*
 * Process titles: `ps` (which reads /proc/PID/cmdline) shows the front end as the server it is
 * and each daemon process as its group (mod_wsgi's "(wsgi:GROUP)") or its display-name, so a
 * stuck process can be found and signalled.
 */

function cmdline(pid: number): string {
  // The title replaces the command line in place; what follows it is padding.
  return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0')[0]!;
}

/** Processes whose command line starts with `title`. */
function findByTitle(title: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (cmdline(Number(entry)).startsWith(title)) found.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

describe('process titles', () => {
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-host-titles-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('start-server: the front end names its server and port; the daemon processes their group', async () => {
    const server = await startServer([app('ops.wsgi'), '--processes', '2', '--server-name', 'titles.test']);
    try {
      assert.equal(cmdline(server.child.pid!), `wsgi-host: front end (titles.test:${server.port})`);
      const pids = new Set<number>();
      await eventually('both worker processes', async () => {
        pids.add(Number((await request(`${server.url}/pid`)).text));
        return pids.size === 2 ? true : undefined;
      });
      // start-server's display-name is mod_wsgi-express's (wsgi:HOST:PORT:UID).
      for (const pid of pids) assert.match(cmdline(pid), /^\(wsgi:127\.0\.0\.1:0:\d+\)$/);
    } finally {
      await server.stop();
    }
  });

  it('serve -f: each group\'s processes show (wsgi:GROUP) by default, or their display-name, and can be found and signalled by it', async () => {
    const port = await freePort();
    const conf = path.join(dir, 'httpd.conf');
    const errorLog = path.join(dir, 'error_log');
    const group = `titles${process.pid}`;
    fs.writeFileSync(
      conf,
      [
        `Listen 127.0.0.1:${port}`,
        'ServerName titles.test',
        `ErrorLog ${errorLog}`,
        'LogLevel info',
        `WSGIDaemonProcess ${group} processes=2 threads=1`,
        `WSGIDaemonProcess named processes=1 threads=1 display-name=billing-worker-${process.pid}`,
        `WSGIScriptAlias /a ${app('ops.wsgi')} process-group=${group} application-group=%{GLOBAL}`,
        `WSGIScriptAlias /b ${app('ops.wsgi')} process-group=named application-group=%{GLOBAL}`,
        '',
      ].join('\n'),
    );
    const server = await startServe(conf);
    try {
      assert.equal(cmdline(server.child.pid!), `wsgi-host: front end (titles.test:${port}) -f ${conf}`);
      const pidOf = async (mount: string): Promise<number> =>
        eventually(`a pid from ${mount}`, async () => {
          const res = await request(`http://127.0.0.1:${port}${mount}/pid`);
          return res.status === 200 ? Number(res.text) : undefined;
        }, 20_000);
      const a = await pidOf('/a');
      const b = await pidOf('/b');
      assert.equal(cmdline(a), `(wsgi:${group})`);
      assert.equal(cmdline(b), `billing-worker-${process.pid}`);
      // The short name (comm, what `ps -e` and `pgrep` see) is the title's first 15 bytes.
      assert.equal(fs.readFileSync(`/proc/${a}/comm`, 'latin1').trim(), `(wsgi:${group})`.slice(0, 15));
      // Both processes of the group carry the title once they run (the second may still be starting).
      const byTitle = await eventually('two processes titled by their group', async () => {
        const found = findByTitle(`(wsgi:${group})`);
        return found.length === 2 ? found : undefined;
      }, 20_000);
      assert.ok(byTitle.includes(a));
      // Found by its title, a process can be told to restart gracefully.
      process.kill(a, 'SIGUSR1');
      await waitForFileLine(errorLog, new RegExp(`Daemon process '${group}' \\(pid=${a}\\) is being restarted \\(reason: graceful_signal\\)`), 20_000);
    } finally {
      await server.stop();
    }
  });
});
