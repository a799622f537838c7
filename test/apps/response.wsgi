"""Responses of every shape, selected by PATH_INFO, for the response tests."""
import hashlib
import json
import os
import sys
import time
from urllib.parse import parse_qs

MARKERS = os.environ.get('WSGI_TEST_MARKERS', '/tmp')


def mark(name, text=''):
    with open(os.path.join(MARKERS, name), 'w') as f:
        f.write(text)


class ClosingIterable(object):
    def __init__(self, items, marker):
        self.items = items
        self.marker = marker

    def __iter__(self):
        return iter(self.items)

    def close(self):
        mark(self.marker, 'closed')


def pattern(size, piece=65536):
    """Deterministic bytes: the client can hash what it got without the server sending a hash.
    Yielded in pieces of `piece` bytes (a multiple of 32: the bytes are the same whatever it is)."""
    block = hashlib.sha256(b'wsgi-host').digest() * (piece // 32)
    full, rest = divmod(size, len(block))
    for _ in range(full):
        yield block
    if rest:
        yield block[:rest]


def application(environ, start_response):
    path = environ['PATH_INFO']
    query = dict((k, v[0]) for k, v in parse_qs(environ.get('QUERY_STRING', '')).items())
    text = [('Content-Type', 'text/plain')]

    if path == '/list':
        start_response('200 OK', text)
        return [b'chunk1-', b'chunk2-', b'chunk3']
    if path == '/generator':
        def gen():
            yield b'gen-one-'
            yield b''
            yield b'gen-two'
        start_response('200 OK', text)
        return gen()
    if path == '/empty':
        start_response('204 No Content', [])
        return []
    if path == '/empty-200':
        start_response('200 OK', text)
        return []
    if path == '/no-reason':
        start_response('299', text)
        return [b'odd']
    if path == '/custom-reason':
        start_response('200 Very Fine', text)
        return [b'fine']
    if path == '/headers':
        start_response('200 OK', [('Content-Type', 'text/plain'), ('Set-Cookie', 'a=1'), ('Set-Cookie', 'b=2'),
                                  ('X-Latin', 'caf\xe9')])
        return [b'h']
    if path == '/close':
        start_response('200 OK', text)
        return ClosingIterable([b'iter-a-', b'iter-b'], query['marker'])
    if path == '/raise-before':
        raise RuntimeError('raise-before-boom')
    if path == '/raise-after-start':
        start_response('200 OK', text)
        raise RuntimeError('raise-after-start-boom')
    if path == '/raise-midway':
        def gen():
            yield b'before-boom'
            raise RuntimeError('raise-midway-boom')
        start_response('200 OK', text)
        return gen()
    if path == '/raise-midway-finally':
        def gen():
            try:
                yield b'before-fin'
                raise RuntimeError('midway-finally-boom')
            finally:
                mark(query['marker'], 'finally')
        start_response('200 OK', text)
        return gen()
    if path == '/system-exit':
        raise SystemExit('system-exit-msg')
    if path == '/non-bytes-first':
        start_response('200 OK', text)
        return ['not bytes']
    if path == '/non-bytes-midway':
        def gen():
            yield b'bytes-ok'
            yield 'not bytes'
        start_response('200 OK', text)
        return gen()
    if path == '/no-start-response':
        return [b'oops']
    if path == '/content-length-exact':
        start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '10')])
        return [b'exactly10!']
    if path == '/interim-status':
        start_response('103 Early Hints', [('Link', '</style.css>; rel=preload')])
        return [b'']
    if path == '/complete-then-sleep':
        # The whole declared body, then the generator keeps its thread for 2 s before it ends.
        def gen():
            yield b'complete'
            time.sleep(2)
        start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '8')])
        return gen()
    if path == '/complete-then-raise':
        def gen():
            yield b'complete'
            raise RuntimeError('complete-then-raise-boom')
        start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '8')])
        return gen()
    if path == '/content-length-twice':
        start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '3'), ('Content-Length', '10')])
        return [b'exactly10!']
    if path == '/content-length-over':
        start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '5')])
        return [b'this-', b'is-too-long']
    if path == '/content-length-generator':
        def gen():
            yield b'hello '
            yield b'world'
        start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '11')])
        return gen()
    if path == '/content-length-generator-over':
        def gen():
            yield b'hello'
            yield b'-extra'
        start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '5')])
        return gen()
    if path == '/content-length-stream':
        # The first piece does not complete the declared body: it must reach the client before
        # the generator goes on.
        def gen():
            yield b'first-'
            time.sleep(0.6)
            yield b'second'
        start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '12')])
        return gen()
    if path == '/content-length-short':
        start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '100')])
        return [b'only-this']
    if path == '/content-length-bad':
        start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', 'ten')])
        return [b'x']
    if path == '/write':
        write = start_response('200 OK', text)
        write(b'written-')
        return [b'returned']
    if path == '/write-bad-type':
        write = start_response('200 OK', text)
        try:
            write('str')
        except TypeError as exc:
            return [str(exc).encode()]
        return [b'no error']
    if path == '/start-response-twice':
        start_response('200 OK', text)
        start_response('201 Created', text)
        return [b'second wins']
    if path == '/start-response-after-output':
        write = start_response('200 OK', text)
        write(b'first')
        try:
            start_response('500 Oops', text)
        except RuntimeError as exc:
            mark(query['marker'], str(exc))
        return [b'-second']
    if path == '/exc-info-before-output':
        start_response('200 OK', text)
        try:
            raise ValueError('handled')
        except ValueError:
            start_response('500 Handled Error', text, sys.exc_info())
        return [b'replaced']
    if path == '/exc-info-after-output':
        write = start_response('200 OK', text)
        write(b'partial')
        try:
            raise ValueError('reraised-after-output')
        except ValueError:
            start_response('500 Handled Error', text, sys.exc_info())
        return [b'never']
    if path == '/validate':
        # start_response's checks, with mod_wsgi's messages: the app reports what it was told.
        cases = {
            'status-int': (200, []),
            'status-short': ('20 OK', []),
            'status-four': ('2000 OK', []),
            'status-nospace': ('200OK', []),
            'status-control': ('200 O\x01K', []),
            'status-nonlatin': ('200 \u20ac', []),
            'headers-tuple': ('200 OK', ()),
            'header-not-tuple': ('200 OK', [['A', 'b']]),
            'header-length': ('200 OK', [('A', 'b', 'c')]),
            'name-not-str': ('200 OK', [(b'A', 'b')]),
            'name-empty': ('200 OK', [('', 'b')]),
            'name-space': ('200 OK', [('A B', 'c')]),
            'name-control': ('200 OK', [('A\x01', 'c')]),
            'name-separator': ('200 OK', [('A:B', 'c')]),
            'value-crlf': ('200 OK', [('A', 'b\r\nX: y')]),
            'value-control': ('200 OK', [('A', 'b\x00c')]),
            'value-nonlatin': ('200 OK', [('A', '\u20ac')]),
            'value-not-str': ('200 OK', [('A', 1)]),
        }
        status, headers = cases[query['case']]
        try:
            start_response(status, headers)
        except Exception as exc:
            body = ('%s: %s' % (type(exc).__name__, exc)).encode('utf-8')
            start_response('200 OK', text)
            return [body]
        return [b'accepted']
    if path == '/download':
        size = int(query['size'])
        start_response('200 OK', [('Content-Type', 'application/octet-stream'), ('Content-Length', str(size))])
        return pattern(size, int(query.get('piece', 65536)))
    if path == '/download-chunked':
        size = int(query['size'])
        start_response('200 OK', [('Content-Type', 'application/octet-stream')])
        return pattern(size, int(query.get('piece', 65536)))
    if path == '/download-then-crash':
        # `size` bytes of the pattern, then the process dies mid-response.
        size = int(query['size'])
        start_response('200 OK', [('Content-Type', 'application/octet-stream')])

        def gen():
            for block in pattern(size, int(query.get('piece', 65536))):
                yield block
            os._exit(3)
        return gen()
    if path == '/file-wrapper':
        f = open(query['path'], 'rb')
        if 'seek' in query:
            f.seek(int(query['seek']))
        headers = [('Content-Type', 'application/octet-stream')]
        if 'length' in query:
            headers.append(('Content-Length', query['length']))
        start_response('200 OK', headers)
        return environ['wsgi.file_wrapper'](f, 8192)
    if path == '/file-wrapper-bytesio':
        import io
        start_response('200 OK', [('Content-Type', 'application/octet-stream')])
        return environ['wsgi.file_wrapper'](io.BytesIO(b'from-memory-' * 1000), 4096)
    if path == '/big-single':
        size = int(query['size'])
        start_response('200 OK', [('Content-Type', 'application/octet-stream')])
        return [b'x' * size]
    if path == '/method':
        start_response('200 OK', text + [('X-Method', environ['REQUEST_METHOD'])])
        return [environ['REQUEST_METHOD'].encode()]
    if path == '/print':
        print('printed-line-one')
        print('printed-partial', end='')
        environ['wsgi.errors'].write('errors-line\n')
        environ['wsgi.errors'].write('errors-partial')
        start_response('200 OK', text)
        return [b'printed']
    if path == '/slow-stream':
        # Streams with write() until the client goes away; records what write() raised and that
        # close() ran.
        write = start_response('200 OK', text)

        def stream():
            try:
                for i in range(400):
                    write(b'tick %d\n' % i)
                    time.sleep(0.025)
                mark(query['marker'] + '.write', 'never failed')
            except OSError as exc:
                mark(query['marker'] + '.write', '%s: %s' % (type(exc).__name__, exc))
            return [b'end']
        return ClosingIterable(stream(), query['marker'] + '.close')
    if path == '/slow-iter':
        def gen():
            try:
                for i in range(400):
                    yield b'tick %d\n' % i
                    time.sleep(0.025)
            finally:
                mark(query['marker'], 'generator closed')
        start_response('200 OK', text)
        return gen()
    if path == '/pid':
        start_response('200 OK', text)
        return [str(os.getpid()).encode()]
    start_response('404 Not Found', text)
    return [b'no such test route: ' + path.encode('latin-1')]
