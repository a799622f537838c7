"""io: a request that waits 50 ms (standing in for a database or HTTP call) and then returns a
small body. The GIL is released while sleeping, so throughput is bound by the number of request
threads (processes x threads / 50 ms), which shows how well a server keeps its threads busy.

(Named slow_io, not io: gunicorn imports apps as modules and `io` would shadow the stdlib.)"""

import time

BODY = b'slept 50 ms\n'
HEADERS = [('Content-Type', 'text/plain'), ('Content-Length', str(len(BODY)))]


def application(environ, start_response):
    time.sleep(0.05)
    start_response('200 OK', HEADERS)
    return [BODY]
