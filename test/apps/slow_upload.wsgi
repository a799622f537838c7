"""Reads the whole request body, then takes `ms` milliseconds (query string, default 20) to
answer with its length and SHA-256: a thread slower than its clients, so bodies queue up."""
import hashlib
import json
import time
from urllib.parse import parse_qs


def application(environ, start_response):
    body = environ['wsgi.input'].read()
    delay = int(parse_qs(environ.get('QUERY_STRING', '')).get('ms', ['20'])[0])
    time.sleep(delay / 1000.0)
    reply = json.dumps({'length': len(body), 'sha256': hashlib.sha256(body).hexdigest()}).encode('ascii')
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(reply)))])
    return [reply]
