import * as http from 'node:http';
import type { Workload } from '../workloads';

export interface ProbeResult {
  status: number;
  body: Buffer;
  /** Why the response is wrong (or the request failed), null when it is correct. */
  problem: string | null;
}

/** One request of the workload on a fresh connection, checked byte for byte. Used to tell when a
 *  server is ready and, after the load, that it still answers correctly. */
export function probe(port: number, workload: Workload, timeoutMs = 10_000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const headers: http.OutgoingHttpHeaders = {};
    if (workload.body !== null) {
      headers['content-type'] = 'application/octet-stream';
      headers['content-length'] = workload.body.length;
    }
    const req = http.request({ host: '127.0.0.1', port, path: '/', method: workload.method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, body, problem: workload.check(res.statusCode ?? 0, body) });
      });
      res.on('error', (err) => resolve({ status: res.statusCode ?? 0, body: Buffer.alloc(0), problem: `response error: ${err.message}` }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no response within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ status: 0, body: Buffer.alloc(0), problem: err.message }));
    req.end(workload.body ?? undefined);
  });
}
