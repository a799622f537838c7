"""For the hardening tests: who the process runs as, the scheme the request came with, and the
request body, optionally read only after a pause (?sleep=SECONDS)."""
import json
import os
import sys
import time
from urllib.parse import parse_qs


def application(environ, start_response):
    query = parse_qs(environ.get('QUERY_STRING', ''))
    sys.stderr.write('hardening called: uri=%r\n' % environ.get('REQUEST_URI'))
    sys.stderr.flush()
    sleep = float(query.get('sleep', ['0'])[0])
    if sleep:
        time.sleep(sleep)
    body = environ['wsgi.input'].read()
    result = {
        'uid': os.getuid(),
        'euid': os.geteuid(),
        'gid': os.getgid(),
        'groups': sorted(os.getgroups()),
        'home': os.environ.get('HOME'),
        'user': os.environ.get('USER'),
        'body_length': len(body),
        'environ': dict((k, v) for k, v in environ.items() if isinstance(v, str)),
    }
    data = json.dumps(result).encode('utf-8')
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(data)))])
    return [data]
