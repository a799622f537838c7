import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { loadApacheConfig } from '../../src/config/apache-config';
import type { RequestRecord } from '../../src/front/request-record';
import { compileLogFormat, type LoggedRequest } from '../../src/log/access-log';
import { app, freePort, rawExchange, request, serverFixture, startServe, waitForFileLine } from '../helpers/server';
import { eventually } from './ops-helpers';

/*
 * The JSON access log (the `json` LogFormat nickname, --access-log-format json): one object per
 * line, named fields, values escaped so that every line parses whatever the client sent.
 */

type Line = Record<string, unknown>;

function jsonLines(stdout: string): Line[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
}

describe('--access-log-format json with real workers', () => {
  const server = serverFixture([app('ops.wsgi'), '--access-log', '--access-log-format', 'json', '--trust-proxy-header', 'X-Request-Id']);
  before(server.start);
  after(server.stop);

  const lineFor = (id: string): Promise<Line> =>
    eventually(`the JSON line of ${id}`, async () => jsonLines(server.get().stdout).find((l) => l['request_id'] === id));

  it('writes one object per line with named fields, timings and the request id', async () => {
    const res = await request(`${server.get().url}/id?x=1`, { headers: { 'User-Agent': 'tester/1.0', Referer: 'http://example.test/from' } });
    const line = await lineFor(res.text);
    assert.equal(line['method'], 'GET');
    assert.equal(line['uri'], '/id?x=1');
    assert.equal(line['protocol'], 'HTTP/1.1');
    assert.equal(line['status'], 200);
    assert.equal(line['bytes_sent'], res.body.length);
    assert.ok((line['bytes_out'] as number) > res.body.length);
    assert.equal(line['remote_addr'], '127.0.0.1');
    assert.equal(typeof line['remote_port'], 'number');
    assert.equal(line['remote_user'], null);
    assert.equal(line['server_name'], 'localhost');
    assert.equal(line['host'], `127.0.0.1:${server.get().port}`);
    assert.equal(line['user_agent'], 'tester/1.0');
    assert.equal(line['referer'], 'http://example.test/from');
    assert.equal(line['process_group'], '127.0.0.1:0');
    assert.ok(typeof line['duration_ms'] === 'number' && line['duration_ms'] >= 0);
    assert.ok(typeof line['queue_ms'] === 'number' && line['queue_ms'] >= 0);
    assert.ok(typeof line['app_ms'] === 'number' && line['app_ms'] >= 0 && line['app_ms'] <= (line['duration_ms'] as number) + 1);
    assert.equal(typeof line['pid'], 'number');
    assert.ok(!Number.isNaN(Date.parse(line['time'] as string)) && (line['time'] as string).endsWith('Z'));
  });

  it('escapes quotes, backslashes and control characters; decodes UTF-8; replaces bytes that are not UTF-8', async () => {
    const port = server.get().port;
    const send = (id: string, target: string, userAgent: string): Promise<Buffer> =>
      rawExchange(port, Buffer.from(`GET ${target} HTTP/1.1\r\nHost: x\r\nX-Request-Id: ${id}\r\nUser-Agent: ${userAgent}\r\nConnection: close\r\n\r\n`, 'latin1'));
    await send('hostile-1', '/q"uote\\back?x="y"\\z', 'a"b\\c\td');
    await send('hostile-2', '/bytes/%ff%fe/caf%C3%A9', 'caf\xc3\xa9 \xff\xfe end');
    const one = await lineFor('hostile-1');
    assert.equal(one['uri'], '/q"uote\\back?x="y"\\z');
    assert.equal(one['user_agent'], 'a"b\\c\td');
    const two = await lineFor('hostile-2');
    // Percent-encoded bytes stay as the client sent them; raw header bytes are decoded.
    assert.equal(two['uri'], '/bytes/%ff%fe/caf%C3%A9');
    assert.equal(two['user_agent'], 'café \ufffd\ufffd end');
    const raw = server.get().stdout.split('\n').find((l) => l.includes('"hostile-1"'))!;
    assert.ok(raw.includes('"a\\"b\\\\c\\td"'), raw);
    assert.doesNotMatch(raw, /[\x00-\x1f\x7f]/, 'no raw control characters in the line');
  });

  it('logs requests the front end answers itself without the group fields', async () => {
    const invalid = await rawExchange(server.get().port, 'GET /%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(invalid.toString('latin1'), /^HTTP\/1\.1 400 /);
    const line = await eventually('the line of the refused request', async () => jsonLines(server.get().stdout).find((l) => l['uri'] === '/%zz'));
    assert.equal(line['status'], 400);
    assert.match(line['request_id'] as string, /^[0-9a-z]{8}-[0-9a-z]+$/);
    assert.equal('process_group' in line, false);
    assert.equal('queue_ms' in line, false);
  });
});

describe('CustomLog with the json nickname in a configuration file', () => {
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsgi-host-json-log-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('CustomLog FILE json and a LogFormat naming json write JSON lines', async () => {
    const port = await freePort();
    const conf = path.join(dir, 'httpd.conf');
    fs.writeFileSync(
      conf,
      [
        `Listen 127.0.0.1:${port}`,
        'ServerName json.test',
        `ErrorLog ${path.join(dir, 'error_log')}`,
        `CustomLog ${path.join(dir, 'access.json')} json`,
        'LogFormat json structured',
        `CustomLog ${path.join(dir, 'also.json')} structured`,
        `WSGIScriptAlias / ${app('ops.wsgi')}`,
        '',
      ].join('\n'),
    );
    assert.deepEqual(loadApacheConfig(conf).errors, []);
    const server = await startServe(conf);
    try {
      const res = await eventually('the embedded group to answer', async () => {
        const r = await request(`http://127.0.0.1:${port}/id`);
        return r.status === 200 ? r : undefined;
      }, 20_000);
      for (const file of ['access.json', 'also.json']) {
        const line = JSON.parse(await waitForFileLine(path.join(dir, file), `"${res.text}"`)) as Line;
        assert.equal(line['request_id'], res.text);
        assert.equal(line['server_name'], 'json.test');
        assert.equal(line['process_group'], '%{GLOBAL}');
      }
    } finally {
      await server.stop();
    }
  });
});

describe('the JSON line formatter', () => {
  /** A request as the front end records it, with header values as Node gives them (latin-1). */
  function logged(url: string, headers: Record<string, string>, id = 'id-1'): LoggedRequest {
    const req = Object.assign(Object.create(http.IncomingMessage.prototype) as http.IncomingMessage, { url, method: 'GET', httpVersion: '1.1', headers });
    const record: RequestRecord = {
      req,
      res: {} as http.ServerResponse,
      connection: { localAddress: '127.0.0.1', localPort: 80, remoteAddress: '192.0.2.1', remotePort: 5000, scheme: 'http', id: 'c1' },
      id,
      startMicros: 1_700_000_000_000_000,
      status: 200,
      bytesSent: 10,
      remoteUser: null,
    authType: null,
      env: {},
      timing: null,
    };
    return { record, endMicros: record.startMicros + 1500, serverName: 'example.test', bytesOut: 100 };
  }
  const format = compileLogFormat('json');

  it('every line parses, and text that is ASCII comes back unchanged, whatever bytes a header holds', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)) }), fc.string({ unit: 'binary-ascii' }), (agent, url) => {
        const line = format(logged(url, { 'user-agent': agent }));
        assert.equal(line.includes('\n'), false);
        const parsed = JSON.parse(line) as Line;
        assert.equal(parsed['uri'], url);
        if (!/[\x80-\xff]/.test(agent)) assert.equal(parsed['user_agent'], agent);
        else assert.equal(parsed['user_agent'], Buffer.from(agent, 'latin1').toString('utf8'));
      }),
    );
  });

  it('a URI whose bytes are not UTF-8 keeps them as %XX', () => {
    const parsed = JSON.parse(format(logged('/a\xff\xfeb', {}))) as Line;
    assert.equal(parsed['uri'], '/a%FF%FEb');
    assert.equal((JSON.parse(format(logged('/caf\xc3\xa9', {}))) as Line)['uri'], '/café');
    assert.equal((JSON.parse(format(logged('/', {}))) as Line)['duration_ms'], 1.5);
  });
});
