"""Reports which interpreter serves it and keeps state in module globals, for the application
group tests: two mounts of this script in different application groups must not share anything
but the process."""
import json
import os
import sys
import threading
import time
from urllib.parse import parse_qs

import mod_wsgi

LOADED_AT = time.time()
REQUESTS = 0
VALUE = None


def application(environ, start_response):
    global REQUESTS, VALUE
    REQUESTS += 1
    path = environ['PATH_INFO']
    query = dict((k, v[0]) for k, v in parse_qs(environ.get('QUERY_STRING', '')).items())
    markers = os.environ.get('WSGI_TEST_MARKERS', '/tmp')
    if path == '/set':
        # A module global, and an attribute on a module every interpreter has (sys).
        VALUE = query['value']
        sys.wsgi_host_test_value = query['value']
    elif path == '/hold':
        # Holds its thread until the test releases it: marks itself started first.
        name = query['name']
        open(os.path.join(markers, name + '.started'), 'w').close()
        deadline = time.time() + 30
        while not os.path.exists(os.path.join(markers, name + '.release')) and time.time() < deadline:
            time.sleep(0.02)
    elif path == '/sleep':
        time.sleep(float(query.get('seconds', '1')))
    elif path == '/busy':
        deadline = time.time() + float(query.get('seconds', '5'))
        try:
            while time.time() < deadline:
                sum(range(1000))
        except BaseException as exc:
            with open(os.path.join(markers, 'interrupted'), 'w') as f:
                f.write('%s %s' % (type(exc).__name__, mod_wsgi.application_group))
            raise
    body = json.dumps({
        'pid': os.getpid(),
        'interpreter': id(sys.modules),
        'application_group': environ['mod_wsgi.application_group'],
        'module_application_group': mod_wsgi.application_group,
        'value': VALUE,
        'sys_value': getattr(sys, 'wsgi_host_test_value', None),
        'requests': REQUESTS,
        'loaded_at': LOADED_AT,
        'thread': threading.current_thread().name,
    }).encode('utf-8')
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(body)))])
    return [body]
