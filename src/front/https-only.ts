import type { VirtualHostConfig } from '../config/model';
import type { RequestRecord } from './request-record';

/**
 * start-server --https-only and --hsts-policy, as mod_wsgi-express configures Apache for them:
 * a plain HTTP request is redirected (302) to the same URL on the HTTPS port, and HTTPS
 * responses carry the Strict-Transport-Security policy. Returns true when the request was
 * answered here.
 */
export function httpsOnly(vhost: VirtualHostConfig, record: RequestRecord, requestHost: string, bound: readonly { port: number; tls: boolean }[]): boolean {
  if (record.connection.scheme === 'https') {
    if (vhost.hstsPolicy != null) record.res.setHeader('Strict-Transport-Security', vhost.hstsPolicy);
    return false;
  }
  if (vhost.httpsRedirectPort == null) return false;
  const port = vhost.httpsRedirectPort !== 0 ? vhost.httpsRedirectPort : (bound.find((b) => b.tls)?.port ?? 443);
  // As mod_wsgi-express's rewrite rule: the server's name, not whatever Host the client sent.
  const name = vhost.serverName || requestHost;
  const host = name.includes(':') ? `[${name}]` : name;
  const location = `https://${host}${port === 443 ? '' : `:${port}`}${record.req.url ?? '/'}`;
  const body = `<!DOCTYPE html>\n<html><head>\n<title>302 Found</title>\n</head><body>\n<h1>Found</h1>\n<p>The document has moved <a href="${location.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')}">here</a>.</p>\n</body></html>\n`;
  record.status = 302;
  record.bytesSent = body.length;
  record.res.writeHead(302, 'Found', { Location: location, 'Content-Type': 'text/html; charset=iso-8859-1', 'Content-Length': String(Buffer.byteLength(body, 'latin1')) });
  record.res.end(record.req.method === 'HEAD' ? undefined : body, 'latin1');
  return true;
}
