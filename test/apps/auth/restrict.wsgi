"""Reports what using sys.stdout, sys.stdin and signal.signal() does (WSGIRestrictStdout,
WSGIRestrictStdin, WSGIRestrictSignal)."""
import json
import signal
import sys


def on_signal(signum, frame):
    pass


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
        signal.signal(signal.SIGUSR2, on_signal)
        result['signal'] = 'registered' if signal.getsignal(signal.SIGUSR2) is on_signal else 'ignored'
    except ValueError as exc:
        result['signal'] = '%s: %s' % (type(exc).__name__, exc)
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [json.dumps(result).encode('utf-8')]
