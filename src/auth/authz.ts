import type { AuthzNode, RequireContainer, RequireLine } from '../config/auth-model';

/** The results of an authorization check, as mod_authz_core names them. */
export const enum Authz {
  Denied = 0,
  Granted = 1,
  Neutral = 2,
  GeneralError = 3,
  /** Denied, but a user (once authenticated) might be granted. */
  DeniedNoUser = 4,
}

/** Checks one Require line against the request. */
export type ProviderCheck = (line: RequireLine) => Authz | Promise<Authz>;

/**
 * Evaluates a requirement tree as mod_authz_core's apply_authz_sections does: children left to
 * right; in an 'all' container a Denied child decides, in an 'any' container a Granted one;
 * DeniedNoUser wins over Denied where a user could still change the outcome; a negated node
 * turns Granted into Denied and a denial into Neutral (not being refused grants nothing).
 */
export async function evaluate(node: AuthzNode, check: ProviderCheck): Promise<Authz> {
  if (node.kind === 'require') return negated(node.negate, await check(node));
  let result = Authz.Neutral;
  for (const child of node.children) {
    const childResult = await evaluate(child, check);
    const next = combine(node.op, result, childResult);
    if (next === STOP_ERROR) return Authz.GeneralError;
    result = next.result;
    if (next.stop) break;
  }
  return negated(node.negate, result);
}

/**
 * The outcome of a requirement tree that depends on nothing in the request (only "Require all"
 * lines are reached), or null if the request has to be looked at.
 */
export function fixedOutcome(node: AuthzNode): Authz | null {
  if (node.kind === 'require') return node.provider === 'all' ? negated(node.negate, node.args[0] === 'granted' ? Authz.Granted : Authz.Denied) : null;
  let result = Authz.Neutral;
  for (const child of node.children) {
    const childResult = fixedOutcome(child);
    if (childResult === null) return null;
    const next = combine(node.op, result, childResult);
    if (next === STOP_ERROR) return Authz.GeneralError;
    result = next.result;
    if (next.stop) break;
  }
  return negated(node.negate, result);
}

const STOP_ERROR = { result: Authz.GeneralError, stop: true };

function combine(op: 'all' | 'any', result: Authz, child: Authz): { result: Authz; stop: boolean } {
  if (child === Authz.GeneralError) return STOP_ERROR;
  if (child === Authz.Neutral) return { result, stop: false };
  if (op === 'all') {
    if (child === Authz.Denied) return { result: child, stop: true };
    if ((child === Authz.DeniedNoUser && result !== Authz.Denied) || result === Authz.Neutral) return { result: child, stop: false };
    return { result, stop: false };
  }
  if (child === Authz.Granted) return { result: child, stop: true };
  if ((child === Authz.DeniedNoUser && result === Authz.Denied) || result === Authz.Neutral) return { result: child, stop: false };
  return { result, stop: false };
}

function negated(negate: boolean, result: Authz): Authz {
  if (!negate) return result;
  if (result === Authz.Granted) return Authz.Denied;
  if (result === Authz.Denied || result === Authz.DeniedNoUser) return Authz.Neutral;
  return result;
}

/** "Require not ip 10.1", "<RequireAll>", "AuthMerging And": how Apache names a node in its log lines. */
export function describeNode(node: AuthzNode): string {
  if (node.kind === 'require') return `Require ${node.negate ? 'not ' : ''}${node.provider}${node.args.length > 0 ? ' ' + node.args.join(' ') : ''}`;
  return describeContainer(node);
}

export function describeContainer(node: RequireContainer): string {
  const name = node.op === 'all' ? (node.negate ? 'NotAll' : 'All') : node.negate ? 'None' : 'Any';
  return node.merged ? `AuthMerging ${node.op === 'all' ? 'And' : 'Or'}` : `<Require${name}>`;
}
