import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { app, request, serverFixture } from '../helpers/server';
import { eventually, sample, statusJson, text } from './ops-helpers';

/*
 * Prometheus metrics at /server-metrics (start-server --server-metrics), scraped from a server
 * with real worker processes: request counts by status class and group, latency and queue-wait
 * histograms, queue length, busy and idle threads, restarts by reason, memory per process.
 */

const GROUP = '127.0.0.1:0';

describe('server-metrics', () => {
  const server = serverFixture([app('ops.wsgi'), '--server-metrics', '--server-status', '--processes', '2', '--threads', '2']);
  before(server.start);
  after(server.stop);

  const scrape = async (): Promise<string> => {
    const res = await request(`${server.get().url}/server-metrics`);
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    return text(res);
  };

  it('counts requests by process group and status class, with a latency histogram', async () => {
    const base = server.get().url;
    const before = await scrape();
    const count = (t: string, cls: string): number => sample(t, 'wsgi_host_requests_total', { process_group: GROUP, status_class: cls }) ?? 0;
    const histogramCount = (t: string): number => sample(t, 'wsgi_host_request_duration_seconds_count', { process_group: GROUP }) ?? 0;
    for (let i = 0; i < 3; i++) assert.equal((await request(`${base}/id`)).status, 200);
    assert.equal((await request(`${base}/status?code=404`)).status, 404);
    assert.equal((await request(`${base}/status?code=503`)).status, 503);
    assert.equal((await request(`${base}/status?code=302`)).status, 302);
    const after = await scrape();
    assert.equal(count(after, '2xx') - count(before, '2xx'), 3);
    assert.equal(count(after, '3xx') - count(before, '3xx'), 1);
    assert.equal(count(after, '4xx') - count(before, '4xx'), 1);
    assert.equal(count(after, '5xx') - count(before, '5xx'), 1);
    assert.equal(histogramCount(after) - histogramCount(before), 6);
    // Cumulative buckets: +Inf holds every observation.
    assert.equal(sample(after, 'wsgi_host_request_duration_seconds_bucket', { process_group: GROUP, le: '+Inf' }), histogramCount(after));
    assert.ok((sample(after, 'wsgi_host_request_duration_seconds_sum', { process_group: GROUP }) ?? 0) > 0);
    // The front end's own answers (the scrapes themselves) have an empty process_group.
    assert.ok((sample(after, 'wsgi_host_requests_total', { process_group: '', status_class: '2xx' }) ?? 0) >= 1);
  });

  it('reads busy and idle threads and the queue from the supervisor at scrape time', async () => {
    const base = server.get().url;
    const idle = await scrape();
    assert.equal(sample(idle, 'wsgi_host_busy_threads', { process_group: GROUP }), 0);
    assert.equal(sample(idle, 'wsgi_host_idle_threads', { process_group: GROUP }), 4);
    assert.equal(sample(idle, 'wsgi_host_queue_length', { process_group: GROUP }), 0);
    const waitsBefore = sample(idle, 'wsgi_host_queue_wait_seconds_count', { process_group: GROUP }) ?? 0;
    const running = Array.from({ length: 6 }, () => request(`${base}/sleep?seconds=2`));
    const busy = await eventually('a full group with a queue', async () => {
      const t = await scrape();
      return sample(t, 'wsgi_host_queue_length', { process_group: GROUP }) === 2 ? t : undefined;
    });
    assert.equal(sample(busy, 'wsgi_host_busy_threads', { process_group: GROUP }), 4);
    assert.equal(sample(busy, 'wsgi_host_idle_threads', { process_group: GROUP }), 0);
    assert.ok((sample(busy, 'wsgi_host_active_requests') ?? 0) >= 6);
    for (const res of await Promise.all(running)) assert.equal(res.status, 200);
    const done = await scrape();
    assert.equal((sample(done, 'wsgi_host_queue_wait_seconds_count', { process_group: GROUP }) ?? 0) - waitsBefore, 6);
    // Two requests waited about two seconds for a thread.
    const quick = sample(done, 'wsgi_host_queue_wait_seconds_bucket', { process_group: GROUP, le: '0.5' }) ?? 0;
    const all = sample(done, 'wsgi_host_queue_wait_seconds_bucket', { process_group: GROUP, le: '+Inf' }) ?? 0;
    assert.ok(all - quick >= 2, `waits over 0.5 s: ${all - quick}`);
  });

  it('gives each process\'s resident memory and counts restarts by reason', async () => {
    const base = server.get().url;
    const snapshot = await statusJson(base);
    const first = await scrape();
    for (const proc of snapshot.groups[0]!.processes) {
      const rss = sample(first, 'wsgi_host_process_resident_memory_bytes', { process_group: GROUP, process: String(proc.number), pid: String(proc.pid) });
      assert.ok(rss !== undefined && rss > 1024 * 1024, `rss of ${proc.pid}: ${rss}`);
    }
    assert.equal(sample(first, 'wsgi_host_processes', { process_group: GROUP, state: 'ready' }), 2);
    const crashes = (t: string): number => sample(t, 'wsgi_host_process_restarts_total', { process_group: GROUP, reason: 'crash' }) ?? 0;
    const graceful = (t: string): number => sample(t, 'wsgi_host_process_restarts_total', { process_group: GROUP, reason: 'graceful_signal' }) ?? 0;
    const [one, two] = snapshot.groups[0]!.processes;
    process.kill(one!.pid, 'SIGKILL');
    process.kill(two!.pid, 'SIGUSR1');
    const after = await eventually('both restarts counted', async () => {
      const t = await scrape();
      return crashes(t) - crashes(first) === 1 && graceful(t) - graceful(first) === 1 ? t : undefined;
    }, 20_000);
    assert.ok(after.includes('# TYPE wsgi_host_process_restarts_total counter'));
  });

  it('includes the front end\'s process metrics and the version', async () => {
    const t = await scrape();
    assert.ok((sample(t, 'process_resident_memory_bytes') ?? 0) > 0);
    assert.match(t, /^wsgi_host_info\{version="\d+\.\d+\.\d+"\} 1$/m);
    assert.match(t, /# TYPE wsgi_host_request_duration_seconds histogram/);
  });
});
