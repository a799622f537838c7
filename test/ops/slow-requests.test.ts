import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadApacheConfig } from '../../src/config/apache-config';
import { app, freePort, request, serverFixture, sleep, startServe, waitForFileLine } from '../helpers/server';

/*
 * The slow-request log (WSGISlowRequests, --slow-requests): a request slower than the threshold
 * is logged at warning with its timings (queue wait, application time, total) and its id, once
 * while it still runs and once when it ends.
 */

describe('--slow-requests', () => {
  const server = serverFixture([app('ops.wsgi'), '--slow-requests', '0.4', '--processes', '1', '--threads', '1', '--trust-proxy-header', 'X-Request-Id']);
  before(server.start);
  after(server.stop);

  it('logs a slow request while it runs and when it ends, with queue wait, application time and id', async () => {
    const res = await request(`${server.get().url}/sleep?seconds=1.2&token=secret`, { headers: { 'X-Request-Id': 'slow-one' } });
    assert.equal(res.status, 200);
    const running = await server.get().waitForLog(/Slow request still running: .*\[?/);
    assert.match(running, /\[wsgi:warn\] \[pid \d+:tid \d+\] \[request_id slow-one\] \[client 127\.0\.0\.1:\d+\] Slow request still running: GET \/sleep has run for \d+\.\d{3} seconds in daemon process '127\.0\.0\.1:0' \(pid=\d+, thread 1\)\.$/);
    const done = await server.get().waitForLog('Slow request: GET /sleep took');
    const match = /\[wsgi:warn\] .*\[request_id slow-one\] \[client 127\.0\.0\.1:\d+\] Slow request: GET \/sleep took (\d+\.\d{3}) seconds \(queue wait (\d+\.\d{3}) s, application (\d+\.\d{3}) s\), status 200, process group '127\.0\.0\.1:0' \(pid=\d+\)\.$/.exec(done);
    assert.ok(match !== null, done);
    const [total, queue, application] = [Number(match[1]), Number(match[2]), Number(match[3])];
    assert.ok(application >= 1.2 && total >= application && queue <= total, done);
    assert.doesNotMatch(server.get().stderr, /token=secret/, 'the query string (it may hold secrets) is not logged');
  });

  it('reports the time a request waited for a thread', async () => {
    const base = server.get().url;
    // One thread: the second request queues behind the first.
    const first = request(`${base}/sleep?seconds=0.8`, { headers: { 'X-Request-Id': 'holds-the-thread' } });
    await sleep(100);
    const second = await request(`${base}/id`, { headers: { 'X-Request-Id': 'waited-in-queue' } });
    assert.equal(second.text, 'waited-in-queue');
    await first;
    const line = await server.get().waitForLog(/\[request_id waited-in-queue\] .*Slow request: GET \/id took/);
    const queue = Number(/queue wait (\d+\.\d{3}) s/.exec(line)![1]);
    assert.ok(queue >= 0.4, line);
  });

  it('leaves fast requests alone', async () => {
    const fast = await request(`${server.get().url}/id`, { headers: { 'X-Request-Id': 'quick-one' } });
    assert.equal(fast.status, 200);
    await request(`${server.get().url}/sleep?seconds=0.6`, { headers: { 'X-Request-Id': 'marker-after-quick' } });
    await server.get().waitForLog(/\[request_id marker-after-quick\] .*Slow request: /);
    assert.doesNotMatch(server.get().stderr, /\[request_id quick-one\]/);
  });
});

describe('WSGISlowRequests', () => {
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-host-slow-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const write = (lines: string[]): string => {
    const file = path.join(dir, `c${Math.random().toString(36).slice(2)}.conf`);
    fs.writeFileSync(file, [...lines, ''].join('\n'));
    return file;
  };

  it('is read from the file and logs to the virtual host\'s error log', async () => {
    const port = await freePort();
    const errorLog = path.join(dir, 'error_log');
    const conf = write([`Listen 127.0.0.1:${port}`, `ErrorLog ${errorLog}`, 'WSGISlowRequests 0.3', 'WSGIDaemonProcess site threads=2', 'WSGIProcessGroup site', `WSGIScriptAlias / ${app('ops.wsgi')}`]);
    assert.equal(loadApacheConfig(conf).config?.slowRequests, 0.3);
    const server = await startServe(conf);
    try {
      let res = await request(`http://127.0.0.1:${port}/sleep?seconds=0.6`);
      for (let i = 0; res.status !== 200 && i < 100; i++) res = await request(`http://127.0.0.1:${port}/sleep?seconds=0.6`);
      assert.equal(res.status, 200);
      await waitForFileLine(errorLog, /\[wsgi:warn\] .*\[request_id \S+\] .*Slow request: GET \/sleep took \d+\.\d{3} seconds \(queue wait/);
    } finally {
      await server.stop();
    }
  });

  it('takes seconds, 0 or more, at server level only', () => {
    const bad = (line: string, where: string[] = []): string => {
      const result = loadApacheConfig(write(['Listen 8080', ...where, line, ...where.map(() => '</VirtualHost>').slice(0, where.length)]));
      assert.equal(result.config, null, `${line} should be refused`);
      return `${result.errors[0]!.directive}: ${result.errors[0]!.message} (line ${result.errors[0]!.line})`;
    };
    assert.match(bad('WSGISlowRequests -1'), /^WSGISlowRequests: takes a number of seconds \(0 or more\), not "-1" \(line 2\)$/);
    assert.match(bad('WSGISlowRequests soon'), /takes a number of seconds/);
    assert.match(bad('WSGISlowRequests 1', ['<VirtualHost *:8080>']), /^WSGISlowRequests: /);
    assert.equal(loadApacheConfig(write(['Listen 8080', 'WSGISlowRequests 0'])).config?.slowRequests, 0);
    assert.equal(loadApacheConfig(write(['Listen 8080'])).config?.slowRequests, null);
  });
});
