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
  errorLog: ErrorLog;
  groups = new Map<string, ProcessGroup>();
  readonly pythons = new Map<string, PythonInfo>();
  private readonly sinks = new Map<string, LineSink>();
  private siteLogs = new Map<VirtualHostConfig, SiteLogs>();
  private front: FrontEnd | null = null;
  private socketDir: string | null = null;
  private stopped = false;
  /** Numbers the groups' socket files; never reused, so a new group never meets an old socket. */
  private nextGroupIndex = 0;
  private readonly retiring = new Set<Promise<void>>();

  constructor(public config: ServerConfig) {
    this.siteLogs = this.openAllSiteLogs(config);
    this.errorLog = this.siteLogs.get(config.mainServer)!.errorLog;
  }

  get addresses(): { host: string; port: number; tls: boolean }[] {
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
    checkScripts(this.config);
    for (const warning of this.config.warnings) this.errorLog.warn('core', warning);
    const groupConfigs = this.config.processGroups;
    for (const group of groupConfigs) {
      if (!this.pythons.has(group.python)) this.pythons.set(group.python, probePython(group.python));
    }
    this.socketDir = createSocketDirectory(this.config.socketPrefix);
    for (const groupConfig of groupConfigs) this.groups.set(groupConfig.name, this.createGroup(groupConfig, this.config, this.siteLogs));
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
    await Promise.all(this.retiring);
    front?.closeAllConnections();
    if (this.socketDir !== null) fs.rmSync(this.socketDir, { recursive: true, force: true });
    for (const sink of this.sinks.values()) sink.close();
  }

  /**
   * Replaces the configuration without dropping a request (SIGHUP): groups whose settings did
   * not change keep running; changed and new groups start and must be ready before requests
   * go to them; listeners are added and removed; then the old groups finish what they have and
   * stop. Throws, leaving the running configuration in place, if the new one cannot start.
   */
  async reload(next: ServerConfig): Promise<void> {
    if (this.stopped || this.front === null || this.socketDir === null) throw new Error('the server is not running');
    checkScripts(next);
    for (const group of next.processGroups) {
      if (!this.pythons.has(group.python)) this.pythons.set(group.python, probePython(group.python));
    }
    const siteLogs = this.openAllSiteLogs(next);
    const kept = new Map<string, ProcessGroup>();
    const started: ProcessGroup[] = [];
    for (const groupConfig of next.processGroups) {
      const current = this.groups.get(groupConfig.name);
      if (current !== undefined && sameGroupSettings(current.config, groupConfig)) kept.set(groupConfig.name, current);
      else started.push(this.createGroup(groupConfig, next, siteLogs));
    }
    try {
      for (const group of started) await group.start();
      await Promise.all(started.map((group) => group.whenReady(Math.max(30, group.config.startupTimeout) * 1000)));
      await this.front.update(next);
    } catch (err) {
      await Promise.all(started.map((group) => group.stop(0, 1000)));
      throw err;
    }
    const groups = new Map(kept);
    for (const group of started) groups.set(group.config.name, group);
    const retired = [...this.groups.values()].filter((group) => groups.get(group.config.name) !== group);
    this.groups = groups;
    this.config = next;
    this.siteLogs = siteLogs;
    this.errorLog = siteLogs.get(next.mainServer)!.errorLog;
    for (const group of retired) {
      const done = group
        .retire(Math.max(group.config.gracefulTimeout, 60) * 1000)
        .then(() => this.errorLog.info('wsgi', `Process group '${group.config.name}' of the previous configuration has stopped.`));
      this.retiring.add(done);
      void done.finally(() => this.retiring.delete(done));
    }
    for (const warning of next.warnings) this.errorLog.warn('core', warning);
    // The groups that kept running restart too, so new code is picked up everywhere.
    await Promise.all([...kept.values()].map((group) => group.restartAll('graceful_signal')));
    this.errorLog.notice('core', 'All process groups have been restarted.');
  }

  /** SIGHUP without a configuration file: every group restarts, one process at a time. */
  async restartAllGroups(reason: string): Promise<void> {
    await Promise.all([...this.groups.values()].map((group) => group.restartAll(reason)));
    this.errorLog.notice('core', 'All process groups have been restarted.');
  }

  private createGroup(groupConfig: ProcessGroupConfig, config: ServerConfig, siteLogs: Map<VirtualHostConfig, SiteLogs>): ProcessGroup {
    let errorLog = siteLogs.get(config.mainServer)!.errorLog;
    // A group defined in a virtual host logs to that virtual host's error log, as in mod_wsgi.
    if (groupConfig.scope !== null) {
      const vhost = config.virtualHosts.find((v) => v.serverName === groupConfig.scope);
      if (vhost !== undefined) errorLog = siteLogs.get(vhost)!.errorLog;
    }
    const python = config.python;
    return new ProcessGroup(groupConfig, {
      errorLog,
      socketDir: this.socketDir!,
      index: this.nextGroupIndex++,
      workerSettings: { restrictSignal: python.restrictSignal, restrictStdin: python.restrictStdin, restrictStdout: python.restrictStdout },
    });
  }

  private openAllSiteLogs(config: ServerConfig): Map<VirtualHostConfig, SiteLogs> {
    const logs = new Map<VirtualHostConfig, SiteLogs>();
    for (const vhost of [config.mainServer, ...config.virtualHosts]) logs.set(vhost, this.openSiteLogs(vhost));
    return logs;
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

  /**
   * The process group called `name`. %{GLOBAL} (mod_wsgi's embedded mode) is served by a
   * built-in group, started the first time a request needs it.
   */
  group(name: string): ProcessGroup | undefined {
    const existing = this.groups.get(name);
    if (existing !== undefined || name !== EMBEDDED_GROUP || this.socketDir === null || this.stopped) return existing;
    const config = this.embeddedGroupConfig();
    if (!this.pythons.has(config.python)) this.pythons.set(config.python, probePython(config.python));
    const group = this.createGroup(config, this.config, this.siteLogs);
    this.groups.set(name, group);
    this.errorLog.warn(
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
}

/** WSGIScriptAlias targets must exist (a directory of scripts or a script file). */
function checkScripts(config: ServerConfig): void {
  for (const vhost of [config.mainServer, ...config.virtualHosts]) {
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

/** Whether a group can keep running across a reload: every setting the same. */
function sameGroupSettings(a: ProcessGroupConfig, b: ProcessGroupConfig): boolean {
  const strip = (g: ProcessGroupConfig): string => JSON.stringify({ ...g, origin: null });
  return strip(a) === strip(b);
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
