"""Reports what using sys.stdout and sys.stdin does (WSGIRestrictStdout/WSGIRestrictStdin)."""
import json
import sys


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
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [json.dumps(result).encode('utf-8')]
