"""Answers with JSON of the request as the application received it: the request line, every
header key of the environ (HTTP_*, CONTENT_TYPE, CONTENT_LENGTH) and the whole body.

Used by test/http/gunicorn-corpus.test.ts. Each call first writes one marker line to
wsgi.errors, so a test can tell from the server's error log whether (and for which connection)
the application was called:

    echo_request called: remote_port=PORT method=... uri=...

Nothing here holds per-connection state, so pipelined requests on one keep-alive connection are
answered one after the other like any others. The JSON is ASCII only (str values are latin-1
characters, one per byte, escaped as \\u00XX), and the body is given both as latin-1 text and as
base64.
"""
import base64
import json

ECHOED_KEYS = ('REQUEST_METHOD', 'REQUEST_URI', 'PATH_INFO', 'QUERY_STRING', 'SERVER_PROTOCOL', 'SCRIPT_NAME',
               'SERVER_NAME', 'SERVER_PORT', 'REMOTE_PORT')


def application(environ, start_response):
    errors = environ['wsgi.errors']
    errors.write('echo_request called: remote_port=%s method=%r uri=%r\n'
                 % (environ.get('REMOTE_PORT'), environ.get('REQUEST_METHOD'), environ.get('REQUEST_URI')))
    errors.flush()

    stream = environ['wsgi.input']
    chunks = []
    while True:
        chunk = stream.read()
        if not chunk:
            break
        chunks.append(chunk)
    body = b''.join(chunks)

    result = dict((key, environ.get(key)) for key in ECHOED_KEYS)
    result['headers'] = dict(
        (key, value) for key, value in environ.items()
        if key.startswith('HTTP_') or key in ('CONTENT_TYPE', 'CONTENT_LENGTH'))
    result['body_latin1'] = body.decode('latin-1')
    result['body_base64'] = base64.b64encode(body).decode('ascii')

    data = json.dumps(result, ensure_ascii=True, sort_keys=True).encode('ascii')
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(data)))])
    return [data]
