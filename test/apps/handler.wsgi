"""A WSGIHandlerScript: handle_request() serves whatever file the URL names."""


def handle_request(environ, start_response):
    with open(environ['SCRIPT_FILENAME'], 'rb') as f:
        data = f.read()
    body = b'handled ' + environ['SCRIPT_FILENAME'].rsplit('/', 1)[-1].encode() + b': ' + data
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [body]
