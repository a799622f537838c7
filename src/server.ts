import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultProcessGroup, interpreterFlags } from './config/defaults';
import { EMBEDDED_GROUP, type LogTarget, type ProcessGroupConfig, type ServerConfig, type VirtualHostConfig } from './config/model';
import { AccessControl } from './auth/access-control';
import { HookGroups } from './auth/hook-calls';
import { FrontEnd, type SiteLogs } from './front/front-end';
import { ProcessGroup } from './groups/process-group';
import { probePython, type PythonInfo } from './groups/python-probe';
import { AccessLog } from './log/access-log';
import { ErrorLog } from './log/error-log';
import { openSink, type LineSink } from './log/sink';
import { anyOpsFeature, attachStats, OpsMonitor, opsFeatures, type OpsHost } from './ops/monitor';
import { setFrontEndTitle } from './ops/process-title';
import { capYoungGeneration } from './util/young-generation-cap';
import { releaseStartupPages } from './util/startup-pages';
import { VERSION } from './paths';
import { StartupError } from './startup-error';
import { makeDirectories } from './util/fs';
import { FrontEndPriority, type PriorityReport } from './front-end-priority';
import { dropFrontEnd, resolveCredentials, runningAsRoot, unreachableDirectory, type Credentials } from './privileges';

/**
 * The front end's young generation stops growing at this size: 8 MiB against Node's 32 MiB
 * keeps 12 to 17 MiB less resident under load for about 2 µs of scavenging per request
 * (see young-generation-cap.ts).
 */
const FRONT_END_NEW_SPACE_BYTES = 8 * 1024 * 1024;

/** How often the front end releases its unused pages after the start-up release, by default. */
const PAGE_RELEASE_SECONDS = 60;

/** WSGI_HOST_PAGE_RELEASE_SECONDS: a whole number of seconds; 0 releases only once started. */
function pageReleaseSeconds(): number {
  const raw = process.env['WSGI_HOST_PAGE_RELEASE_SECONDS'];
  if (raw === undefined || raw === '') return PAGE_RELEASE_SECONDS;
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < 0) {
    throw new StartupError(`WSGI_HOST_PAGE_RELEASE_SECONDS must be a whole number of seconds (0 for no release after start), not '${raw}'.`);
  }
  return seconds;
}

const mib = (bytes: number): string => (bytes / 1048576).toFixed(1);

/**
 * The whole server: logs, process groups and the HTTP front end, started and stopped in order.
 */
export class Server implements OpsHost {
  /** The main server's error log: start-up, shutdown and anything not tied to a virtual host. */
  errorLog: ErrorLog;
  groups = new Map<string, ProcessGroup>();
  readonly pythons = new Map<string, PythonInfo>();
  private readonly sinks = new Map<string, LineSink>();
  /** While a configuration opens its logs: the sink keys it names. */
  private sinksNamed: Set<string> | null = null;
  /** The sink keys the running configuration names. */
  private runningSinks = new Set<string>();
  private siteLogs = new Map<VirtualHostConfig, SiteLogs>();
  private front: FrontEnd | null = null;
  private socketDir: string | null = null;
  private stopped = false;
  /** Numbers the groups' socket files; never reused, so a new group never meets an old socket. */
  private nextGroupIndex = 0;
  private readonly retiring = new Set<Promise<void>>();
  /** The process groups that run the auth hook scripts (WSGIAccessScript and friends). */
  private hooks: HookGroups | null = null;
  /** Status page, metrics, statistics, slow-request log: only when the configuration asks. */
  private ops: OpsMonitor | null = null;
  /** Lifts the front end's young-generation cap (see young-generation-cap.ts). */
  private releaseYoungGeneration: (() => void) | null = null;
  /** Repeats the page release (releaseUnusedPages); null when it is off. */
  private pageReleaseTimer: NodeJS.Timeout | null = null;
  /** 1, plus one per configuration reload (the status page's ParentServerConfigGeneration). */
  generation = 1;
  /** The front end's nice value, and the one the server started with (the daemon processes keep that). */
  private readonly priority = new FrontEndPriority();

  constructor(public config: ServerConfig) {
    this.sinksNamed = this.runningSinks;
    this.siteLogs = this.openAllSiteLogs(config);
    this.sinksNamed = null;
    this.errorLog = this.siteLogs.get(config.mainServer)!.errorLog;
  }

  get addresses(): { host: string; port: number; tls: boolean }[] {
    return this.front?.boundAddresses ?? [];
  }

  get activeRequests(): number {
    return this.front?.activeRequests ?? 0;
  }

  get serverName(): string {
    return this.config.mainServer.serverName;
  }

  get software(): string {
    return `wsgi-host/${VERSION}`;
  }

  connectionCount(): Promise<number> {
    return this.front?.connectionCount() ?? Promise.resolve(0);
  }

  /** The logs of a virtual host (or of the main server). */
  logsFor(vhost: VirtualHostConfig): SiteLogs {
    return this.siteLogs.get(vhost) ?? this.siteLogs.get(this.config.mainServer)!;
  }

  /** Checks what can be checked before anything starts, then starts everything. */
  async start(): Promise<void> {
    checkScripts(this.config);
    const releaseEvery = pageReleaseSeconds();
    for (const warning of this.config.warnings) this.errorLog.warn('core', warning);
    const groupConfigs = this.config.processGroups;
    for (const group of groupConfigs) {
      if (!this.pythons.has(group.python)) this.pythons.set(group.python, probePython(group.python));
    }
    // Before any process starts and before privileges are dropped: lowering a nice value needs them.
    const priorityReports = [this.priority.apply(this.config.frontEndPriority), this.priority.applyPolicy(this.config.frontEndSchedulingPolicy)];
    const privilegeWarnings: string[] = [];
    const frontEndUser = this.planPrivileges(privilegeWarnings);
    this.socketDir = createSocketDirectory(this.config.socketPrefix, frontEndUser, this.ownersOfOldSockets());
    this.hooks = this.createHookGroups(this.config);
    try {
      for (const groupConfig of groupConfigs) this.groups.set(groupConfig.name, this.createGroup(groupConfig, this.config, this.siteLogs));
      // After the groups exist: the statistics attach to each of them.
      this.applyOpsFeatures(this.config);
      for (const group of this.groups.values()) await group.start();
      const serverSoftware = `wsgi-host/${VERSION}`;
      this.front = new FrontEnd({
        config: this.config,
        groups: this,
        serverSoftware,
        sites: this,
        access: new AccessControl({ call: (spec, log) => this.hooks!.call(spec, log) }, serverSoftware),
        spoolDirectory: this.socketDir,
      });
      this.front.ops = this.ops;
      await this.front.listen();
      this.releaseYoungGeneration = capYoungGeneration(FRONT_END_NEW_SPACE_BYTES);
      setFrontEndTitle(this.config, this.addresses);
      if (frontEndUser !== null) {
        dropFrontEnd(frontEndUser);
        this.errorLog.info('core', `The front end now runs as user '${frontEndUser.name}' (uid ${frontEndUser.uid}, gid ${frontEndUser.gid}); its ports are bound.`);
      }
    } catch (err) {
      await this.stop(0);
      throw err instanceof StartupError ? err : new StartupError((err as Error).message);
    }
    // Said once the server runs, so that a start-up failure stays one line.
    for (const warning of privilegeWarnings) this.errorLog.warn('core', warning);
    for (const report of priorityReports) this.reportPriority(report);
    this.releaseStartupPages();
    if (releaseEvery > 0) {
      this.pageReleaseTimer = setInterval(() => this.releaseUnusedPages(), releaseEvery * 1000);
      this.pageReleaseTimer.unref();
    }
    this.errorLog.notice('core', `wsgi-host/${VERSION} configured -- resuming normal operations`);
  }

  /** Once started: the pages of the node binary and its libraries that only start-up used leave the front end's RSS. */
  private releaseStartupPages(): void {
    try {
      const report = releaseStartupPages();
      if (report === null) return;
      this.errorLog.info('core', `Released the start-up pages of the node binary and its libraries: ${mib(report.residentBeforeBytes)} MiB were resident in ${report.mappings} mappings; what the front end still runs comes back from the page cache as it runs.`);
    } catch (err) {
      this.errorLog.info('core', `Could not release the start-up pages of the node binary and its libraries (${(err as Error).message}); they stay resident, which costs memory, not correctness.`);
    }
  }

  /**
   * Every WSGI_HOST_PAGE_RELEASE_SECONDS: the same release again. What the front end ran since
   * the last one comes back as it runs again; what it ran once, V8 optimising the hot code in
   * the first seconds of load above all, leaves. Under hello load the binary's resident part
   * goes from about 28 to 21.5 MiB after one; each costs about a millisecond of page faults.
   */
  private releaseUnusedPages(): void {
    try {
      const report = releaseStartupPages();
      if (report !== null) this.errorLog.debug('core', `Released the unused pages of the node binary and its libraries: ${mib(report.residentBeforeBytes)} MiB were resident in ${report.mappings} mappings.`);
    } catch (err) {
      clearInterval(this.pageReleaseTimer!);
      this.pageReleaseTimer = null;
      this.errorLog.info('core', `Could not release the unused pages of the node binary and its libraries (${(err as Error).message}); they stay resident from now on.`);
    }
  }

  private reportPriority(report: PriorityReport | null): void {
    if (report === null) return;
    if (report.level === 'warn') this.errorLog.warn('core', report.message);
    else this.errorLog.info('core', report.message);
  }

  /** Users resolved for groups, by "user|group". */
  private readonly credentials = new Map<string, Credentials>();

  /** Who a group's processes run as: its user= (or User) when the server runs as root; null otherwise. */
  private credentialsFor(groupConfig: ProcessGroupConfig): Credentials | null {
    if (groupConfig.user === null || !runningAsRoot()) return null;
    const key = `${groupConfig.user}|${groupConfig.group ?? ''}`;
    let who = this.credentials.get(key);
    if (who === undefined) {
      const at = groupConfig.origin !== null ? ` at ${groupConfig.origin.file}:${groupConfig.origin.line}` : '';
      const where = `user= of daemon process group '${groupConfig.name}'${at}`;
      who = resolveCredentials(groupConfig.user, groupConfig.group, where);
      // mod_wsgi's rule: a group named to run as root is refused, not run with every privilege.
      if (who.uid === 0) throw new StartupError(`WSGI process blocked from running as root (${where}): name an unprivileged user, or leave user= out.`);
      this.credentials.set(key, who);
    }
    return who;
  }

  /**
   * Works out who runs what before anything starts: the user the front end drops to (null: it
   * stays as it is), with the warnings Apache users would want. The front end drops to User only
   * when every group runs as User too: starting processes as another user needs root.
   */
  private planPrivileges(warnings: string[]): Credentials | null {
    const config = this.config;
    if (!runningAsRoot()) {
      const named = config.processGroups.filter((g) => g.user !== null);
      if (named.length > 0) warnings.push(`user=/User (${named.map((g) => `'${g.user}' for '${g.name}'`).join(', ')}) only takes effect when wsgi-host is started as root; the processes run as this server's user.`);
      return null;
    }
    const groupUsers = config.processGroups.map((g) => ({ group: g, who: this.credentialsFor(g) }));
    if (config.user === null && groupUsers.every((g) => g.who === null || g.who.uid === 0)) {
      warnings.push('wsgi-host runs as root and no user is given, so the applications run as root. Give --user and --group (User and Group, or user= and group= on WSGIDaemonProcess) to run them as an unprivileged user.');
      return null;
    }
    if (config.user === null) return null;
    const frontEnd = resolveCredentials(config.user, config.group, 'User');
    if (frontEnd.uid === 0) return null;
    const others = groupUsers.filter((g) => g.who === null || g.who.uid !== frontEnd.uid);
    if (others.length > 0) {
      warnings.push(`The front end stays root, because daemon process group${others.length === 1 ? '' : 's'} ${others.map((g) => `'${g.group.name}' (user ${g.group.user ?? 'root'})`).join(', ')} run${others.length === 1 ? 's' : ''} as another user than User '${config.user}' and only root can start processes as another user.`);
      return null;
    }
    return frontEnd;
  }

  /** Whose socket directories a crashed earlier run may have left: ours, and those we hand directories to. */
  private ownersOfOldSockets(): Set<number> {
    const owners = new Set<number>([process.getuid?.() ?? 0]);
    for (const who of this.credentials.values()) owners.add(who.uid);
    if (runningAsRoot() && this.config.user !== null) {
      try {
        owners.add(resolveCredentials(this.config.user, this.config.group, 'User').uid);
      } catch {
        // reported where it matters
      }
    }
    return owners;
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
    const waitStarted = Date.now();
    if (front !== null) {
      front.stopAccepting();
      await front.whenIdle(graceSeconds * 1000);
    }
    // The requests still running have had that wait: the processes give them only what is left of it.
    const graceLeftMs = Math.max(0, graceSeconds * 1000 - (Date.now() - waitStarted));
    const groups = [...this.groups.values(), ...(this.hooks?.all ?? [])];
    for (const group of groups) group.dispatcher.drain(() => {});
    await Promise.all(groups.map((group) => group.stop(0, Math.max(1, group.config.shutdownTimeout) * 1000, graceLeftMs)));
    for (const group of this.groups.values()) group.dispatcher.drain(() => {});
    this.ops?.close();
    await Promise.all([...this.groups.values()].map((group) => group.stop(0, Math.max(1, group.config.shutdownTimeout) * 1000)));
    await Promise.all(this.retiring);
    front?.closeAllConnections();
    if (this.socketDir !== null) {
      try {
        fs.rmSync(this.socketDir, { recursive: true, force: true });
      } catch (err) {
        // A front end that dropped to User may not remove entries of a directory root owns; the
        // next start, as root, removes what is left.
        this.errorLog.info('core', `Could not remove the socket directory ${this.socketDir} (${(err as Error).message}); the next start removes it.`);
      }
    }
    for (const sink of this.sinks.values()) sink.close();
    this.releaseYoungGeneration?.();
    if (this.pageReleaseTimer !== null) clearInterval(this.pageReleaseTimer);
    this.pageReleaseTimer = null;
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
    const logs = this.openLogsForReload(next);
    const siteLogs = logs.siteLogs;
    const kept = new Map<string, ProcessGroup>();
    const started: ProcessGroup[] = [];
    for (const groupConfig of next.processGroups) {
      const current = this.groups.get(groupConfig.name);
      if (current !== undefined && sameGroupSettings(current.config, groupConfig)) kept.set(groupConfig.name, current);
      else started.push(this.createGroup(groupConfig, next, siteLogs));
    }
    if (this.ops !== null) attachStats(this.ops, started);
    try {
      for (const group of started) await group.start();
      await Promise.all(started.map((group) => group.whenReady(Math.max(30, group.config.startupTimeout) * 1000)));
      await this.front.update(next);
    } catch (err) {
      await Promise.all(started.map((group) => group.stop(0, 1000)));
      logs.abandon();
      throw err;
    }
    const groups = new Map(kept);
    for (const group of started) groups.set(group.config.name, group);
    const retired = [...this.groups.values()].filter((group) => groups.get(group.config.name) !== group);
    const previousPriority = this.config.frontEndPriority ?? null;
    const previousPolicy = this.config.frontEndSchedulingPolicy ?? null;
    this.groups = groups;
    this.config = next;
    this.siteLogs = siteLogs;
    this.errorLog = siteLogs.get(next.mainServer)!.errorLog;
    // Hook scripts run afresh under the new configuration, as in Apache's new children; the
    // old hook processes finish the calls they have.
    retired.push(...(this.hooks?.all ?? []));
    this.hooks = this.createHookGroups(next);
    this.generation++;
    this.applyOpsFeatures(next);
    this.front.ops = this.ops;
    setFrontEndTitle(next, this.addresses);
    if ((next.frontEndPriority ?? null) !== previousPriority) this.reportPriority(this.priority.apply(next.frontEndPriority));
    if ((next.frontEndSchedulingPolicy ?? null) !== previousPolicy) this.reportPriority(this.priority.applyPolicy(next.frontEndSchedulingPolicy));
    logs.commit();
    for (const problem of logs.reopen()) this.errorLog.error('core', problem);
    const retirements: Promise<void>[] = [];
    for (const group of retired) {
      const done = group
        .retire(Math.max(group.config.gracefulTimeout, 60) * 1000)
        .then(() => this.errorLog.info('wsgi', `Process group '${group.config.name}' of the previous configuration has stopped.`));
      this.retiring.add(done);
      retirements.push(done);
      void done.finally(() => this.retiring.delete(done));
    }
    // Logs the new configuration no longer names close once the old groups, which may still
    // write to them, are gone.
    void Promise.allSettled(retirements).then(() => logs.closeUnnamed());
    for (const warning of next.warnings) this.errorLog.warn('core', warning);
    // The groups that kept running restart too, so new code is picked up everywhere.
    await Promise.all([...kept.values()].map((group) => group.restartAll('graceful_signal')));
    this.errorLog.notice('core', 'All process groups have been restarted.');
  }

  /**
   * The logs of a configuration about to replace the running one. `reopen` opens the files both
   * name afresh, so a log that logrotate moved away starts anew (Apache reopens its logs on a
   * graceful restart); `closeUnnamed` closes those only the old one named; `abandon` closes those
   * opened for a configuration that did not start.
   */
  private openLogsForReload(next: ServerConfig): { siteLogs: Map<VirtualHostConfig, SiteLogs>; reopen(): string[]; commit(): void; closeUnnamed(): void; abandon(): void } {
    const before = new Set(this.sinks.keys());
    const named = new Set<string>();
    const closeWhere = (keep: (key: string) => boolean): void => {
      for (const [key, sink] of this.sinks) {
        if (keep(key)) continue;
        sink.close();
        this.sinks.delete(key);
      }
    };
    const abandon = (): void => closeWhere((key) => before.has(key));
    this.sinksNamed = named;
    let siteLogs: Map<VirtualHostConfig, SiteLogs>;
    try {
      siteLogs = this.openAllSiteLogs(next);
    } catch (err) {
      abandon();
      throw err;
    } finally {
      this.sinksNamed = null;
    }
    return {
      siteLogs,
      abandon,
      reopen: () => [...named].filter((key) => before.has(key)).map((key) => this.sinks.get(key)!.reopen()).filter((p): p is string => p !== null),
      commit: () => {
        this.runningSinks = named;
      },
      // By then another reload may have named a file again: only the running configuration counts.
      closeUnnamed: () => closeWhere((key) => this.runningSinks.has(key)),
    };
  }

  /** SIGHUP without a configuration file: log files are opened afresh, every group restarts, one process at a time. */
  async restartAllGroups(reason: string): Promise<void> {
    for (const sink of this.sinks.values()) {
      const problem = sink.reopen();
      if (problem !== null) this.errorLog.error('core', problem);
    }
    await Promise.all([...this.groups.values(), ...(this.hooks?.all ?? [])].map((group) => group.restartAll(reason)));
    this.errorLog.notice('core', 'All process groups have been restarted.');
  }

  /**
   * Starts (or reconfigures) the status page, metrics, statistics and slow-request log the
   * configuration asks for. A monitor, once made, stays across reloads, so its history does too.
   */
  private applyOpsFeatures(config: ServerConfig): void {
    const features = opsFeatures(config);
    if (this.ops === null && !anyOpsFeature(features)) return;
    if (this.ops === null) this.ops = new OpsMonitor(this, features);
    else this.ops.configure(features);
    attachStats(this.ops, this.groups.values());
  }

  private createGroup(groupConfig: ProcessGroupConfig, config: ServerConfig, siteLogs: Map<VirtualHostConfig, SiteLogs>): ProcessGroup {
    let errorLog = siteLogs.get(config.mainServer)!.errorLog;
    // A group defined in a virtual host logs to that virtual host's error log, as in mod_wsgi.
    if (groupConfig.scope !== null) {
      const vhost = config.virtualHosts.find((v) => v.serverName === groupConfig.scope);
      if (vhost !== undefined) errorLog = siteLogs.get(vhost)!.errorLog;
    }
    const python = config.python;
    const credentials = this.credentialsFor(groupConfig);
    const index = this.nextGroupIndex++;
    return new ProcessGroup(groupConfig, {
      errorLog,
      socketDir: groupSocketDirectory(this.socketDir!, index, credentials, groupConfig.name),
      credentials,
      index,
      workerSettings: {
        restrictSignal: python.restrictSignal,
        restrictStdin: python.restrictStdin,
        restrictStdout: python.restrictStdout,
        // They inherit the front end's nice value; without a cpu-priority of their own they go back to this one.
        startingPriority: this.priority.startingNice,
      },
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
    this.sinksNamed?.add(key);
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
    if (this.ops !== null) attachStats(this.ops, [group]);
    this.errorLog.warn(
      'wsgi',
      "WSGIProcessGroup %{GLOBAL} (mod_wsgi's embedded mode) is served by a built-in process group of 1 process x 15 threads; define a WSGIDaemonProcess and name it with WSGIProcessGroup to control it.",
    );
    group.start().catch((err: unknown) => this.errorLog.error('wsgi', `Cannot start the built-in process group for %{GLOBAL}: ${(err as Error).message}`));
    return group;
  }

  private embeddedGroupConfig(): ProcessGroupConfig {
    const group = serverInterpreterGroup(EMBEDDED_GROUP, this.config);
    // Embedded mode runs in Apache's children, as User.
    group.user = this.config.user;
    group.group = this.config.group;
    return group;
  }

  /**
   * Hook process groups, one per application group, started when a hook first needs one. Like
   * mod_wsgi's hooks, which run in the Apache children, they use the server's interpreter
   * settings (WSGIPythonHome, WSGIPythonPath) and the server's User/Group.
   */
  private createHookGroups(config: ServerConfig): HookGroups {
    return new HookGroups((name) => {
      const groupConfig = serverInterpreterGroup(name, config);
      groupConfig.threads = 5;
      groupConfig.queueTimeout = config.timeouts.socket;
      groupConfig.user = config.user;
      groupConfig.group = config.group;
      const group = this.createGroup(groupConfig, config, this.siteLogs);
      this.errorLog.info('wsgi', `Starting the auth hook process group '${name}'.`);
      group.start().catch((err: unknown) => this.errorLog.error('wsgi', `Cannot start the auth hook process group '${name}': ${(err as Error).message}`));
      return group;
    }, config.timeouts.socket * 1000);
  }
}

/** A group running the server's own interpreter settings (embedded mode, auth hooks). */
function serverInterpreterGroup(name: string, config: ServerConfig): ProcessGroupConfig {
  const python = config.python;
  const group = defaultProcessGroup(name, python.home !== null ? path.join(python.home, 'bin', 'python3') : python.defaultInterpreter);
  group.pythonPath = python.path;
  group.interpreterFlags = interpreterFlags(python);
  group.environment = python.hashSeed !== null ? { PYTHONHASHSEED: python.hashSeed } : {};
  return group;
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
 * reach them; owned by User when the front end will drop to it) and removes directories left
 * behind by servers that crashed.
 */
function createSocketDirectory(prefix: string, frontEndUser: Credentials | null, oldOwners: Set<number>): string {
  const parent = path.dirname(prefix);
  const base = path.basename(prefix);
  try {
    makeDirectories(parent);
  } catch (err) {
    throw new StartupError(`Cannot create the socket directory's parent ${parent}: ${(err as Error).message}. Set --socket-prefix (WSGISocketPrefix) to a writable location.`);
  }
  removeStaleSocketDirectories(parent, base, oldOwners);
  const dir = `${prefix}-${process.pid}`;
  try {
    // A directory of an earlier server that had our pid (pid 1 in a container, say).
    removeSocketDirectory(dir, oldOwners);
    fs.mkdirSync(dir, { mode: 0o700 });
    fs.chmodSync(dir, 0o700);
    if (frontEndUser !== null) fs.chownSync(dir, frontEndUser.uid, frontEndUser.gid);
  } catch (err) {
    throw new StartupError(`Cannot create the socket directory ${dir}: ${(err as Error).message}. Set --socket-prefix (WSGISocketPrefix) to a writable location.`);
  }
  return dir;
}

/**
 * A group whose processes run as another user gets a directory of that user's own inside the
 * socket directory (which then lets others pass through, but not list it): only the server and
 * that user can reach the group's socket.
 */
function groupSocketDirectory(socketDir: string, index: number, who: Credentials | null, groupName: string): string {
  if (who === null || who.uid === (process.getuid?.() ?? 0) || fs.statSync(socketDir).uid === who.uid) return socketDir;
  const blocked = unreachableDirectory(path.dirname(socketDir), who);
  if (blocked !== null) {
    throw new StartupError(`Daemon process group '${groupName}' runs as '${who.name}', who cannot reach the socket directory ${socketDir}: ${blocked} gives that user no search (x) permission. Set WSGISocketPrefix (--socket-prefix) to a directory that user can reach, e.g. /run/wsgi-host/wsgi.`);
  }
  const dir = path.join(socketDir, `g${index}`);
  try {
    fs.chmodSync(socketDir, 0o711);
    fs.mkdirSync(dir, { mode: 0o700 });
    fs.chownSync(dir, who.uid, who.gid);
  } catch (err) {
    throw new StartupError(`Cannot create the socket directory ${dir} for daemon process group '${groupName}': ${(err as Error).message}.`);
  }
  return dir;
}

function removeStaleSocketDirectories(parent: string, base: string, owners: Set<number>): void {
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
    removeSocketDirectory(path.join(parent, entry), owners);
  }
}

/**
 * Removes a socket directory a server left behind, touching nothing else: it must be a real
 * directory (never a symbolic link) owned by one of `owners`, holding only socket files (gN.sock)
 * and group directories of them, each owned by one of `owners`. Anything else, a symbolic link
 * above all, makes it stay as it is.
 */
export function removeSocketDirectory(dir: string, owners: Set<number>, depth = 0): boolean {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(dir);
  } catch {
    return true;
  }
  if (!stat.isDirectory() || !owners.has(stat.uid)) return false;
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return false;
  }
  const sockets: string[] = [];
  for (const entry of entries) {
    const full = path.join(dir, entry);
    let entryStat: fs.Stats;
    try {
      entryStat = fs.lstatSync(full);
    } catch {
      continue;
    }
    if (!owners.has(entryStat.uid)) return false;
    if ((entryStat.isSocket() || entryStat.isFile()) && /^g\d+\.sock$/.test(entry)) sockets.push(full);
    else if (entryStat.isDirectory() && depth === 0 && /^g\d+$/.test(entry)) {
      if (!removeSocketDirectory(full, owners, depth + 1)) return false;
    } else return false;
  }
  try {
    for (const socket of sockets) fs.unlinkSync(socket);
    fs.rmdirSync(dir);
    return true;
  } catch {
    return false;
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
