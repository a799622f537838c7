"""upload: reads a 1 MiB POST body and returns its SHA-256 (hex), so the numbers measure how fast
the server moves request bytes to the application. It reads in 64 KiB pieces up to
CONTENT_LENGTH, as frameworks do (werkzeug, Django), rather than in one read()."""

import hashlib

CHUNK = 64 * 1024


def application(environ, start_response):
    remaining = int(environ.get('CONTENT_LENGTH') or 0)
    stream = environ['wsgi.input']
    digest = hashlib.sha256()
    while remaining > 0:
        data = stream.read(min(CHUNK, remaining))
        if not data:
            break
        digest.update(data)
        remaining -= len(data)
    if remaining:
        body = ('short body: %d bytes missing\n' % remaining).encode()
        start_response('400 Bad Request', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
        return [body]
    body = digest.hexdigest().encode()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
