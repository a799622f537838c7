import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../helpers/server';

/**
 * How many sends (system calls, each a wake-up of the front end) the worker's response loop
 * makes for the shapes of response applications return. Run in the real worker module with a
 * connection that counts sends, since the count is not visible over HTTP.
 */
const SCRIPT = String.raw`
import json, marshal, sys
sys.path.insert(0, sys.argv[1])
from wsgi_host import protocol, request as rq

class Conn(object):
    closed = False
    region_ok = False
    def __init__(self):
        self.sends = []
    def send(self, data):
        self.sends.append(bytes(data))
    def send_frame(self, kind, payload):
        self.sends.append(protocol.HEADER.pack(kind, len(payload)) + bytes(payload))
    def read_frame(self):
        return protocol.BODY_END, b''

class Worker(object):
    static_environ = {'wsgi.version': (1, 0), 'wsgi.multithread': False, 'wsgi.multiprocess': True, 'wsgi.run_once': False,
                      'wsgi.file_wrapper': rq.FileWrapper, 'wsgi.input_terminated': True}
    def flush_thread_output(self, request):
        pass
    def log_exception(self, log, exc, script):
        raise exc

HEAD = marshal.dumps((0, {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/', 'SCRIPT_FILENAME': '/app.wsgi'}))

def run(headers, make_body):
    def app(environ, start_response):
        start_response('200 OK', headers)
        return make_body()
    conn = Conn()
    rq.Request(Worker(), conn, HEAD).run(app)
    joined = b''.join(conn.sends)
    return {'sends': len(conn.sends), 'ends': joined.count(bytes((protocol.RESPONSE_END,)) + b'\0\0\0\0')}

def gen(*items):
    def make():
        for item in items:
            yield item
    return make

CL5 = [('Content-Type', 'text/plain'), ('Content-Length', '5')]
PLAIN = [('Content-Type', 'text/plain')]
print(json.dumps({
    'list': run(CL5, lambda: [b'hello']),
    'generator with Content-Length': run(CL5, gen(b'hello')),
    'generator, last piece completes': run(CL5, gen(b'he', b'llo')),
    'generator past Content-Length': run(CL5, gen(b'hello', b'more')),
    'generator without Content-Length': run(PLAIN, gen(b'hello')),
    'large piece completing Content-Length': run([('Content-Length', str(64 * 1024))], gen(b'x' * (64 * 1024))),
}))
`;

describe('response frames from the worker', () => {
  const python = process.env['WSGI_HOST_TEST_PYTHON'] ?? 'python3';
  const counts = JSON.parse(execFileSync(python, ['-c', SCRIPT, path.join(ROOT, 'python')], { encoding: 'utf8', timeout: 20_000 })) as Record<string, { sends: number; ends: number }>;

  it('a list costs one send: head, body and end frame together', () => {
    assert.deepEqual(counts['list'], { sends: 1, ends: 1 });
  });

  it('a generator\'s pieces go out as they come, the one that completes the declared length too (PEP 3333: no block held back); the end frame follows', () => {
    assert.deepEqual(counts['generator with Content-Length'], { sends: 2, ends: 1 });
    assert.deepEqual(counts['generator, last piece completes'], { sends: 3, ends: 1 });
    assert.equal(counts['generator past Content-Length']!.ends, 1);
  });

  it('without a declared length, or for a large piece, each piece is sent as it comes', () => {
    assert.deepEqual(counts['generator without Content-Length'], { sends: 2, ends: 1 });
    assert.ok(counts['large piece completing Content-Length']!.sends >= 2);
  });
});
