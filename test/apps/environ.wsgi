"""Answers with the request's environ as JSON (str values as they are, other values by type)."""
import json
import os
import sys
import threading
from wsgiref.validate import validator


def describe(value):
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    if isinstance(value, tuple):
        return {'tuple': [describe(v) for v in value]}
    return {'type': type(value).__name__}


def environ_app(environ, start_response):
    data = dict((k, describe(v)) for k, v in environ.items())
    data['__types__'] = dict((k, type(v).__name__) for k, v in environ.items())
    data['__pid__'] = os.getpid()
    data['__module__'] = __name__
    data['__file__'] = __file__
    data['__mtime__'] = globals().get('__mtime__')
    data['__argv__'] = sys.argv
    data['__path__'] = sys.path
    data['__cwd__'] = os.getcwd()
    data['__thread__'] = threading.current_thread().name
    body = json.dumps(data).encode('utf-8')
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(body)))])
    return [body]


application = validator(environ_app)
