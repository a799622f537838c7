import hashlib
import os

VERSION = 'one'


def application(environ, start_response):
    # The SHA-256 of the request body shows a request run again after a reload got its body whole.
    length = int(environ.get('CONTENT_LENGTH') or 0)
    digest = hashlib.sha256(environ['wsgi.input'].read(length) if length else b'').hexdigest()
    body = ('%s %d %s' % (VERSION, os.getpid(), digest)).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]


def reload_required(path):
    return os.path.exists(path + '.reload')
