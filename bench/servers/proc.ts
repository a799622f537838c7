import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

/** What /proc/PID/stat says about one process. Times are in clock ticks. */
export interface ProcStat {
  pid: number;
  ppid: number;
  pgid: number;
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
  /** Start time since boot: with the pid, identifies a process even if the pid is reused. */
  starttime: number;
  comm: string;
}

export const CLOCK_TICKS_PER_SECOND = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export function readStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // comm may contain spaces and parentheses: the fields start after the last ')'.
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const f = text.slice(close + 2).split(' ');
  // f[0] is field 3 (state) of proc(5).
  const n = (field: number): number => Number(f[field - 3]);
  return { pid, ppid: n(4), pgid: n(5), utime: n(14), stime: n(15), cutime: n(16), cstime: n(17), starttime: n(22), comm };
}

function allStats(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat !== null) stats.push(stat);
  }
  return stats;
}

/** The process and all its live descendants. */
export function processTree(rootPid: number): ProcStat[] {
  const stats = allStats();
  const children = new Map<number, ProcStat[]>();
  for (const s of stats) {
    const list = children.get(s.ppid);
    if (list === undefined) children.set(s.ppid, [s]);
    else list.push(s);
  }
  const root = stats.find((s) => s.pid === rootPid);
  if (root === undefined) return [];
  const tree: ProcStat[] = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!.pid) ?? []));
  return tree;
}

/** Every live process in a process group (the servers are started as group leaders). */
export function processGroup(pgid: number): ProcStat[] {
  return allStats().filter((s) => s.pgid === pgid);
}

/**
 * CPU time of a process tree in ticks. cutime/cstime are added because a worker that exits during
 * a round (a recycled gunicorn or Apache child) has its time moved into its parent's cutime/cstime
 * once reaped; live processes never appear in a parent's cutime, so nothing is counted twice.
 */
export function treeCpuTicks(tree: ProcStat[]): number {
  return tree.reduce((sum, s) => sum + s.utime + s.stime + s.cutime + s.cstime, 0);
}

/** A process's RSS in KiB (0 if it is gone). */
export function processRssKb(pid: number): number {
  return statusKb(pid, 'status', 'VmRSS');
}

function statusKb(pid: number, file: 'status' | 'smaps_rollup', key: string): number {
  try {
    const text = fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
    const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    return match === null ? 0 : Number(match[1]);
  } catch {
    return 0;
  }
}

/** Memory of a process tree in KiB: RSS counts pages shared between forked workers once per
 *  process (what `ps` adds up); PSS splits shared pages between their users, so it adds up. */
export function treeMemoryKb(tree: ProcStat[]): { rssKb: number; pssKb: number } {
  let rssKb = 0;
  let pssKb = 0;
  for (const s of tree) {
    rssKb += statusKb(s.pid, 'status', 'VmRSS');
    pssKb += statusKb(s.pid, 'smaps_rollup', 'Pss');
  }
  return { rssKb, pssKb };
}

/** Whether this exact process (pid and start time) is still alive and not a zombie. */
export function stillAlive(s: ProcStat): boolean {
  const now = readStat(s.pid);
  if (now === null || now.starttime !== s.starttime) return false;
  try {
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${s.pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** Busy and total CPU ticks of the whole machine, all cores (first line of /proc/stat). */
export function machineTicks(): { busy: number; total: number } {
  const [, user, nice, system, idle, iowait, irq, softirq, steal] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
  const busy = user! + nice! + system! + irq! + softirq! + steal!;
  return { busy, total: busy + idle! + iowait! };
}

/** CPU ticks of the bench process itself and of its reaped children: wrk runs as a child, so
 *  once it has exited its CPU time is in this process's cutime/cstime. */
export function selfTicks(): { own: number; children: number } {
  const s = readStat(process.pid)!;
  return { own: s.utime + s.stime, children: s.cutime + s.cstime };
}
