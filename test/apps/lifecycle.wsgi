"""Routes that crash, hang or report on the process, for the supervision tests."""
import os
import signal
import time
from urllib.parse import parse_qs

STARTED = time.time()
BALLAST = []


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
    elif path == '/allocate':
        # Keeps the memory: the process stays big until it is replaced.
        BALLAST.append(bytearray(int(query.get('mb', '100')) * 1024 * 1024))
        body = b'allocated'
    elif path == '/busy':
        # Pure Python work: an injected exception can interrupt it.
        deadline = time.time() + float(query.get('seconds', '5'))
        try:
            while time.time() < deadline:
                sum(range(1000))
        except BaseException as exc:
            open(os.path.join(os.environ.get('WSGI_TEST_MARKERS', '/tmp'), 'interrupted'), 'w').write(type(exc).__name__)
            raise
        body = b'finished'
    elif path == '/hold-gil':
        # A C call made without releasing the GIL: no Python thread runs meanwhile.
        import ctypes
        ctypes.PyDLL(None).sleep(int(query.get('seconds', '5')))
        body = b'held'
    elif path == '/order':
        time.sleep(float(query.get('seconds', '0.2')))
        body = query.get('tag', '').encode()
    else:
        body = b'lifecycle app'
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
