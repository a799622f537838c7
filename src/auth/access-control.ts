import type { AuthnProvider, HookScriptConfig, RequireLine } from '../config/auth-model';
import type { VirtualHostConfig } from '../config/model';
import { sendErrorPage } from '../front/error-page';
import type { FoundPath } from '../front/handlers';
import type { Translation } from '../front/translate';
import type { RoutedRequest } from '../front/wsgi-request';
import { clientOf, type RequestRecord } from '../front/request-record';
import type { ErrorLog } from '../log/error-log';
import type { LogLevelName } from '../config/model';
import { Authz, evaluate } from './authz';
import { basicChallenge, parseBasic } from './basic';
import { authenticationInfo, digestChallenge, digestUriMatches, DigestNonces, expectedDigest, parseDigest, safeEqual, NONCE_LENGTH, type DigestResponse } from './digest';
import { groupsOfUser } from './group-file';
import { passwordHashOf, realmHashOf } from './password-file';
import { checkPasswordHash } from './password-hash';
import type { HookCaller, HookName, HookReply } from './hook-calls';
import { hookApplicationGroup, hookEnviron } from './hook-environ';
import { matchesAny, parseIpSubnet, type IpSubnet } from './ip-match';
import type { AccessPolicy } from './policy';
import { inDomain, remoteHostName } from './remote-host';

/** What access control needs to know about a request (built only where a policy applies). */
export interface AccessRequest {
  record: RequestRecord;
  vhost: VirtualHostConfig;
  errorLog: ErrorLog;
  /** SERVER_NAME and SERVER_PORT as the request gives them. */
  requestHost: string;
  requestPort: number;
  /** The decoded URL path (Apache's r->uri), for log lines. */
  uri: string;
  query: string;
  /** The file the URL maps to (Apache's r->filename), for log lines. */
  filename: string;
  /** SCRIPT_NAME and PATH_INFO for the hooks' environ. */
  scriptName: string;
  pathInfo: string;
}

/** The AccessRequest for a routed request: SCRIPT_NAME and PATH_INFO as Apache has split the URL by then. */
export function accessRequestFor(routed: RoutedRequest, translation: Exclude<Translation, { kind: 'error' }>, found: FoundPath | null, urlPath: string, filename: string): AccessRequest {
  let scriptName = urlPath;
  let pathInfo = '';
  if (translation.kind === 'wsgi') {
    scriptName = translation.scriptName;
    pathInfo = translation.pathInfo;
  } else if (found !== null && found.pathInfo !== '') {
    scriptName = urlPath.slice(0, urlPath.length - found.pathInfo.length);
    pathInfo = found.pathInfo;
  }
  return {
    record: routed.record,
    vhost: routed.vhost,
    errorLog: routed.errorLog,
    requestHost: routed.requestHost,
    requestPort: routed.requestPort,
    uri: urlPath,
    query: routed.query,
    filename,
    scriptName,
    pathInfo,
  };
}

type Outcome = { allowed: true } | { allowed: false; status: number; challenge: boolean; stale: boolean };

const ALLOWED: Outcome = { allowed: true };

function refused(status: number, challenge = false, stale = false): Outcome {
  return { allowed: false, status, challenge, stale };
}

/**
 * Access control as Apache runs its phases for a request:
 *  1. the access checker: WSGIAccessScript's allow_access() (False refuses with 403);
 *  2. authorization without a user (mod_authz_core): the Require lines decide at once unless a
 *     user could change the outcome;
 *  3. authentication (AuthType Basic or Digest, provider wsgi: WSGIAuthUserScript), 401 with a
 *     fresh challenge when it fails;
 *  4. authorization with the user, 401 (or 403 with AuthzSendForbiddenOnFailure On) when the
 *     user is not one the Require lines accept.
 * Then the request goes on with REMOTE_USER and AUTH_TYPE set.
 */
export class AccessControl {
  readonly nonces = new DigestNonces();
  private readonly subnets = new WeakMap<RequireLine, IpSubnet[]>();

  constructor(
    readonly hooks: HookCaller,
    readonly serverSoftware: string,
  ) {}

  /** Runs the checks; calls `proceed` if the request may go on, otherwise answers it. */
  check(policy: AccessPolicy, request: AccessRequest, proceed: () => void): void {
    const run = new RequestCheck(this, policy, request);
    if (policy.fixed === 'denied') return run.answer(run.denied());
    if (policy.fixed === 'no-requirements') return run.answer(run.noRequirements());
    run.run().then(
      (outcome) => {
        if (request.record.res.destroyed || request.record.res.writableEnded) return;
        if (outcome.allowed) {
          run.allowed();
          proceed();
        } else {
          run.answer(outcome);
        }
      },
      (err: unknown) => {
        request.errorLog.log('core', 'error', `Access control failed unexpectedly: ${(err as Error).stack ?? String(err)}`, { client: clientOf(request.record) });
        run.answer(refused(500));
      },
    );
  }

  subnetsOf(line: RequireLine): IpSubnet[] {
    let subnets = this.subnets.get(line);
    if (subnets === undefined) {
      // Checked when the configuration was read.
      subnets = line.args.map(parseIpSubnet).filter((s): s is IpSubnet => s !== null);
      this.subnets.set(line, subnets);
    }
    return subnets;
  }
}

/** The checks for one request. */
class RequestCheck {
  /** Apache's r->user: set once credentials are read, replaced by what check_password returns. */
  private user: string | null = null;
  private authenticated = false;
  private digest: { response: DigestResponse; ha1: string; issuedMicros: number } | null = null;

  constructor(
    private readonly control: AccessControl,
    private readonly policy: AccessPolicy,
    private readonly request: AccessRequest,
  ) {}

  private log(module: string, level: LogLevelName, message: string): void {
    this.request.errorLog.log(module, level, message, { client: clientOf(this.request.record) });
  }

  denied(): Outcome {
    this.log('authz_core', 'error', `AH01630: client denied by server configuration: ${this.request.filename}`);
    return refused(403);
  }

  noRequirements(): Outcome {
    this.log('authz_core', 'error', 'AH01627: AuthType configured with no corresponding authorization directives');
    return refused(500);
  }

  async run(): Promise<Outcome> {
    const auth = this.policy.auth;
    if (auth.accessScript !== null) {
      const reply = await this.hook('allow_access', auth.accessScript, [this.request.record.connection.remoteAddress]);
      // A hook that fails or returns something else refuses (mod_wsgi).
      if ((reply?.result ?? 'deny') === 'deny') {
        this.log('wsgi', 'error', `WSGI0057: Client denied by server configuration: '${this.request.filename}'.`);
        return refused(403);
      }
    }
    const require = auth.require;
    if (require === null) return auth.authType !== null ? this.noRequirements() : ALLOWED;
    const userless = await evaluate(require, (line) => this.provider(line));
    if (userless === Authz.Granted) return ALLOWED;
    if (userless === Authz.Denied || userless === Authz.Neutral) return this.denied();
    if (userless === Authz.GeneralError) return refused(500);

    const authn = await this.authenticate();
    if (authn !== null) return authn;

    const result = await evaluate(require, (line) => this.provider(line));
    if (result === Authz.Granted) return ALLOWED;
    if (result === Authz.DeniedNoUser) {
      this.log('authz_core', 'error', `AH01629: authorization failure (no authenticated user): ${this.request.uri}`);
      return refused(401, this.user !== null);
    }
    if (result === Authz.Denied || result === Authz.Neutral) {
      this.log('authz_core', 'error', `AH01631: user ${this.user ?? ''}: authorization failure for "${this.request.uri}": `);
      return auth.forbiddenOnFailure ? refused(403) : refused(401, this.user !== null);
    }
    return refused(500);
  }

  /** The request may go on: what the application and the access log learn. */
  allowed(): void {
    if (!this.authenticated) return;
    const record = this.request.record;
    record.remoteUser = this.user;
    record.authType = this.policy.auth.authType;
    const digest = this.digest;
    if (digest !== null) {
      const lifetime = this.policy.auth.digestNonceLifetime;
      // A nonce about to expire gets its successor now, saving the client a round trip.
      const next = lifetime > 0 && record.startMicros - digest.issuedMicros > (lifetime - 30) * 1e6 ? this.control.nonces.issue(this.policy.auth.authName ?? '', record.startMicros) : null;
      const info = authenticationInfo(digest.ha1, digest.response, next);
      if (info !== '') record.res.setHeader('Authentication-Info', info);
    }
  }

  answer(outcome: Outcome): void {
    if (outcome.allowed) return;
    const headers: Record<string, string> = {};
    if (outcome.challenge) headers['WWW-Authenticate'] = this.challenge(outcome.stale);
    // The access log's %u shows who tried, as Apache's does.
    if (this.user !== null) this.request.record.remoteUser = this.user;
    sendErrorPage(this.request.record, outcome.status, headers);
  }

  private challenge(stale: boolean): string {
    const auth = this.policy.auth;
    const realm = auth.authName ?? '';
    if (auth.authType === 'Digest') {
      return digestChallenge({ realm, nonce: this.control.nonces.issue(realm, this.request.record.startMicros), domain: auth.digestDomain, stale });
    }
    return basicChallenge(realm);
  }

  // -- authentication ------------------------------------------------------------------------

  /** Sets the user, or says why not (null: authenticated). */
  private async authenticate(): Promise<Outcome | null> {
    const auth = this.policy.auth;
    if (auth.authType === null) {
      this.log('core', 'error', `AH00027: No authentication done but request not allowed without authentication for ${this.request.uri}. Authentication not configured?`);
      return refused(500);
    }
    if (auth.authName === null) {
      this.log(auth.authType === 'Basic' ? 'auth_basic' : 'auth_digest', 'error', `${auth.authType === 'Basic' ? 'AH01615' : 'AH01780'}: need AuthName: ${this.request.uri}`);
      return refused(500);
    }
    const outcome = auth.authType === 'Basic' ? await this.basic() : await this.digestAuth(auth.authName);
    if (outcome === null) this.authenticated = true;
    return outcome;
  }

  private async basic(): Promise<Outcome | null> {
    const credentials = parseBasic(this.request.record.req.headers.authorization);
    if (credentials.kind === 'none') return refused(401, true);
    if (credentials.kind === 'wrong-scheme') {
      this.log('auth_basic', 'error', `AH01614: client used wrong authentication scheme: ${this.request.uri}`);
      return refused(401, true);
    }
    const sent = credentials.user;
    this.user = sent;
    const reply = await this.askProviders(this.policy.auth.basicProviders, 'check_password', [sent, credentials.password], 'WSGI0041');
    switch (reply?.result) {
      case 'granted':
        if (reply.user !== undefined) this.user = reply.user;
        return null;
      case 'denied':
        this.log('auth_basic', 'error', `AH01617: user ${sent}: authentication failure for "${this.request.uri}": Password Mismatch`);
        return refused(401, true);
      case 'not-found':
        this.log('auth_basic', 'error', `AH01618: user ${sent} not found: ${this.request.uri}`);
        return refused(401, true);
      default:
        return refused(500);
    }
  }

  private async digestAuth(realm: string): Promise<Outcome | null> {
    const auth = this.policy.auth;
    const { record, uri } = this.request;
    const credentials = parseDigest(record.req.headers.authorization);
    if (credentials.kind !== 'ok') {
      if (credentials.kind === 'wrong-scheme') this.log('auth_digest', 'error', `AH01781: client used wrong authentication scheme \`${credentials.scheme}': ${uri}`);
      else if (credentials.kind === 'invalid') this.log('auth_digest', 'error', `AH01782: missing user, realm, nonce, uri, digest, cnonce, or nonce_count in authorization header: ${uri}`);
      return refused(401, true);
    }
    const r = credentials.response;
    this.user = r.username;
    const matches = digestUriMatches(r.uri, record.req.url ?? '', this.request.requestHost, this.request.requestPort);
    if (matches === null) {
      this.log('auth_digest', 'error', `AH01783: invalid uri <${r.uri}> in Authorization header`);
      return refused(400);
    }
    if (!matches) {
      this.log('auth_digest', 'error', `AH01786: uri mismatch - <${r.uri}> does not match request-uri <${record.req.url ?? ''}>`);
      return refused(400);
    }
    if (r.opaque !== null && (parseInt(r.opaque, 16) || 0) === 0) {
      this.log('auth_digest', 'error', `AH01787: received invalid opaque - got \`${r.opaque}'`);
      return refused(401, true);
    }
    if (r.realm !== realm) {
      this.log('auth_digest', 'error', `AH01788: realm mismatch - got \`${r.realm}' but expected \`${realm}'`);
      return refused(401, true);
    }
    if (r.algorithm !== null && r.algorithm.toLowerCase() !== 'md5') {
      this.log('auth_digest', 'error', `AH01789: unknown algorithm \`${r.algorithm}' received: ${uri}`);
      return refused(401, true);
    }
    const reply = await this.askProviders(auth.digestProviders, 'get_realm_hash', [r.username, realm], 'WSGI0044');
    if (reply?.result === 'not-found') {
      this.log('auth_digest', 'error', `AH01790: user \`${r.username}' in realm \`${realm}' not found: ${uri}`);
      return refused(401, true);
    }
    if (reply?.result !== 'found' || reply.hash === undefined) return refused(500);
    const ha1 = reply.hash;
    // As Apache 2.4 does now (RFC 7616): qop=auth only, no RFC 2069 digests.
    if (r.qop === null || r.qop.toLowerCase() !== 'auth') {
      this.log('auth_digest', 'error', `AH10560: invalid or missing qop value '${r.qop ?? '(null)'}', RFC 2069 is no longer supported: ${uri}`);
      return refused(401, true);
    }
    if (!safeEqual(r.response, expectedDigest(ha1, record.req.method ?? 'GET', r))) {
      this.log('auth_digest', 'error', `AH01794: user ${r.username}: password mismatch: ${uri}`);
      return refused(401, true);
    }
    // Checked last, so that a client with the right password but an old nonce is told it is
    // only stale and can retry without asking its user again.
    const nonce = this.control.nonces.check(r.nonce, realm);
    if (!nonce.ok) {
      if (nonce.reason === 'format') this.log('auth_digest', 'error', `AH01775: invalid nonce '${r.nonce}' received - length is not ${NONCE_LENGTH} or time encoding is incorrect`);
      else this.log('auth_digest', 'error', `AH01776: invalid nonce ${r.nonce} received - it was not issued by this server`);
      return refused(401, true, true);
    }
    const lifetime = auth.digestNonceLifetime;
    const age = record.startMicros - nonce.issuedMicros;
    if (lifetime > 0 && age < 0) {
      this.log('auth_digest', 'error', `AH01777: invalid nonce ${r.nonce} received - user attempted time travel`);
      return refused(401, true, true);
    }
    if (lifetime > 0 && age > lifetime * 1e6) {
      this.log('auth_digest', 'info', `AH01778: user ${r.username}: nonce expired (${(age / 1e6).toFixed(2)} seconds old - max lifetime ${lifetime.toFixed(2)}) - sending new nonce`);
      return refused(401, true, true);
    }
    this.digest = { response: r, ha1, issuedMicros: nonce.issuedMicros };
    return null;
  }

  /**
   * Asks the providers in turn until one knows the user, as mod_auth_basic and mod_auth_digest
   * do (with none named, Apache's default: file). Null (logged) when one failed.
   */
  private async askProviders(providers: AuthnProvider[] | null, hook: 'check_password' | 'get_realm_hash', args: [string, string], noScriptCode: string): Promise<HookReply | null> {
    let reply: HookReply | null = null;
    for (const provider of providers ?? DEFAULT_PROVIDERS) {
      if (provider.kind === 'file') {
        reply = await this.passwordFile(provider.userFile ?? this.policy.auth.userFile, hook, args);
      } else {
        const script = provider.userScript ?? this.policy.auth.userScript;
        if (script === null) {
          this.log('wsgi', 'error', `${noScriptCode}: Location of WSGI user authentication script not provided.`);
          return null;
        }
        reply = await this.hook(hook, script, args);
      }
      if (reply?.result !== 'not-found') return reply;
    }
    return reply;
  }

  /** The file provider (mod_authn_file): AuthUserFile as htpasswd (Basic) or htdigest (Digest) writes it. */
  private async passwordFile(file: string | null, hook: 'check_password' | 'get_realm_hash', [user, second]: [string, string]): Promise<HookReply | null> {
    const basic = hook === 'check_password';
    if (file === null) {
      this.log('authn_file', 'error', `${basic ? 'AH01619' : 'AH01621'}: AuthUserFile not specified in the configuration`);
      return null;
    }
    try {
      if (!basic) {
        const hash = await realmHashOf(file, user, second);
        return hash === null ? { result: 'not-found' } : { result: 'found', hash };
      }
      const hash = await passwordHashOf(file, user);
      if (hash === null) return { result: 'not-found' };
      const check = await checkPasswordHash(second, hash);
      if (check === 'unsupported') {
        this.log('authn_file', 'error', `The password of user ${user} in ${file} is in a format wsgi-host does not check (it checks bcrypt, $apr1$ and $1$ MD5, $5$ and $6$ SHA-crypt and {SHA}); set it again with htpasswd -B.`);
        return null;
      }
      return { result: check === 'match' ? 'granted' : 'denied' };
    } catch (err) {
      this.log('authn_file', 'error', `${basic ? 'AH01620' : 'AH01622'}: Could not open password file: ${file} (${(err as Error).message})`);
      return null;
    }
  }

  // -- authorization providers ---------------------------------------------------------------

  private provider(line: RequireLine): Authz | Promise<Authz> {
    const { record, uri } = this.request;
    switch (line.provider) {
      case 'all':
        return line.args[0] === 'granted' ? Authz.Granted : Authz.Denied;
      case 'valid-user':
        return this.user !== null && this.authenticated ? Authz.Granted : Authz.DeniedNoUser;
      case 'user': {
        if (!this.authenticated) return Authz.DeniedNoUser;
        if (line.args.some((name) => asBytes(name) === this.user)) return Authz.Granted;
        this.log('authz_user', 'debug', `AH01663: access to ${uri} failed, reason: user '${this.user ?? ''}' does not meet 'require'ments for user to be allowed access`);
        return Authz.Denied;
      }
      case 'group':
        return this.authenticated ? this.groupFile(line) : Authz.DeniedNoUser;
      case 'wsgi-group':
        return this.authenticated ? this.wsgiGroup(line) : Authz.DeniedNoUser;
      case 'ip':
        return matchesAny(this.control.subnetsOf(line), record.connection.remoteAddress) ? Authz.Granted : Authz.Denied;
      case 'local': {
        const { localAddress, remoteAddress } = record.connection;
        return remoteAddress === localAddress || matchesAny(LOCALHOST, remoteAddress) ? Authz.Granted : Authz.Denied;
      }
      case 'method': {
        const method = record.req.method === 'HEAD' ? 'GET' : (record.req.method ?? 'GET');
        return line.args.includes(method) ? Authz.Granted : Authz.Denied;
      }
      case 'host':
        return this.host(line);
      default:
        return Authz.Denied;
    }
  }

  private async host(line: RequireLine): Promise<Authz> {
    const name = await remoteHostName(this.request.record.connection);
    if (name === null) {
      this.log('authz_host', 'error', `AH01753: access check of '${line.args.join(' ')}' to ${this.request.uri} failed, reason: unable to get the remote host name`);
      return Authz.Denied;
    }
    return line.args.some((domain) => inDomain(domain, name)) ? Authz.Granted : Authz.Denied;
  }

  private async groupFile(line: RequireLine): Promise<Authz> {
    const file = this.policy.auth.groupFile;
    const user = this.user ?? '';
    if (file === null) {
      this.log('authz_groupfile', 'error', 'AH01664: No group file was specified in the configuration');
      return Authz.Denied;
    }
    let groups: Set<string>;
    try {
      groups = await groupsOfUser(file, user);
    } catch (err) {
      this.log('authz_groupfile', 'error', `AH01665: Could not open group file: ${file} (${(err as Error).message})`);
      return Authz.Denied;
    }
    if (groups.size === 0) {
      this.log('authz_groupfile', 'info', `AH01666: Authorization of user ${user} to access ${this.request.uri} failed, reason: user doesn't appear in group file (${file}).`);
      return Authz.Denied;
    }
    if (line.args.some((group) => groups.has(asBytes(group)))) return Authz.Granted;
    this.log('authz_groupfile', 'debug', `AH01667: Authorization of user ${user} to access ${this.request.uri} failed, reason: user is not part of the 'require'ed group(s).`);
    return Authz.Denied;
  }

  private async wsgiGroup(line: RequireLine): Promise<Authz> {
    const script = this.policy.auth.groupScript;
    const user = this.user ?? '';
    if (script === null) {
      this.log('wsgi', 'error', 'WSGI0058: Location of WSGI group authorization script not provided.');
      return Authz.Denied;
    }
    const reply = await this.hook('groups_for_user', script, [user]);
    if (reply?.result !== 'groups' || reply.groups === undefined) return Authz.Denied;
    if (reply.groups.length === 0) {
      this.log('wsgi', 'error', `WSGI0059: Authorization of user '${user}' to access '${this.request.uri}' failed. User is not a member of any groups.`);
      return Authz.Denied;
    }
    const groups = new Set(reply.groups);
    if (line.args.some((group) => groups.has(asBytes(group)))) return Authz.Granted;
    this.log('wsgi', 'error', `WSGI0060: Authorization of user '${user}' to access '${this.request.uri}' failed. User is not a member of designated groups.`);
    return Authz.Denied;
  }

  // -- hooks ---------------------------------------------------------------------------------

  private hook(hook: HookName, script: HookScriptConfig, args: (string | null)[]): Promise<HookReply | null> {
    const request = this.request;
    const applicationGroup = hookApplicationGroup(script.applicationGroup, request);
    return this.control.hooks.call(
      {
        hook,
        script: script.script,
        applicationGroup,
        reload: this.policy.scriptReloading,
        environ: hookEnviron(request, applicationGroup, this.control.serverSoftware),
        args,
        https: request.record.connection.scheme === 'https',
      },
      { errorLog: request.errorLog, client: clientOf(request.record) },
    );
  }
}

/** Apache's provider when AuthBasicProvider/AuthDigestProvider names none. */
const DEFAULT_PROVIDERS: AuthnProvider[] = [{ name: 'file', kind: 'file', userFile: null }];

const LOCALHOST = [parseIpSubnet('127.0.0.0/8')!, parseIpSubnet('::1')!];

/** Names from the configuration as the bytes Apache compares (user and group names arrive as bytes). */
function asBytes(name: string): string {
  return /^[\x00-\x7f]*$/.test(name) ? name : Buffer.from(name, 'utf8').toString('latin1');
}
