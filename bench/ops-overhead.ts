/**
 * What the operations features cost per request, measured in-process (the machine's noise swamps
 * a difference of a microsecond in an HTTP benchmark): the work the front end does when a
 * request ends with statistics, metrics and the slow-request check on, the timing marks the
 * exchange takes, and the JSON access log line against Apache's common format.
 *
 *   npx tsc -p . && node dist/bench/ops-overhead.js
 */
import * as http from 'node:http';
import type { RequestRecord } from '../src/front/request-record';
import type { ProcessGroup } from '../src/groups/process-group';
import { compileLogFormat, type LoggedRequest } from '../src/log/access-log';
import { ErrorLog } from '../src/log/error-log';
import { MemorySink } from '../src/log/sink';
import { OpsMonitor, type OpsFeatures, type OpsHost } from '../src/ops/monitor';

const N = 1_000_000;

function record(): RequestRecord {
  const req = Object.assign(Object.create(http.IncomingMessage.prototype) as http.IncomingMessage, {
    url: '/some/path?with=query',
    method: 'GET',
    httpVersion: '1.1',
    headers: { host: 'example.test', 'user-agent': 'wrk/4.2.0', referer: 'http://example.test/' },
  });
  return {
    req,
    res: {} as http.ServerResponse,
    connection: { localAddress: '127.0.0.1', localPort: 8000, remoteAddress: '127.0.0.1', remotePort: 50000, scheme: 'http', id: 'c1' },
    id: 'abcdefgh-1a2b',
    startMicros: Date.now() * 1000,
    status: 200,
    bytesSent: 12,
    remoteUser: null,
    authType: null,
    env: {},
    timing: null,
  };
}

function host(): OpsHost {
  return {
    serverName: 'bench',
    software: 'wsgi-host/bench',
    groups: new Map<string, ProcessGroup>(),
    addresses: [],
    activeRequests: 0,
    connectionCount: () => Promise.resolve(0),
    errorLog: new ErrorLog(new MemorySink(), 'warn'),
    generation: 1,
  };
}

function time(label: string, fn: (i: number) => void): number {
  for (let i = 0; i < N / 10; i++) fn(i);
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - start) / N;
  console.log(`${label.padEnd(58)} ${ns.toFixed(0).padStart(6)} ns`);
  return ns;
}

const errorLog = new ErrorLog(new MemorySink(), 'warn');
const rec = record();
const features = (metrics: boolean, slow: boolean): OpsFeatures => ({ statusPage: true, metrics, slowRequestMs: slow ? 5000 : null, jsonAccessLog: false });

console.log(`per request, mean of ${N.toLocaleString()} (node ${process.version})`);
time('performance.now() (the exchange takes two when timing is on)', () => performance.now());
const statsOnly = new OpsMonitor(host(), features(false, false));
const group = statsOnly.statsFor('site');
time('timing record for a request routed to a group', () => {
  rec.timing = group.startTiming();
});
rec.timing = group.startTiming();
rec.timing.queuedAt = performance.now();
rec.timing.beganAt = rec.timing.queuedAt + 0.05;
rec.timing.appEndedAt = rec.timing.beganAt + 1;
time('request ended: statistics (server + group ring buffers)', () => statsOnly.requestEnded(rec, errorLog));
const withSlow = new OpsMonitor(host(), features(false, true));
time('request ended: statistics + slow-request check', () => withSlow.requestEnded(rec, errorLog));
const withMetrics = new OpsMonitor(host(), features(true, true));
time('request ended: statistics + slow check + Prometheus metrics', () => withMetrics.requestEnded(rec, errorLog));
withSlow.close();
withMetrics.close();

const logged: LoggedRequest = { record: rec, endMicros: rec.startMicros + 1234, serverName: 'example.test', bytesOut: 180 };
const common = compileLogFormat('common');
const combined = compileLogFormat('combined');
const json = compileLogFormat('json');
time('access log line: common', () => common(logged));
time('access log line: combined', () => combined(logged));
time('access log line: json (with group timings)', () => json(logged));
rec.timing = null;
time('access log line: json (no group)', () => json(logged));
