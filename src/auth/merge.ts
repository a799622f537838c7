import type { AuthLayer, ResolvedAuth } from '../config/auth-model';

/**
 * Applies one section's access control directives on top of what the enclosing sections set,
 * with Apache's merge rules. For the requirements (mod_authz_core): a section that has Require
 * lines replaces the inherited ones (AuthMerging Off, the default); with AuthMerging And or Or
 * both apply, combined that way; a section without Require lines inherits them. Every other
 * directive simply overrides.
 */
export function mergeAuth(base: ResolvedAuth, layer: AuthLayer): ResolvedAuth {
  const out: ResolvedAuth = { ...base };
  const op = layer.merging ?? null;
  const section = layer.require ?? null;
  if (op === null && section === null && base.require !== null) {
    // Nothing about requirements here: inherited as they are.
  } else if (op === null || op === 'off' || (base.require === null && section === null)) {
    out.require = section;
    out.merging = op;
  } else {
    out.require =
      base.require !== null && section !== null
        ? { kind: 'container', op: op === 'and' ? 'all' : 'any', negate: false, children: [base.require, section], merged: true }
        : (base.require ?? section);
    out.merging = op;
  }
  if (layer.authType !== undefined) out.authType = layer.authType;
  if (layer.authName !== undefined) out.authName = layer.authName;
  if (layer.basicProviders !== undefined) out.basicProviders = layer.basicProviders;
  if (layer.digestProviders !== undefined) out.digestProviders = layer.digestProviders;
  if (layer.userFile !== undefined) out.userFile = layer.userFile;
  if (layer.groupFile !== undefined) out.groupFile = layer.groupFile;
  if (layer.forbiddenOnFailure !== undefined) out.forbiddenOnFailure = layer.forbiddenOnFailure;
  if (layer.digestNonceLifetime !== undefined) out.digestNonceLifetime = layer.digestNonceLifetime;
  if (layer.digestDomain !== undefined) out.digestDomain = layer.digestDomain;
  if (layer.accessScript !== undefined) out.accessScript = layer.accessScript;
  if (layer.userScript !== undefined) out.userScript = layer.userScript;
  if (layer.groupScript !== undefined) out.groupScript = layer.groupScript;
  return out;
}
