"""Reports what using sys.stdout, sys.stdin and signal.signal() does (WSGIRestrictStdout,
WSGIRestrictStdin, WSGIRestrictSignal)."""
import json
import os
import signal
import sys
import time


def on_signal(signum, frame):
    pass


def in_forked_child():
    """What signal.signal() does in a child this process forks: the child's signals are its own."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            got = []
            signal.signal(signal.SIGUSR2, lambda signum, frame: got.append(signum))
            os.kill(os.getpid(), signal.SIGUSR2)
            deadline = time.time() + 2
            while not got and time.time() < deadline:
                time.sleep(0.01)
            os.write(w, b'handled' if got else b'not handled')
        finally:
            os._exit(0)
    os.close(w)
    data = b''
    while True:
        piece = os.read(r, 100)
        if not piece:
            break
        data += piece
    os.close(r)
    _, status = os.waitpid(pid, 0)
    return '%s, exit %d' % (data.decode(), os.waitstatus_to_exitcode(status))


def application(environ, start_response):
    result = {}
    try:
        print('restrict-app printed a line')
        result['stdout'] = 'ok'
    except OSError as exc:
        result['stdout'] = '%s: %s' % (type(exc).__name__, exc)
    try:
        result['stdin'] = 'read %r' % sys.stdin.read()
    except OSError as exc:
        result['stdin'] = '%s: %s' % (type(exc).__name__, exc)
    try:
        returned = signal.signal(signal.SIGUSR2, on_signal)
        result['signal'] = 'registered' if signal.getsignal(signal.SIGUSR2) is on_signal else 'ignored'
        result['signal_returned'] = 'the handler given' if returned is on_signal else repr(returned)
    except ValueError as exc:
        result['signal'] = '%s: %s' % (type(exc).__name__, exc)
    result['forked'] = in_forked_child()
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [json.dumps(result).encode('utf-8')]
