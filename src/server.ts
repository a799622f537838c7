import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultProcessGroup, interpreterFlags } from './config/defaults';
import { EMBEDDED_GROUP, type LogTarget, type ProcessGroupConfig, type ServerConfig, type VirtualHostConfig } from './config/model';
import { FrontEnd, type SiteLogs } from './front/front-end';
import { ProcessGroup } from './groups/process-group';
import { probePython, type PythonInfo } from './groups/python-probe';
import { AccessLog } from './log/access-log';
import { ErrorLog } from './log/error-log';
import { openSink, type LineSink } from './log/sink';
import { VERSION } from './paths';
import { StartupError } from './startup-error';
import { makeDirectories } from './util/fs';

/**
 * The whole server: logs, process groups and the HTTP front end, started and stopped in order.
 */
export class Server {
  /** The main server's error log: start-up, shutdown and anything not tied to a virtual host. */
  readonly errorLog: ErrorLog;
  readonly groups = new Map<string, ProcessGroup>();
  readonly pythons = new Map<string, PythonInfo>();
  private readonly sinks = new Map<string, LineSink>();
  private readonly siteLogs = new Map<VirtualHostConfig, SiteLogs>();
  private front: FrontEnd | null = null;
  private socketDir: string | null = null;
  private stopped = false;

  constructor(readonly config: ServerConfig) {
    for (const vhost of [config.mainServer, ...config.virtualHosts]) this.siteLogs.set(vhost, this.openSiteLogs(vhost));
    this.errorLog = this.siteLogs.get(config.mainServer)!.errorLog;
  }

  get addresses(): { host: string; port: number }[] {
    return this.front?.boundAddresses ?? [];
  }

  get activeRequests(): number {
    return this.front?.activeRequests ?? 0;
  }

  /** The logs of a virtual host (or of the main server). */
  logsFor(vhost: VirtualHostConfig): SiteLogs {
    return this.siteLogs.get(vhost) ?? this.siteLogs.get(this.config.mainServer)!;
  }

  /** Checks what can be checked before anything starts, then starts everything. */
  async start(): Promise<void> {
    this.checkScripts();
    for (const warning of this.config.warnings) this.errorLog.warn('core', warning);
    const groupConfigs = this.config.processGroups;
    for (const group of groupConfigs) {
      if (!this.pythons.has(group.python)) this.pythons.set(group.python, probePython(group.python));
    }
    this.socketDir = createSocketDirectory(this.config.socketPrefix);
    groupConfigs.forEach((groupConfig, index) => {
      const errorLog = this.errorLogForGroup(groupConfig);
      this.groups.set(groupConfig.name, new ProcessGroup(groupConfig, { errorLog, socketDir: this.socketDir!, index }));
    });
    try {
      for (const group of this.groups.values()) await group.start();
      this.front = new FrontEnd({
        config: this.config,
        groups: this,
        serverSoftware: `wsgi-host/${VERSION}`,
        sites: this,
      });
      await this.front.listen();
    } catch (err) {
      await this.stop(0);
      throw err instanceof StartupError ? err : new StartupError((err as Error).message);
    }
    this.errorLog.notice('core', `wsgi-host/${VERSION} configured -- resuming normal operations`);
  }

  /** The Python the process groups run, for the banner. */
  pythonFor(group: ProcessGroupConfig): PythonInfo | undefined {
    return this.pythons.get(group.python);
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
    for (const group of this.groups.values()) group.dispatcher.drain(() => {});
    await Promise.all([...this.groups.values()].map((group) => group.stop(0, Math.max(1, group.config.shutdownTimeout) * 1000)));
    front?.closeAllConnections();
    if (this.socketDir !== null) fs.rmSync(this.socketDir, { recursive: true, force: true });
    for (const sink of this.sinks.values()) sink.close();
  }

  private openSiteLogs(vhost: VirtualHostConfig): SiteLogs {
    const errorLog = new ErrorLog(this.sink(vhost.errorLog, 'error log'), vhost.logLevel, vhost.moduleLogLevels);
    const accessLogs = vhost.accessLogs.map((log) => new AccessLog(this.sink(log.target, 'access log'), log.format));
    return { errorLog, accessLogs };
  }

  /** One sink per file, however many virtual hosts share it (Apache opens each log once). */
  private sink(target: LogTarget, what: string): LineSink {
    const key = target.kind === 'file' ? `file:${path.resolve(target.path)}` : target.kind;
    let sink = this.sinks.get(key);
    if (sink === undefined) {
      try {
        sink = openSink(target);
      } catch (err) {
        throw new StartupError(`Cannot open the ${what} ${target.kind === 'file' ? target.path : target.kind}: ${(err as Error).message}. Check the ErrorLog/CustomLog path (or --log-directory).`);
      }
      this.sinks.set(key, sink);
    }
    return sink;
  }

  /** A group defined in a virtual host logs to that virtual host's error log, as in mod_wsgi. */
  private errorLogForGroup(group: ProcessGroupConfig): ErrorLog {
    if (group.scope !== null) {
      const vhost = this.config.virtualHosts.find((v) => v.serverName === group.scope);
      if (vhost !== undefined) return this.logsFor(vhost).errorLog;
    }
    return this.errorLog;
  }

  /**
   * The process group called `name`. %{GLOBAL} (mod_wsgi's embedded mode) is served by a
   * built-in group, started the first time a request needs it.
   */
  group(name: string): ProcessGroup | undefined {
    const existing = this.groups.get(name);
    if (existing !== undefined || name !== EMBEDDED_GROUP || this.socketDir === null || this.stopped) return existing;
    const config = this.embeddedGroupConfig();
    if (!this.pythons.has(config.python)) this.pythons.set(config.python, probePython(config.python));
    const group = new ProcessGroup(config, { errorLog: this.errorLog, socketDir: this.socketDir, index: this.groups.size });
    this.groups.set(name, group);
    this.errorLog.notice(
      'wsgi',
      "WSGIProcessGroup %{GLOBAL} (mod_wsgi's embedded mode) is served by a built-in process group of 1 process x 15 threads; define a WSGIDaemonProcess and name it with WSGIProcessGroup to control it.",
    );
    group.start().catch((err: unknown) => this.errorLog.error('wsgi', `Cannot start the built-in process group for %{GLOBAL}: ${(err as Error).message}`));
    return group;
  }

  private embeddedGroupConfig(): ProcessGroupConfig {
    const python = this.config.python;
    const group = defaultProcessGroup(EMBEDDED_GROUP, python.home !== null ? path.join(python.home, 'bin', 'python3') : python.defaultInterpreter);
    group.pythonPath = python.path;
    group.interpreterFlags = interpreterFlags(python);
    group.environment = python.hashSeed !== null ? { PYTHONHASHSEED: python.hashSeed } : {};
    return group;
  }

  private checkScripts(): void {
    for (const vhost of [this.config.mainServer, ...this.config.virtualHosts]) {
      for (const alias of vhost.scriptAliases) {
        if (alias.pattern !== null) continue;
        try {
          fs.statSync(alias.target);
        } catch {
          const where = alias.origin !== null ? ` (${alias.origin.file}:${alias.origin.line})` : '';
          throw new StartupError(`The WSGI script ${alias.target} does not exist; check the path given for ${alias.urlPrefix || '/'}${where}.`);
        }
      }
    }
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
