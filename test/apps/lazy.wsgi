"""Records its import in a file, to show when (and in which process) it is loaded."""
import os
import time

with open(os.path.join(os.environ['WSGI_TEST_MARKERS'], 'imported-%d' % os.getpid()), 'w') as f:
    f.write(str(time.time()))


def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [str(os.getpid()).encode()]
