/**
 * The configuration model of access control: Apache's authentication and authorization
 * directives (mod_authn_core, mod_authz_core, mod_auth_basic, mod_auth_digest, mod_authz_host,
 * mod_authz_user, mod_authz_groupfile) and mod_wsgi's hook scripts. These are per-directory
 * settings: they live in <Directory>, <Location> and <Files> sections only.
 */

/** `Require [not] provider args...`. */
export interface RequireLine {
  kind: 'require';
  /** Lower case: all, valid-user, user, group, wsgi-group, ip, host, local, method. */
  provider: string;
  args: string[];
  negate: boolean;
}

/**
 * A section's Require lines (an implicit <RequireAny>), or a <RequireAll>, <RequireAny> or
 * <RequireNone> container. <RequireNone> is a negated 'any'.
 */
export interface RequireContainer {
  kind: 'container';
  op: 'all' | 'any';
  negate: boolean;
  children: AuthzNode[];
  /** Made by AuthMerging And/Or out of two sections' requirements. */
  merged: boolean;
}

export type AuthzNode = RequireLine | RequireContainer;

/** WSGIAccessScript, WSGIAuthUserScript, WSGIAuthGroupScript: path [application-group=NAME]. */
export interface HookScriptConfig {
  script: string;
  /** As written (%{GLOBAL}, %{SERVER}, %{HOST} or a name); null means %{GLOBAL}, mod_wsgi's default. */
  applicationGroup: string | null;
}

/**
 * An authentication provider of AuthBasicProvider/AuthDigestProvider: `wsgi` (the section's
 * WSGIAuthUserScript), `file` (the section's AuthUserFile), or an <AuthnProviderAlias> of one
 * of them with a script or file of its own.
 */
export type AuthnProvider =
  | {
      name: string;
      kind: 'wsgi';
      /** null: the WSGIAuthUserScript of the request's sections. */
      userScript: HookScriptConfig | null;
    }
  | {
      name: string;
      kind: 'file';
      /** null: the AuthUserFile of the request's sections. */
      userFile: string | null;
    };

export type AuthMerging = 'off' | 'and' | 'or';

export type AuthTypeName = 'Basic' | 'Digest';

/** What one section says about access control. Undefined means "not set here". */
export interface AuthLayer {
  /** The section's Require lines and containers. */
  require?: RequireContainer;
  merging?: AuthMerging;
  /** AuthType None is null. */
  authType?: AuthTypeName | null;
  authName?: string;
  basicProviders?: AuthnProvider[];
  digestProviders?: AuthnProvider[];
  userFile?: string;
  groupFile?: string;
  forbiddenOnFailure?: boolean;
  /** Seconds; negative: nonces never expire. */
  digestNonceLifetime?: number;
  digestDomain?: string[];
  accessScript?: HookScriptConfig;
  userScript?: HookScriptConfig;
  groupScript?: HookScriptConfig;
}

/** Access control settings for a request once every section is merged. */
export interface ResolvedAuth {
  require: RequireContainer | null;
  /** AuthMerging of the requirements in force (null: not set). */
  merging: AuthMerging | null;
  authType: AuthTypeName | null;
  authName: string | null;
  /** null: Apache's default provider, file. */
  basicProviders: AuthnProvider[] | null;
  digestProviders: AuthnProvider[] | null;
  userFile: string | null;
  groupFile: string | null;
  forbiddenOnFailure: boolean;
  digestNonceLifetime: number;
  digestDomain: string[] | null;
  accessScript: HookScriptConfig | null;
  userScript: HookScriptConfig | null;
  groupScript: HookScriptConfig | null;
}

/** Apache's defaults: no requirements (everything granted), no authentication. */
export const DEFAULT_AUTH: ResolvedAuth = {
  require: null,
  merging: null,
  authType: null,
  authName: null,
  basicProviders: null,
  digestProviders: null,
  userFile: null,
  groupFile: null,
  forbiddenOnFailure: false,
  digestNonceLifetime: 300,
  digestDomain: null,
  accessScript: null,
  userScript: null,
  groupScript: null,
};
