import type { LimitsConfig } from '../config/model';

/** What the front end needs from a request's header fields, read in one pass over rawHeaders. */
export interface HeadScan {
  host: string | undefined;
  hostCount: number;
  contentLength: string | undefined;
  transferEncoding: string | undefined;
  /** An Upgrade header field was sent (never honoured here). */
  upgrade: boolean;
  /** The first limit the head breaks, with Apache's status and message; null if none. */
  problem: { status: number; message: string } | null;
}

/**
 * Reads the header fields once: Host, Content-Length, Transfer-Encoding and Upgrade, and checks
 * LimitRequestFields and LimitRequestFieldSize. Reading req.rawHeaders directly avoids Node
 * building the req.headers object, which costs more than the rest of this put together.
 */
export function scanHead(raw: string[], limits: LimitsConfig): HeadScan {
  const scan: HeadScan = { host: undefined, hostCount: 0, contentLength: undefined, transferEncoding: undefined, upgrade: false, problem: null };
  if (limits.requestFields > 0 && raw.length / 2 > limits.requestFields) {
    scan.problem = { status: 400, message: `AH00563: request failed: error reading the headers: the number of request header fields exceeds LimitRequestFields (${limits.requestFields})` };
    return scan;
  }
  const maxField = limits.requestFieldSize;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    if (maxField > 0 && name.length + value.length + 2 > maxField) {
      scan.problem = { status: 400, message: `AH00561: Size of a request header field exceeds server limit (LimitRequestFieldSize ${maxField}): ${name}` };
      return scan;
    }
    // Compare by length first: most names rule themselves out without a lower-casing copy.
    switch (name.length) {
      case 4:
        if (name === 'Host' || name.toLowerCase() === 'host') {
          scan.hostCount++;
          if (scan.host === undefined) scan.host = value;
        }
        break;
      case 14:
        if (name === 'Content-Length' || name.toLowerCase() === 'content-length') scan.contentLength = value;
        break;
      case 7:
        if (name === 'Upgrade' || name.toLowerCase() === 'upgrade') scan.upgrade = true;
        break;
      case 17:
        if (name === 'Transfer-Encoding' || name.toLowerCase() === 'transfer-encoding') {
          scan.transferEncoding = scan.transferEncoding === undefined ? value : `${scan.transferEncoding}, ${value}`;
        }
        break;
    }
  }
  return scan;
}
