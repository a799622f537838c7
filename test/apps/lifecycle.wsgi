"""Routes that crash, hang or report on the process, for the supervision tests."""
import os
import signal
import time
from urllib.parse import parse_qs

STARTED = time.time()


def application(environ, start_response):
    path = environ['PATH_INFO']
    query = dict((k, v[0]) for k, v in parse_qs(environ.get('QUERY_STRING', '')).items())
    if path == '/pid':
        body = str(os.getpid()).encode()
    elif path == '/sleep':
        time.sleep(float(query.get('seconds', '1')))
        body = ('%s slept %s' % (query.get('tag', ''), query.get('seconds', '1'))).encode()
    elif path == '/kill':
        os.kill(os.getpid(), getattr(signal, query.get('signal', 'SIGKILL')))
        time.sleep(5)
        body = b'not reached'
    elif path == '/exit':
        os._exit(int(query.get('code', '3')))
    elif path == '/kill-after-headers':
        write = start_response('200 OK', [('Content-Type', 'text/plain')])
        write(b'partial ')
        time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(5)
        return [b'not reached']
    elif path == '/order':
        time.sleep(float(query.get('seconds', '0.2')))
        body = query.get('tag', '').encode()
    else:
        body = b'lifecycle app'
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
