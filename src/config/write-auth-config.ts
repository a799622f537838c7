import type { AuthLayer, AuthzNode, HookScriptConfig } from './auth-model';
import type { Section } from './model';

/**
 * The directives of a <Location> or <Directory> section holding access control, as
 * `start-server --setup-only` writes them (what --host-access-script and --auth-user-script
 * produce). `quote` quotes an argument for Apache's word splitter.
 */
export function renderAccessSection(section: Section, quote: (value: string) => string): string[] {
  const { auth, setHandler, ...other } = section.settings;
  const hasHandler = setHandler !== undefined && setHandler !== null;
  if (Object.keys(other).length > 0 || section.files.length > 0 || section.pattern !== null || (auth === undefined && !hasHandler)) {
    throw new Error(`cannot write the <${section.kind}> section for ${section.path}: only access control and SetHandler sections are written`);
  }
  const tag = section.kind === 'location' ? 'Location' : section.kind === 'directory' ? 'Directory' : 'Files';
  const body = [...(hasHandler ? [`SetHandler ${setHandler}`] : []), ...(auth !== undefined ? renderAuth(auth, quote) : [])];
  return [`<${tag} ${quote(section.path)}>`, ...body.map((l) => `    ${l}`), `</${tag}>`];
}

function renderAuth(auth: AuthLayer, quote: (value: string) => string): string[] {
  const lines: string[] = [];
  const hook = (directive: string, script: HookScriptConfig | undefined): void => {
    if (script !== undefined) lines.push(`${directive} ${quote(script.script)}${script.applicationGroup !== null ? ` application-group=${quote(script.applicationGroup)}` : ''}`);
  };
  hook('WSGIAccessScript', auth.accessScript);
  if (auth.authType !== undefined) lines.push(`AuthType ${auth.authType ?? 'None'}`);
  if (auth.authName !== undefined) lines.push(`AuthName ${quote(auth.authName)}`);
  if (auth.basicProviders !== undefined) lines.push(`AuthBasicProvider ${auth.basicProviders.map((p) => p.name).join(' ')}`);
  if (auth.digestProviders !== undefined) lines.push(`AuthDigestProvider ${auth.digestProviders.map((p) => p.name).join(' ')}`);
  if (auth.digestNonceLifetime !== undefined) lines.push(`AuthDigestNonceLifetime ${auth.digestNonceLifetime}`);
  if (auth.digestDomain !== undefined) lines.push(`AuthDigestDomain ${auth.digestDomain.map(quote).join(' ')}`);
  if (auth.userFile !== undefined) lines.push(`AuthUserFile ${quote(auth.userFile)}`);
  if (auth.groupFile !== undefined) lines.push(`AuthGroupFile ${quote(auth.groupFile)}`);
  if (auth.forbiddenOnFailure !== undefined) lines.push(`AuthzSendForbiddenOnFailure ${auth.forbiddenOnFailure ? 'On' : 'Off'}`);
  if (auth.merging !== undefined) lines.push(`AuthMerging ${auth.merging[0]!.toUpperCase()}${auth.merging.slice(1)}`);
  hook('WSGIAuthUserScript', auth.userScript);
  hook('WSGIAuthGroupScript', auth.groupScript);
  // The section's own container is the implicit <RequireAny> its Require lines form.
  if (auth.require !== undefined) for (const child of auth.require.children) lines.push(...renderNode(child, quote));
  return lines;
}

function renderNode(node: AuthzNode, quote: (value: string) => string): string[] {
  if (node.kind === 'require') return [`Require ${node.negate ? 'not ' : ''}${node.provider}${node.args.map((a) => ' ' + quote(a)).join('')}`];
  const name = node.op === 'all' ? 'RequireAll' : node.negate ? 'RequireNone' : 'RequireAny';
  return [`<${name}>`, ...node.children.flatMap((c) => renderNode(c, quote)).map((l) => `    ${l}`), `</${name}>`];
}
