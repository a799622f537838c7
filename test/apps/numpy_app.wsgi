"""Uses numpy, a C extension: Debian's numpy (1.24) loads into one interpreter per process only,
so a second interpreter's import fails, the classic reason for WSGIApplicationGroup %{GLOBAL}."""
import json
import os
import sys

import numpy


def application(environ, start_response):
    body = json.dumps({
        'sum': int(numpy.arange(10).sum()),
        'numpy': numpy.__version__,
        'pid': os.getpid(),
        'interpreter': id(sys.modules),
    }).encode('utf-8')
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(body)))])
    return [body]
