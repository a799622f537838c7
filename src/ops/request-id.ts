/**
 * Request ids: made cheaply by the front end (a random prefix per server process and a counter),
 * or taken from a trusted proxy's X-Request-Id so one id follows a request across the tiers.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { ResolvedSettings } from '../config/model';
import type { RequestRecord } from '../front/request-record';
import { trustedProxiesFor } from '../front/trusted-proxies';

/**
 * Random per server process, so ids from different servers or runs do not collide; a counter
 * after it keeps making one an increment and a base-36 conversion.
 */
export const ID_PREFIX = randomBytes(5).readUIntBE(0, 5).toString(36).padStart(8, '0');

/** The environ key of the header, as WSGITrustedProxyHeaders lists it. */
export const REQUEST_ID_HEADER_KEY = 'HTTP_X_REQUEST_ID';

/** The longest id accepted from a proxy (uuids are 36; Heroku's router allows 200). */
export const MAX_REQUEST_ID_LENGTH = 200;

/** Visible ASCII only: an id goes unquoted into log lines, so no spaces or control characters. */
const WELL_FORMED = new RegExp(`^[\\x21-\\x7e]{1,${MAX_REQUEST_ID_LENGTH}}$`);

export function isWellFormedRequestId(value: string): boolean {
  return WELL_FORMED.test(value);
}

/**
 * The X-Request-Id to use for a request, or null to keep the one the front end made. It is taken
 * only when WSGITrustedProxyHeaders lists X-Request-Id, the peer is a trusted proxy (with no
 * WSGITrustedProxies every peer is, as in mod_wsgi) and it is well formed. Called only when some
 * proxy header is trusted.
 */
export function trustedRequestId(req: IncomingMessage, settings: ResolvedSettings, peer: string): string | null {
  if (!settings.trustedProxyHeaders.includes(REQUEST_ID_HEADER_KEY)) return null;
  const value = req.headers['x-request-id'];
  // Repeated headers arrive joined with ", ", which is not well formed: a fresh id is made.
  if (typeof value !== 'string' || !WELL_FORMED.test(value)) return null;
  if (settings.trustedProxies.length > 0 && !trustedProxiesFor(settings.trustedProxies).trusts(peer)) return null;
  return value;
}

/** Takes a trusted proxy's X-Request-Id as the request's id, if there is a good one. */
export function adoptTrustedRequestId(record: RequestRecord, settings: ResolvedSettings): void {
  const id = trustedRequestId(record.req, settings, record.connection.remoteAddress);
  if (id !== null) record.id = id;
}
