import os
# Fails until the marker file exists: the test creates it to show the next request retries.
if not os.path.exists(os.environ.get('WSGI_TEST_IMPORT_OK', '/nonexistent')):
    raise ImportError('broken-import-marker')


def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'imported now']
