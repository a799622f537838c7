import type { AccessRequest } from './access-control';

const VALID_HEADER_NAME = /^[A-Za-z0-9-]+$/;

/**
 * The cut-down environ mod_wsgi gives auth hooks (wsgi_auth.c's Auth_environ): the request
 * headers as HTTP_* (never Authorization or Proxy-Authorization, whatever
 * WSGIPassAuthorization says), the server and client basics, the request line, SCRIPT_NAME and
 * PATH_INFO, and the mod_wsgi.* group names. No SetEnv values: hooks must not be steerable from
 * configuration meant for applications. The Python side adds wsgi.errors, mod_wsgi.version and
 * mod_ssl.is_https/var_lookup.
 */
export function hookEnviron(request: AccessRequest, applicationGroup: string, serverSoftware: string): Record<string, string> {
  const env: Record<string, string> = {};
  const raw = request.record.req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (lower === 'authorization' || lower === 'proxy-authorization' || lower === 'proxy' || !VALID_HEADER_NAME.test(name)) continue;
    const key = lower === 'content-type' ? 'CONTENT_TYPE' : lower === 'content-length' ? 'CONTENT_LENGTH' : 'HTTP_' + name.toUpperCase().replace(/-/g, '_');
    const value = raw[i + 1]!;
    env[key] = key in env ? `${env[key]!}, ${value}` : value;
  }
  const { record, vhost } = request;
  const connection = record.connection;
  const req = record.req;
  env['SERVER_SIGNATURE'] = '';
  env['SERVER_SOFTWARE'] = serverSoftware;
  env['SERVER_NAME'] = request.requestHost;
  env['SERVER_ADDR'] = connection.localAddress;
  env['SERVER_PORT'] = String(request.requestPort);
  env['REMOTE_ADDR'] = connection.remoteAddress;
  env['DOCUMENT_ROOT'] = vhost.documentRoot;
  if (vhost.serverAdmin !== null) env['SERVER_ADMIN'] = vhost.serverAdmin;
  env['REMOTE_PORT'] = String(connection.remotePort);
  env['SERVER_PROTOCOL'] = `HTTP/${req.httpVersion}`;
  env['REQUEST_METHOD'] = req.method ?? 'GET';
  env['QUERY_STRING'] = request.query;
  env['REQUEST_URI'] = req.url ?? '';
  env['SCRIPT_NAME'] = request.scriptName;
  env['PATH_INFO'] = request.pathInfo;
  env['mod_wsgi.process_group'] = '';
  env['mod_wsgi.application_group'] = applicationGroup;
  return env;
}

/**
 * The application group a hook runs in, as mod_wsgi's wsgi_server_group expands it: %{GLOBAL}
 * (the default) is '', %{SERVER} is ServerName[:port], %{HOST} the same from the Host header;
 * anything else is a literal name.
 */
export function hookApplicationGroup(spec: string | null, request: AccessRequest): string {
  if (spec === null || spec === '%{GLOBAL}') return '';
  const withPort = (host: string): string => (request.requestPort === 80 || request.requestPort === 443 ? host : `${host}:${request.requestPort}`);
  if (spec === '%{SERVER}') return withPort(request.vhost.serverName);
  if (spec === '%{HOST}') return withPort(request.requestHost || request.vhost.serverName);
  return spec;
}
