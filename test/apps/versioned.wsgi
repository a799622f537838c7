import os

VERSION = 'one'


def application(environ, start_response):
    body = ('%s %d' % (VERSION, os.getpid())).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]


def reload_required(path):
    return os.path.exists(path + '.reload')
