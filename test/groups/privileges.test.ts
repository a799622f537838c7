import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { removeSocketDirectory } from '../../src/server';
import { app, freePort, getJson, startServe, startServer, type RunningServer } from '../helpers/server';

/**
 * Runs only as root (as CI does): creates two unprivileged users and a group for the test and
 * removes them afterwards.
 */
const ROOT = process.getuid?.() === 0 && fs.existsSync('/usr/sbin/useradd');
const suffix = process.pid.toString(36);
const APP_USER = `wht${suffix}a`;
const OTHER_USER = `wht${suffix}b`;
const EXTRA_GROUP = `wht${suffix}g`;

interface Who {
  uid: number;
  euid: number;
  gid: number;
  groups: number[];
  home: string;
  user: string;
}

// An interpreter every user can run (a root-only pyenv would not do).
const PYTHON = '/usr/bin/python3';
const idOf = (flag: string, name: string): number => Number(execFileSync('id', [flag, name], { encoding: 'utf8' }).trim());
const groupId = (name: string): number => Number(execFileSync('getent', ['group', name], { encoding: 'utf8' }).split(':')[2]);

/** The real uid of a running process, from /proc. */
function uidOfProcess(pid: number): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('Uid:'))!;
  return Number(line.split(/\s+/)[1]);
}

/** Tries to connect to a UNIX socket as `user`; returns what Python said. */
function connectAs(user: string, socketPath: string): { ok: boolean; output: string } {
  const result = spawnSync('/usr/bin/python3', ['-c', 'import socket, sys\ns = socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\nprint("connected")', socketPath], { uid: idOf('-u', user), gid: idOf('-g', user), encoding: 'utf8', timeout: 10_000 });
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}

function socketsUnder(dir: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isSocket()) found.push(full);
    else if (entry.isDirectory()) found.push(...socketsUnder(full));
  }
  return found;
}

describe('privileges: daemon processes and the front end as unprivileged users', { skip: ROOT ? false : 'needs root (CI runs as root) to create users' }, () => {
  let prefixDir = '';
  before(() => {
    execFileSync('groupadd', [EXTRA_GROUP]);
    execFileSync('useradd', ['-M', '-d', '/nonexistent', '-s', '/usr/sbin/nologin', '-G', EXTRA_GROUP, APP_USER]);
    execFileSync('useradd', ['-M', '-d', '/nonexistent', '-s', '/usr/sbin/nologin', OTHER_USER]);
    // Where the socket directories go: a directory every user may pass through.
    prefixDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-host-priv-'));
    fs.chmodSync(prefixDir, 0o755);
  });
  after(() => {
    spawnSync('userdel', [APP_USER]);
    spawnSync('userdel', [OTHER_USER]);
    spawnSync('groupdel', [EXTRA_GROUP]);
    spawnSync('groupdel', [APP_USER]);
    spawnSync('groupdel', [OTHER_USER]);
    fs.rmSync(prefixDir, { recursive: true, force: true });
  });

  describe('start-server --user', () => {
    let server: RunningServer;
    let prefix = '';
    before(async () => {
      prefix = path.join(prefixDir, 'express', 'wsgi');
      server = await startServer([app('hardening.wsgi'), '--user', APP_USER, '--socket-prefix', prefix, '--python', PYTHON]);
    });
    after(() => server.stop());

    it('runs the application as that user, with its groups and home', async () => {
      const who = await getJson<Who>(server.url + '/');
      assert.equal(who.uid, idOf('-u', APP_USER));
      assert.equal(who.euid, idOf('-u', APP_USER));
      assert.equal(who.gid, idOf('-g', APP_USER));
      assert.ok(who.groups.includes(groupId(EXTRA_GROUP)), `supplementary groups ${who.groups.join(',')} lack ${EXTRA_GROUP}`);
      assert.ok(!who.groups.includes(0), 'root\'s group is gone');
      assert.equal(who.home, '/nonexistent');
      assert.equal(who.user, APP_USER);
    });

    it('the front end itself drops to the user once its port is bound', async () => {
      assert.equal(uidOfProcess(server.child.pid!), idOf('-u', APP_USER));
      await server.waitForLog(`The front end now runs as user '${APP_USER}'`);
    });

    it('the socket directory is private to that user; another user cannot connect', () => {
      const dirs = fs.readdirSync(path.dirname(prefix)).filter((d) => d.startsWith('wsgi-'));
      assert.equal(dirs.length, 1);
      const dir = path.join(path.dirname(prefix), dirs[0]!);
      const stat = fs.statSync(dir);
      assert.equal(stat.uid, idOf('-u', APP_USER));
      assert.equal(stat.mode & 0o777, 0o700);
      const sockets = socketsUnder(dir);
      assert.ok(sockets.length > 0);
      for (const socket of sockets) {
        const attempt = connectAs(OTHER_USER, socket);
        assert.equal(attempt.ok, false, `${OTHER_USER} connected to ${socket}`);
        assert.match(attempt.output, /PermissionError|Permission denied/);
      }
    });
  });

  describe('User plus a daemon process group with user= of its own (serve -f)', () => {
    let server: RunningServer;
    let prefix = '';
    let errorLog = '';
    before(async () => {
      const dir = fs.mkdtempSync(path.join(prefixDir, 'conf-'));
      fs.chmodSync(dir, 0o755);
      prefix = path.join(dir, 'wsgi');
      errorLog = path.join(dir, 'error.log');
      const conf = path.join(dir, 'httpd.conf');
      fs.writeFileSync(conf, [`Listen 127.0.0.1:${await freePort()}`, `User ${APP_USER}`, `ErrorLog ${errorLog}`, 'LogLevel info', `WSGISocketPrefix ${prefix}`, `WSGIDaemonProcess other user=${OTHER_USER} threads=2 python-executable=${PYTHON}`, 'WSGIProcessGroup other', `WSGIScriptAlias / ${app('hardening.wsgi')}`].join('\n') + '\n');
      server = await startServe(conf);
    });
    after(() => server.stop());

    it("runs the group as its own user, and the front end stays root to be able to start it", async () => {
      const who = await getJson<Who>(`http://127.0.0.1:${server.port}/`);
      assert.equal(who.uid, idOf('-u', OTHER_USER));
      assert.equal(uidOfProcess(server.child.pid!), 0);
      assert.match(fs.readFileSync(errorLog, 'utf8'), /The front end stays root, because daemon process group 'other' \(user wht\w+\) runs as another user than User/);
    });

    it("the group's socket is in a directory of that user's own; other users cannot connect", () => {
      const top = path.join(path.dirname(prefix), fs.readdirSync(path.dirname(prefix)).find((d) => d.startsWith('wsgi-'))!);
      assert.equal(fs.statSync(top).mode & 0o777, 0o711);
      const sockets = socketsUnder(top);
      assert.ok(sockets.length > 0);
      for (const socket of sockets) {
        const own = fs.statSync(path.dirname(socket));
        assert.equal(own.uid, idOf('-u', OTHER_USER));
        assert.equal(own.mode & 0o777, 0o700);
        assert.equal(connectAs(APP_USER, socket).ok, false);
      }
    });
  });

  it('started as root with no user, it runs and warns once that the applications run as root', async () => {
    const server = await startServer([app('hardening.wsgi')]);
    try {
      const who = await getJson<Who>(server.url + '/');
      assert.equal(who.uid, 0);
      await server.waitForLog('wsgi-host runs as root and no user is given, so the applications run as root. Give --user and --group');
      assert.equal(server.stderr.split('applications run as root').length, 2, 'said once');
    } finally {
      await server.stop();
    }
  });

  it('a user that does not exist is a start-up error naming it', async () => {
    const server = await startServer([app('hardening.wsgi'), '--user', 'no-such-user-wsgi-host'], { expectFailure: true });
    assert.notEqual(await server.waitForExit(), 0);
    assert.match(server.stderr, /The user 'no-such-user-wsgi-host' \(.*\) does not exist on this system/);
    await server.stop();
  });
});

describe('stale socket directories are removed safely', () => {
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-host-stale-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const me = new Set([process.getuid?.() ?? 0]);

  function makeSocket(file: string): Promise<void> {
    // A socket file left behind, as by a server that was killed.
    return new Promise((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(file, () => {
        const handle = (server as unknown as { _handle: { close(): void } | null })._handle;
        // Close the handle without unlinking the file, as a crash would.
        handle?.close();
        resolve();
      });
    });
  }

  it('removes a directory holding only its sockets', async () => {
    const stale = path.join(dir, 'wsgi-1');
    fs.mkdirSync(stale);
    fs.mkdirSync(path.join(stale, 'g1'));
    await makeSocket(path.join(stale, 'g0.sock'));
    await makeSocket(path.join(stale, 'g1', 'g1.sock'));
    assert.equal(removeSocketDirectory(stale, me), true);
    assert.equal(fs.existsSync(stale), false);
  });

  it('never follows a symbolic link, and leaves a directory with anything unexpected in it', () => {
    const victim = path.join(dir, 'victim');
    fs.mkdirSync(victim);
    fs.writeFileSync(path.join(victim, 'precious'), 'keep me');
    const link = path.join(dir, 'wsgi-2');
    fs.symlinkSync(victim, link);
    assert.equal(removeSocketDirectory(link, me), false);
    const holder = path.join(dir, 'wsgi-3');
    fs.mkdirSync(holder);
    fs.symlinkSync(path.join(victim, 'precious'), path.join(holder, 'g0.sock'));
    fs.symlinkSync(victim, path.join(holder, 'g1'));
    assert.equal(removeSocketDirectory(holder, me), false);
    assert.equal(fs.readFileSync(path.join(victim, 'precious'), 'utf8'), 'keep me');
    assert.ok(fs.existsSync(link) && fs.existsSync(holder));
  });

  it("leaves another user's directory alone", () => {
    const other = path.join(dir, 'wsgi-4');
    fs.mkdirSync(other);
    assert.equal(removeSocketDirectory(other, new Set([424242])), false);
    assert.ok(fs.existsSync(other));
  });
});
