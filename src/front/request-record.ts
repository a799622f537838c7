import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestTiming } from '../ops/request-stats';
import type { ConnectionInfo } from './environ';

/**
 * What the access log and the error log need to know about a request, filled in as it is
 * served.
 */
export interface RequestRecord {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly connection: ConnectionInfo;
  /** The request id (Apache's log id, mod_wsgi.request_id): made here, or a trusted proxy's X-Request-Id. */
  id: string;
  /** Epoch microseconds when the request line arrived (approximately: when Node parsed it). */
  readonly startMicros: number;
  /** Final status sent (the access log's %>s). */
  status: number;
  /** Body bytes sent (the access log's %b). */
  bytesSent: number;
  /** Who the request was authenticated as (REMOTE_USER, the access log's %u); bytes as a latin-1 string. */
  remoteUser: string | null;
  /** How (AUTH_TYPE): 'Basic' or 'Digest', once authenticated. */
  authType: string | null;
  /** Environment variables set for the request (%{VAR}e). */
  env: Record<string, string>;
  /** Queue and application timings, recorded when the status page, metrics or logs need them. */
  timing: RequestTiming | null;
  /** The host name the request named (the Host header's, else the virtual host's): the access log's %V. */
  hostName?: string | null;
  /** Called when the response closes before it finished (the client went away). */
  onClientClose?: () => void;
}

export function clientOf(record: RequestRecord): string {
  return `${record.connection.remoteAddress}:${record.connection.remotePort}`;
}
