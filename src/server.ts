import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ServerConfig } from './config/model';
import { FrontEnd } from './front/front-end';
import { ProcessGroup } from './groups/process-group';
import { probePython, type PythonInfo } from './groups/python-probe';
import { AccessLog } from './log/access-log';
import { ErrorLog } from './log/error-log';
import { openSink } from './log/sink';
import { VERSION } from './paths';
import { StartupError } from './startup-error';
import { makeDirectories } from './util/fs';

/**
 * The whole server: logs, process groups and the HTTP front end, started and stopped in order.
 */
export class Server {
  readonly errorLog: ErrorLog;
  readonly accessLog: AccessLog | null;
  readonly groups = new Map<string, ProcessGroup>();
  readonly pythons = new Map<string, PythonInfo>();
  private front: FrontEnd | null = null;
  private socketDir: string | null = null;
  private stopped = false;

  constructor(readonly config: ServerConfig) {
    this.errorLog = new ErrorLog(openSinkOrFail(config.errorLog, 'error log'), config.logLevel, config.moduleLogLevels);
    this.accessLog = config.accessLog === null ? null : new AccessLog(openSinkOrFail(config.accessLog.target, 'access log'), config.accessLog.format);
  }

  get addresses(): { host: string; port: number }[] {
    return this.front?.boundAddresses ?? [];
  }

  get activeRequests(): number {
    return this.front?.activeRequests ?? 0;
  }

  /** Checks what can be checked before anything starts, then starts everything. */
  async start(): Promise<void> {
    this.checkScripts();
    for (const group of this.config.processGroups) {
      this.pythons.set(group.name, probePython(group.python));
    }
    this.socketDir = createSocketDirectory(this.config.socketPrefix);
    this.config.processGroups.forEach((groupConfig, index) => {
      this.groups.set(groupConfig.name, new ProcessGroup(groupConfig, { errorLog: this.errorLog, socketDir: this.socketDir!, index }));
    });
    try {
      for (const group of this.groups.values()) await group.start();
      this.front = new FrontEnd({
        config: this.config,
        errorLog: this.errorLog,
        accessLog: this.accessLog,
        groups: this.groups,
        serverSoftware: `wsgi-host/${VERSION}`,
      });
      await this.front.listen();
    } catch (err) {
      await this.stop(0);
      throw err instanceof StartupError ? err : new StartupError((err as Error).message);
    }
    this.errorLog.notice('core', `wsgi-host/${VERSION} configured -- resuming normal operations`);
  }

  /**
   * Stops gracefully: no new connections; running requests get `graceSeconds` to finish; then
   * the worker processes are stopped and the socket directory removed.
   */
  async stop(graceSeconds = this.config.shutdownTimeout): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const front = this.front;
    if (front !== null) {
      front.stopAccepting();
      await front.whenIdle(graceSeconds * 1000);
    }
    for (const group of this.groups.values()) {
      group.dispatcher.drain(() => {});
    }
    await Promise.all([...this.groups.values()].map((group) => group.stop(0, Math.max(1, group.config.shutdownTimeout) * 1000)));
    front?.closeAllConnections();
    if (this.socketDir !== null) fs.rmSync(this.socketDir, { recursive: true, force: true });
    this.errorLog.flush();
    this.accessLog?.close();
    this.errorLog.close();
  }

  private checkScripts(): void {
    for (const vhost of this.config.virtualHosts) {
      for (const mount of vhost.mounts) {
        let stat: fs.Stats;
        try {
          stat = fs.statSync(mount.scriptPath);
        } catch {
          throw new StartupError(`The WSGI script ${mount.scriptPath} does not exist; check the path given for ${mount.urlPrefix || '/'}.`);
        }
        if (!stat.isFile()) throw new StartupError(`The WSGI script ${mount.scriptPath} is not a file.`);
      }
    }
  }
}

function openSinkOrFail(target: Parameters<typeof openSink>[0], what: string): ReturnType<typeof openSink> {
  try {
    return openSink(target);
  } catch (err) {
    throw new StartupError(`Cannot open the ${what} ${target.kind === 'file' ? target.path : target.kind}: ${(err as Error).message}`);
  }
}

/**
 * Creates the private directory the workers' sockets live in (mode 0700: only this user can
 * reach them) and removes directories left behind by servers that crashed.
 */
function createSocketDirectory(prefix: string): string {
  const parent = path.dirname(prefix);
  const base = path.basename(prefix);
  try {
    makeDirectories(parent);
  } catch (err) {
    throw new StartupError(`Cannot create the socket directory's parent ${parent}: ${(err as Error).message}. Set --socket-prefix (WSGISocketPrefix) to a writable location.`);
  }
  removeStaleSocketDirectories(parent, base);
  const dir = `${prefix}-${process.pid}`;
  try {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { mode: 0o700 });
    fs.chmodSync(dir, 0o700);
  } catch (err) {
    throw new StartupError(`Cannot create the socket directory ${dir}: ${(err as Error).message}. Set --socket-prefix (WSGISocketPrefix) to a writable location.`);
  }
  return dir;
}

function removeStaleSocketDirectories(parent: string, base: string): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(parent);
  } catch {
    return;
  }
  const pattern = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d+)$`);
  for (const entry of entries) {
    const match = pattern.exec(entry);
    if (match === null) continue;
    const pid = Number(match[1]);
    if (pid === process.pid || isAlive(pid)) continue;
    const dir = path.join(parent, entry);
    try {
      const stat = fs.lstatSync(dir);
      // Only our own directories: never follow a link or remove another user's files.
      if (!stat.isDirectory() || stat.uid !== process.getuid?.()) continue;
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // gone already, or not ours to remove
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
