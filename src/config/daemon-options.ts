import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ProcessGroupConfig } from './model';
import { schedulingPolicyNamed } from './scheduling-policy';

/**
 * The options of WSGIDaemonProcess, every one mod_wsgi 6 accepts: each is applied to the group,
 * or, where it means nothing for wsgi-host's transport, accepted with a warning that says so;
 * none is silently ignored. Returns an error message for a bad option, or null.
 */
export interface DaemonOptionContext {
  /** Resolves a path relative to ServerRoot. */
  resolvePath(value: string): string;
  warn(message: string): void;
}

type Apply = (group: ProcessGroupConfig, value: string, ctx: DaemonOptionContext) => string | null;

/**
 * Digits only (with an optional sign), as mod_wsgi's atoi reads them: Number() would also take
 * 1e2, 0x2, 0b1 and Infinity, and read them as something the configuration does not say.
 */
function wholeNumber(value: string): number {
  return /^[+-]?\d+$/.test(value.trim()) ? Number(value) : NaN;
}

/** A decimal number of seconds or milliseconds: digits with an optional fraction, nothing else. */
function decimal(value: string): number {
  return /^(\d+(\.\d*)?|\.\d+)$/.test(value.trim()) ? Number(value) : NaN;
}

function integer(min: number, set: (group: ProcessGroupConfig, n: number) => void, what = 'a whole number'): Apply {
  return (group, value) => {
    const n = wholeNumber(value);
    if (!Number.isSafeInteger(n) || n < min) return `needs ${what} of at least ${min}, not "${value}"`;
    set(group, n);
    return null;
  };
}

function seconds(set: (group: ProcessGroupConfig, n: number) => void): Apply {
  return (group, value) => {
    const n = decimal(value);
    if (!Number.isFinite(n)) return `needs a number of seconds (0 or more), not "${value}"`;
    set(group, n);
    return null;
  };
}

/** Sizes accept a plain byte count, as mod_wsgi does, and also k/M/G suffixes. */
function bytes(set: (group: ProcessGroupConfig, n: number) => void): Apply {
  return (group, value) => {
    const match = /^(\d+)([kKmMgG]?)$/.exec(value.trim());
    if (match === null) return `needs a size in bytes (e.g. 536870912 or 512M), not "${value}"`;
    const scale = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2]!.toLowerCase()]!;
    set(group, Number(match[1]) * scale);
    return null;
  };
}

/** Options that tune mod_wsgi's shared daemon socket, which wsgi-host does not have. */
function transportOnly(why: string): Apply {
  return (_group, _value, ctx) => {
    ctx.warn(why);
    return null;
  };
}

const OPTIONS: Record<string, Apply> = {
  processes: (group, value) => {
    const n = wholeNumber(value);
    if (!Number.isSafeInteger(n) || n < 1) return `needs a whole number of at least 1, not "${value}"`;
    group.processes = n;
    group.multiprocess = true;
    return null;
  },
  threads: integer(1, (g, n) => (g.threads = n)),
  user: (group, value) => {
    if (value.trim() === '') return 'needs a user name or #uid, not an empty value';
    group.user = value;
    return null;
  },
  group: (group, value) => {
    if (value.trim() === '') return 'needs a group name or #gid, not an empty value';
    group.group = value;
    return null;
  },
  umask: (group, value) => {
    if (!/^0?[0-7]{1,3}$/.test(value)) return `needs an octal mask such as 0022, not "${value}"`;
    group.umask = parseInt(value, 8);
    return null;
  },
  home: (group, value, ctx) => {
    group.home = ctx.resolvePath(value);
    return null;
  },
  lang: (group, value) => {
    group.lang = value;
    return null;
  },
  locale: (group, value) => {
    group.locale = value;
    return null;
  },
  'display-name': (group, value) => {
    group.displayName = value === '%{GROUP}' ? `(wsgi:${group.name})` : value;
    return null;
  },
  'python-home': (group, value, ctx) => {
    // A virtualenv or installation prefix: its own interpreter runs the group, so each group
    // may use a different Python (mod_wsgi can only use the one it was built for).
    const prefix = ctx.resolvePath(value);
    const python3 = path.join(prefix, 'bin', 'python3');
    group.python = fs.existsSync(python3) || !fs.existsSync(path.join(prefix, 'bin', 'python')) ? python3 : path.join(prefix, 'bin', 'python');
    return null;
  },
  // A wsgi-host extension: the interpreter itself, when it is not <prefix>/bin/python3.
  'python-executable': (group, value, ctx) => {
    group.python = value.includes('/') ? ctx.resolvePath(value) : value;
    return null;
  },
  'python-path': (group, value, ctx) => {
    group.pythonPath.push(...value.split(':').filter((p) => p !== '').map((p) => ctx.resolvePath(p)));
    return null;
  },
  'python-eggs': (group, value, ctx) => {
    group.environment['PYTHON_EGG_CACHE'] = ctx.resolvePath(value);
    return null;
  },
  'switch-interval': (group, value) => {
    const n = decimal(value);
    if (!Number.isFinite(n) || n <= 0) return `needs a positive number of seconds, not "${value}"`;
    group.switchInterval = n;
    return null;
  },
  'maximum-requests': integer(0, (g, n) => (g.maximumRequests = n)),
  'maximum-requests-jitter': integer(0, (g, n) => (g.maximumRequestsJitter = n)),
  'restart-interval': seconds((g, n) => (g.restartInterval = n)),
  'inactivity-timeout': seconds((g, n) => (g.inactivityTimeout = n)),
  'request-timeout': seconds((g, n) => (g.requestTimeout = n)),
  'interrupt-timeout': seconds((g, n) => (g.interruptTimeout = n)),
  'deadlock-timeout': seconds((g, n) => (g.deadlockTimeout = n)),
  'startup-timeout': seconds((g, n) => (g.startupTimeout = n)),
  'graceful-timeout': seconds((g, n) => (g.gracefulTimeout = n)),
  'eviction-timeout': seconds((g, n) => (g.evictionTimeout = n)),
  'shutdown-timeout': seconds((g, n) => (g.shutdownTimeout = n)),
  'queue-timeout': seconds((g, n) => (g.queueTimeout = n)),
  'socket-timeout': seconds((g, n) => (g.socketTimeout = n)),
  'cpu-time-limit': seconds((g, n) => (g.cpuTimeLimit = n)),
  'cpu-priority': (group, value) => {
    const n = wholeNumber(value);
    if (!Number.isInteger(n) || n < -20 || n > 20) return `needs a nice value from -20 to 20, not "${value}"`;
    group.cpuPriority = n;
    return null;
  },
  'memory-limit': bytes((g, n) => (g.memoryLimit = n)),
  'virtual-memory-limit': bytes((g, n) => (g.virtualMemoryLimit = n)),
  'maximum-rss': bytes((g, n) => (g.maximumRss = n)),
  // A wsgi-host extension: what mod_wsgi-express's --reload-on-changes does, for one group.
  'reload-on-changes': (group, value) => {
    const v = value.toLowerCase();
    if (!['on', 'off', '1', '0', 'true', 'false'].includes(v)) return `takes On or Off, not "${value}"`;
    group.reloadOnChanges = ['on', '1', 'true'].includes(v);
    return null;
  },
  // A wsgi-host extension: requests sent to busy threads whose requests run under this many ms.
  'send-ahead': (group, value) => {
    const n = decimal(value);
    if (!Number.isFinite(n)) return `needs a number of milliseconds (0 turns it off), not "${value}"`;
    group.sendAheadMs = n;
    return null;
  },
  // A wsgi-host extension: SCHED_BATCH (the default) or SCHED_OTHER for the group's processes.
  'scheduling-policy': (group, value) => {
    const policy = schedulingPolicyNamed(value);
    if (policy === null) return `takes batch or normal, not "${value}"`;
    group.schedulingPolicy = policy;
    return null;
  },
  // A wsgi-host extension: application groups in processes of their own instead of sub-interpreters.
  'application-groups': (group, value) => {
    const v = value.toLowerCase();
    if (v !== 'sub-interpreters' && v !== 'processes') return `takes sub-interpreters or processes, not "${value}"`;
    group.applicationGroups = v;
    return null;
  },
  'stack-size': bytes((g, n) => (g.stackSize = n)),
  'connect-timeout': transportOnly("option 'connect-timeout' has no effect in wsgi-host: the front end holds its connections to worker threads open, so there is no connect to time out"),
  'response-socket-timeout': transportOnly("option 'response-socket-timeout' has no effect in wsgi-host: writes to slow clients are buffered by the front end, not by the worker"),
  'listen-backlog': transportOnly("option 'listen-backlog' has no effect in wsgi-host: requests wait in the front end's queue (see queue-timeout), not in a socket backlog"),
  'send-buffer-size': transportOnly("option 'send-buffer-size' has no effect in wsgi-host: worker connections use the system's buffer sizes"),
  'receive-buffer-size': transportOnly("option 'receive-buffer-size' has no effect in wsgi-host: worker connections use the system's buffer sizes"),
  'header-buffer-size': transportOnly("option 'header-buffer-size' has no effect in wsgi-host: response heads are framed, so there is no header line buffer"),
  'response-buffer-size': (group, value) => {
    const n = wholeNumber(value);
    // mod_wsgi's floor; sizes below it would make every large response wait on its client.
    if (!Number.isSafeInteger(n) || n < 65536) return `needs a size in bytes of at least 65536, not "${value}"`;
    group.responseBufferSize = n;
    return null;
  },
  'response-flush-delay': transportOnly("option 'response-flush-delay' has no effect in wsgi-host: the front end passes response data on as it arrives"),
  'socket-user': transportOnly("option 'socket-user' has no effect in wsgi-host: worker processes connect to the front end's private socket directory"),
  'server-metrics': transportOnly("option 'server-metrics' has no effect in wsgi-host: metrics come from the front end (server-status, server-metrics)"),
};

/** Options mod_wsgi has that wsgi-host refuses, with the reason. */
const REFUSED: Record<string, string> = {
  chroot: "option 'chroot' is not supported by wsgi-host (deprecated in mod_wsgi); run the server in a container instead",
  'supplementary-groups': "option 'supplementary-groups' is not supported by wsgi-host yet",
  'script-user': "option 'script-user' is not supported by wsgi-host",
  'script-group': "option 'script-group' is not supported by wsgi-host",
};

export const DAEMON_OPTION_NAMES: readonly string[] = [...Object.keys(OPTIONS), ...Object.keys(REFUSED)];

/** Applies one "name=value" option; returns an error message or null. */
export function applyDaemonOption(group: ProcessGroupConfig, option: string, ctx: DaemonOptionContext): string | null {
  const eq = option.indexOf('=');
  if (eq <= 0) return `Invalid option to WSGI daemon process definition: "${option}" (options are name=value)`;
  const name = option.slice(0, eq).toLowerCase();
  const value = option.slice(eq + 1);
  const refused = REFUSED[name];
  if (refused !== undefined) return refused;
  const apply = OPTIONS[name];
  if (apply === undefined) {
    return `Invalid option to WSGI daemon process definition: '${name}'. Allowed: ${Object.keys(OPTIONS).sort().join(', ')}`;
  }
  const error = apply(group, value, ctx);
  return error === null ? null : `option '${name}' ${error}`;
}
