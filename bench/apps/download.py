"""download: a 1 MiB response in one piece with Content-Length, so the numbers measure how fast
the server moves bytes from the application to the client. The body is built once at import so
the application itself costs nothing per request."""

# bytes 0..255 repeated: 1 MiB exactly (bench/workloads.ts builds the same bytes to check it).
BODY = bytes(range(256)) * 4096
HEADERS = [('Content-Type', 'application/octet-stream'), ('Content-Length', str(len(BODY)))]


def application(environ, start_response):
    start_response('200 OK', HEADERS)
    return [BODY]
