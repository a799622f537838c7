"""Takes a while to import, like a big application: a restart that waits for it shows."""
import os
import time

time.sleep(float(os.environ.get('WSGI_TEST_IMPORT_SECONDS', '1')))
IMPORTED_AT = time.time()


def application(environ, start_response):
    body = ('%d %f' % (os.getpid(), IMPORTED_AT)).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
