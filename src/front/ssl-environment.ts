import type { TLSSocket } from 'node:tls';

/**
 * SSLOptions +StdEnvVars (start-server --ssl-environment): the SSL_* variables mod_ssl exports
 * that describe the connection, added to the request's environment. Worked out once per
 * connection and per set of SetEnv variables, so later requests on the connection share them.
 * HTTPS is left out: mod_wsgi turns it into wsgi.url_scheme and removes it.
 */
const cache = new WeakMap<TLSSocket, { base: Record<string, string>; env: Record<string, string> }>();

export function sslEnvironment(socket: TLSSocket, base: Record<string, string>): Record<string, string> {
  const cached = cache.get(socket);
  if (cached !== undefined && cached.base === base) return cached.env;
  const env: Record<string, string> = { ...base };
  const protocol = socket.getProtocol();
  if (protocol !== null) env['SSL_PROTOCOL'] = protocol;
  const cipher = socket.getCipher();
  if (cipher !== undefined && cipher !== null) env['SSL_CIPHER'] = cipher.name;
  const sni = (socket as TLSSocket & { servername?: string | false }).servername;
  if (typeof sni === 'string' && sni !== '') env['SSL_TLS_SNI'] = sni;
  env['SSL_SESSION_RESUMED'] = socket.isSessionReused() ? 'Resumed' : 'Initial';
  env['SSL_VERSION_LIBRARY'] = `OpenSSL/${process.versions.openssl}`;
  cache.set(socket, { base, env });
  return env;
}
