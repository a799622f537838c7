"""hello: the smallest WSGI response (12 bytes with Content-Length), so the numbers measure the
server's per-request overhead and nothing else."""

BODY = b'Hello world!'
HEADERS = [('Content-Type', 'text/plain'), ('Content-Length', str(len(BODY)))]


def application(environ, start_response):
    start_response('200 OK', HEADERS)
    return [BODY]
