import type { ResolvedAuth } from '../config/auth-model';
import { Authz, fixedOutcome } from './authz';

/**
 * What access control requests under one set of per-directory settings need. Made once per
 * resolved settings object (those are cached), so a request to a place without access control
 * pays nothing but a null check.
 */
export interface AccessPolicy {
  readonly auth: ResolvedAuth;
  /** WSGIScriptReloading: whether hook scripts are reloaded when they change. */
  readonly scriptReloading: boolean;
  /**
   * An outcome that needs nothing from the request: 'denied' (the requirements refuse everyone,
   * 403) or 'no-requirements' (AuthType without any Require, Apache's 500). Null: evaluate.
   */
  readonly fixed: 'denied' | 'no-requirements' | null;
}

export function accessPolicyFor(auth: ResolvedAuth, scriptReloading: boolean): AccessPolicy | null {
  if (auth.accessScript !== null) return { auth, scriptReloading, fixed: null };
  if (auth.require === null) return auth.authType === null ? null : { auth, scriptReloading, fixed: 'no-requirements' };
  const fixed = fixedOutcome(auth.require);
  // Granted without a user: Apache does not authenticate at all, even with an AuthType.
  if (fixed === Authz.Granted) return null;
  if (fixed === Authz.Denied || fixed === Authz.Neutral) return { auth, scriptReloading, fixed: 'denied' };
  return { auth, scriptReloading, fixed: null };
}
