import type { Dispatchable } from '../groups/dispatcher';
import type { ProcessGroup } from '../groups/process-group';
import type { SlotTenant, ThreadSlot } from '../groups/thread-slot';
import type { ErrorLog } from '../log/error-log';
import { encodeFrame, FromWorker, LOG_LEVEL_NAMES, ToWorker } from '../protocol/frames';

/** The functions mod_wsgi's hook scripts provide. */
export type HookName = 'allow_access' | 'check_password' | 'get_realm_hash' | 'groups_for_user';

export interface HookCallSpec {
  hook: HookName;
  script: string;
  /** The application group, expanded ('' is %{GLOBAL}): which hook process group runs it. */
  applicationGroup: string;
  /** WSGIScriptReloading: reload the script if it changed since it was loaded. */
  reload: boolean;
  /** The cut-down environ mod_wsgi gives hooks (the Python side adds wsgi.errors and friends). */
  environ: Record<string, string>;
  args: (string | null)[];
  https: boolean;
}

/**
 * What the hook said, as the Python side classified it by mod_wsgi's rules:
 * allow_access: allow | deny | decline; check_password: granted (with `user`) | denied |
 * not-found | error; get_realm_hash: found (with `hash`) | not-found | error; groups_for_user:
 * groups (with `groups`) | error.
 */
export interface HookReply {
  result: string;
  user?: string;
  hash?: string;
  groups?: string[];
}

/** Where a call's log lines go. */
export interface HookCallLog {
  errorLog: ErrorLog;
  client: string;
}

export interface HookCaller {
  /** Runs a hook; null if it could not be run (the reason is logged). */
  call(spec: HookCallSpec, log: HookCallLog): Promise<HookReply | null>;
}

/**
 * A guard against a client creating hook process groups at will: an application group of
 * %{HOST} is named by the Host header.
 */
const MAX_HOOK_GROUPS = 32;

/**
 * The hook process groups: one per application group, so that scripts of different application
 * groups never share a module namespace (mod_wsgi runs them in separate sub-interpreters), each
 * started the first time a hook needs it. They are ordinary process groups: supervised,
 * restarted when they crash, stopped with the server.
 */
export class HookGroups implements HookCaller {
  private readonly groups = new Map<string, ProcessGroup>();

  constructor(
    private readonly create: (name: string, applicationGroup: string) => ProcessGroup,
    /** How long a hook may take (Timeout); a call that runs longer fails. */
    private readonly timeoutMs: number,
  ) {}

  call(spec: HookCallSpec, log: HookCallLog): Promise<HookReply | null> {
    let group = this.groups.get(spec.applicationGroup);
    if (group === undefined) {
      if (this.groups.size >= MAX_HOOK_GROUPS) {
        log.errorLog.log('wsgi', 'error', `Auth hook '${spec.hook}' in '${spec.script}' not run: already ${MAX_HOOK_GROUPS} application groups run hooks, and '${spec.applicationGroup}' would be another. Give WSGIAccessScript/WSGIAuthUserScript/WSGIAuthGroupScript a fixed application-group=.`, { client: log.client });
        return Promise.resolve(null);
      }
      group = this.create(spec.applicationGroup === '' ? 'auth-hooks' : `auth-hooks:${spec.applicationGroup}`, spec.applicationGroup);
      this.groups.set(spec.applicationGroup, group);
    }
    const target = group;
    return new Promise((resolve) => target.submit(new HookCall(spec, log, this.timeoutMs, resolve)));
  }

  /** The running hook process groups (for stopping them). */
  get all(): ProcessGroup[] {
    return [...this.groups.values()];
  }
}

/** One hook call: waits for a free hook thread, sends the call, relays its log lines, takes the answer. */
class HookCall implements Dispatchable, SlotTenant {
  queuedAt = 0;
  readonly withdrawn = false;
  /** A hook process group serves one application group in its main interpreter (hooks.py keeps them apart). */
  readonly applicationGroup = '';
  /** A hook call waits for a free thread: hook groups never take calls ahead of time. */
  readonly canRunAhead = false;
  /** The call frame is the whole request. */
  readonly requestSent = true;
  private slot: ThreadSlot | null = null;
  private timer: NodeJS.Timeout | null = null;
  private done = false;
  private readonly frame: Buffer;

  constructor(
    private readonly spec: HookCallSpec,
    private readonly log: HookCallLog,
    private readonly timeoutMs: number,
    private readonly resolve: (reply: HookReply | null) => void,
  ) {
    const { hook, script, applicationGroup, reload, environ, args, https } = spec;
    this.frame = encodeFrame(ToWorker.AuthCall, JSON.stringify({ hook, script, group: applicationGroup, reload, environ, args, https }));
  }

  begin(slot: ThreadSlot): void {
    if (this.done) return;
    this.slot = slot;
    slot.assign(this);
    slot.write(this.frame);
    if (this.timeoutMs > 0) {
      this.timer = setTimeout(() => {
        this.fail(`it did not answer within ${this.timeoutMs / 1000} seconds (Timeout)`);
        this.slot?.cut('auth hook timed out');
      }, this.timeoutMs);
    }
  }

  queueTimedOut(): void {
    this.fail(`no auth hook process was free within ${this.timeoutMs / 1000} seconds`);
  }

  interpreterUnavailable(why: string): void {
    this.fail(`its interpreter could not be started: ${why}`);
  }

  onFrame(type: number, payload: Buffer): void {
    if (type === FromWorker.Log) {
      const level = LOG_LEVEL_NAMES[payload[0] ?? 3] ?? 'error';
      this.log.errorLog.log('wsgi', level, payload.toString('utf8', 1), { client: this.log.client });
      return;
    }
    const slot = this.slot;
    if (type !== FromWorker.AuthResult || slot === null) {
      this.fail(`the hook process sent an unexpected frame 0x${type.toString(16)}`);
      slot?.cut('unexpected frame');
      return;
    }
    let reply: HookReply | null = null;
    try {
      reply = JSON.parse(payload.toString('utf8')) as HookReply;
    } catch {
      reply = null;
    }
    this.slot = null;
    slot.release();
    if (reply === null || typeof reply.result !== 'string') this.fail('its answer could not be read');
    else this.finish(reply);
  }

  onSlotLost(reason: string): void {
    this.slot = null;
    this.fail(`the hook process ended while running it (${reason})`);
  }

  onSlotDrain(): void {}

  private fail(why: string): void {
    if (this.done) return;
    this.log.errorLog.log('wsgi', 'error', `Auth hook '${this.spec.hook}' in '${this.spec.script}' failed: ${why}.`, { client: this.log.client });
    this.finish(null);
  }

  private finish(reply: HookReply | null): void {
    if (this.done) return;
    this.done = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.resolve(reply);
  }
}
