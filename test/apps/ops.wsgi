"""Routes for the operations tests: request ids, logging, slow requests, errors."""
import os
import sys
import time
from urllib.parse import parse_qs


def application(environ, start_response):
    path = environ['PATH_INFO']
    query = dict((k, v[0]) for k, v in parse_qs(environ.get('QUERY_STRING', '')).items())
    status = '200 OK'
    if path == '/id':
        body = environ['mod_wsgi.request_id']
    elif path == '/log':
        # One line through wsgi.errors and one through print(): both belong to this request.
        environ['wsgi.errors'].write('ops-log-line %s\n' % query.get('tag', ''))
        print('ops-print-line %s' % query.get('tag', ''))
        body = environ['mod_wsgi.request_id']
    elif path == '/sleep':
        time.sleep(float(query.get('seconds', '1')))
        body = 'slept %s' % query.get('seconds', '1')
    elif path == '/status':
        code = int(query.get('code', '200'))
        status = '%d %s' % (code, 'Status')
        body = 'status %d' % code
    elif path == '/pid':
        body = str(os.getpid())
    elif path == '/upload':
        data = environ['wsgi.input'].read()
        body = 'read %d' % len(data)
    else:
        body = 'ops app %s' % environ.get('mod_wsgi.process_group', '')
    data = body.encode('utf-8')
    start_response(status, [('Content-Type', 'text/plain; charset=utf-8'), ('Content-Length', str(len(data)))])
    return [data]
