import os
import time
# Hangs at import (as one waiting on a lock or an unreachable service would) until the marker file
# exists: startup-timeout must cure it without the load ever returning.
while not os.path.exists(os.environ.get('WSGI_TEST_IMPORT_OK', '/nonexistent')):
    time.sleep(0.05)


def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'imported now']
