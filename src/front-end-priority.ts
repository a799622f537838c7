import * as fs from 'node:fs';
import * as os from 'node:os';
import { DEFAULT_FRONT_END_PRIORITY, DEFAULT_FRONT_END_SCHEDULING_POLICY } from './config/defaults';
import type { SchedulingPolicy } from './config/scheduling-policy';
import { nativeAddon } from './util/native-addon';

/**
 * The front end's priority (WSGIFrontEndPriority, start-server --front-end-priority): the nice
 * value of the thread that every request passes through twice, on its way in and on its way out.
 *
 * On a busy machine that thread competes for the CPU with the Python processes it feeds and with
 * everything else; each time it waits for a core, every request waits with it. A negative nice
 * value lets it win those contests (nginx's worker_priority does the same for its workers).
 * Lowering a nice value needs root or CAP_SYS_NICE; the daemon processes, which inherit the value
 * when the front end starts them, go back to the value the server started with (or to their
 * cpu-priority) before any application code runs.
 *
 * And its scheduling policy (WSGIFrontEndSchedulingPolicy, --front-end-scheduling-policy):
 * under SCHED_BATCH (the default; any user may choose it) the woken front end does not preempt
 * the task on its core but runs when that task blocks or its slice ends, by which time more of
 * the workers' answers and clients' requests are usually waiting: it handles several per wake-up
 * instead of one, at a fraction of the CPU. Its nice value still gives it the larger share. The
 * daemon processes inherit the policy too and set their own (scheduling-policy).
 */

export interface PriorityReport {
  level: 'info' | 'warn';
  message: string;
}

/** What the front end reads and sets of its own scheduling, on Linux. */
interface PrioritySystem {
  /** The calling thread's nice value. */
  get(): number;
  set(nice: number): void;
  /**
   * The nice value of this process's autogroup when the process leads its own session (so the
   * group holds nothing else of note), or null: another session's group, or no autogroups.
   */
  ownGroupNice(): number | null;
  setGroupNice(nice: number): void;
  /** The calling thread's policy ('other' for a real-time or idle one); null when it cannot be told. */
  getPolicy(): SchedulingPolicy | 'other' | null;
  setPolicy(policy: SchedulingPolicy): void;
}

interface ThreadPolicyAddon {
  get(): SchedulingPolicy | 'other';
  set(policy: SchedulingPolicy): SchedulingPolicy;
}

/** native/thread_policy.c; without it, the front end keeps the policy it started with. */
function threadPolicyAddon(): ThreadPolicyAddon | null {
  return nativeAddon<ThreadPolicyAddon>('thread_policy');
}

const linuxPriority: PrioritySystem = {
  // pid 0: this thread (Linux keeps a nice value per thread).
  get: () => os.getPriority(0),
  set: (nice) => os.setPriority(0, nice),
  ownGroupNice: () => {
    try {
      const stat = fs.readFileSync('/proc/self/stat', 'utf8');
      // After the command name: state, ppid, pgrp, session.
      const session = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
      if (session !== process.pid) return null;
      const nice = /\bnice (-?\d+)/.exec(fs.readFileSync('/proc/self/autogroup', 'utf8'));
      return nice === null ? null : Number(nice[1]);
    } catch {
      return null; // no /proc, or a kernel without autogroups
    }
  },
  setGroupNice: (nice) => fs.writeFileSync('/proc/self/autogroup', String(nice)),
  getPolicy: () => threadPolicyAddon()?.get() ?? null,
  setPolicy: (policy) => {
    const addon = threadPolicyAddon();
    if (addon === null) throw new Error('the native addon dist/native/thread_policy.node is not built (npm run build needs a C compiler)');
    addon.set(policy);
  },
};

/** Why a nice value was refused, in words. */
function refusal(err: unknown): string {
  // Node reports a refused setpriority as a SystemError whose info holds the errno's name.
  const code = (err as { info?: { code?: string } }).info?.code ?? (err as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM' ? 'lowering a nice value needs root or CAP_SYS_NICE' : (err as Error).message;
}

export class FrontEndPriority {
  /** The nice value the server was started with: the daemon processes return to it. */
  readonly startingNice: number;

  private readonly system: PrioritySystem = linuxPriority;

  constructor() {
    this.startingNice = this.system.get();
  }

  /**
   * Gives the front end `configured` (null: the default), before it starts any process. Returns
   * what the error log should say, or null when there is nothing to say. A default that cannot
   * be applied is only worth an info line; a value the administrator asked for, a warning.
   *
   * Where the kernel groups processes by session for scheduling (autogroups, the default
   * without a cgroup CPU controller), a thread's nice value only orders it within its group, and
   * each session's group gets an equal share against the others: the daemon processes lead
   * sessions of their own, and so does the front end when a service manager starts it. When it
   * does, its group gets the same nice value, or raising the thread alone would change nothing.
   * A front end started from a shell shares the shell's group and leaves that group alone.
   */
  apply(configured: number | null | undefined): PriorityReport | null {
    const explicit = configured !== null && configured !== undefined;
    const wanted = explicit ? configured : DEFAULT_FRONT_END_PRIORITY;
    const current = this.system.get();
    const group = this.system.ownGroupNice();
    if (current === wanted && (group === null || group === wanted)) return null;
    try {
      if (current !== wanted) this.system.set(wanted);
    } catch (err) {
      const why = refusal(err);
      if (explicit) {
        return { level: 'warn', message: `Unable to set the front end's priority (WSGIFrontEndPriority, --front-end-priority) to nice ${wanted}: ${why}. It keeps nice ${current}; start wsgi-host as root, grant it CAP_SYS_NICE, or choose a value of ${current} or more.` };
      }
      return { level: 'info', message: `The front end keeps nice ${current}: its default priority, nice ${wanted}, was refused (${why}). Set WSGIFrontEndPriority (--front-end-priority) to ${current} to ask for no change.` };
    }
    try {
      if (group !== null && group !== wanted) this.system.setGroupNice(wanted);
    } catch (err) {
      // Rare once the thread's value was accepted (the kernel limits how often a group's value changes).
      return { level: explicit ? 'warn' : 'info', message: `The front end runs at nice ${wanted} (WSGIFrontEndPriority), but the scheduling group of the session it leads keeps nice ${group}: ${refusal(err)}.` };
    }
    const ofGroup = group !== null ? ", as does the scheduling group of the session it leads" : '';
    return { level: 'info', message: `The front end runs at nice ${wanted} (WSGIFrontEndPriority)${ofGroup}; its daemon processes at nice ${this.startingNice} unless their cpu-priority says otherwise.` };
  }

  /**
   * Puts the front end's thread under `configured` (null: the default policy). Like apply(), it
   * returns what the error log should say; an explicit policy that cannot be set is a warning.
   */
  applyPolicy(configured: SchedulingPolicy | null | undefined): PriorityReport | null {
    const explicit = configured !== null && configured !== undefined;
    const wanted = explicit ? configured : DEFAULT_FRONT_END_SCHEDULING_POLICY;
    const current = this.system.getPolicy();
    if (current === wanted) return null;
    if (current === null && wanted === 'normal') return null; // nothing could have changed it
    try {
      this.system.setPolicy(wanted);
    } catch (err) {
      const message = `The front end keeps its scheduling policy${current !== null ? ` (${current})` : ''} instead of ${wanted} (WSGIFrontEndSchedulingPolicy): ${(err as Error).message}.`;
      return { level: explicit ? 'warn' : 'info', message };
    }
    return { level: 'info', message: `The front end runs under the ${wanted === 'batch' ? 'SCHED_BATCH' : 'SCHED_OTHER'} scheduling policy (WSGIFrontEndSchedulingPolicy).` };
  }
}
