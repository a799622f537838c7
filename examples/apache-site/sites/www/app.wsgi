"""The www site: a small WSGI application. Its stylesheet is served as a static file."""
import os

PAGE = '''<!DOCTYPE html>
<html><head><title>Example</title><link rel="stylesheet" href="/static/style.css"></head>
<body><h1>Hello from {name}</h1><p>Served by process {pid} of group '{group}'.</p></body></html>
'''


def application(environ, start_response):
    environ['wsgi.errors'].write('www served %s\n' % environ['PATH_INFO'])
    body = PAGE.format(name=environ['SERVER_NAME'], pid=os.getpid(),
                       group=environ['mod_wsgi.process_group']).encode('utf-8')
    start_response('200 OK', [('Content-Type', 'text/html; charset=utf-8'),
                              ('Content-Length', str(len(body)))])
    return [body]
