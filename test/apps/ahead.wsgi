"""For the tests of requests sent ahead to busy threads (test/groups/send-ahead.test.ts).

/echo?n=X answers "X PID VERSION"; /seq?n=X answers "X K", K counting the process's /seq requests from 1; /post?n=X answers "X SHA256-OF-THE-BODY"; /big?n=X answers BIG_SIZE bytes derived from X (two pieces of the
shared region); /sleep?ms=X sleeps first; /crash?ms=X sleeps, then ends the process; /mark?file=PATH creates the
file PATH (so a test can tell whether the application ran).
"""
import hashlib
import os
import time

VERSION = 'one'
_seq = [0]
BIG_SIZE = 1536 * 1024


def big_body(n):
    seed = ('%s|' % n).encode('ascii')
    block = (seed * (4096 // len(seed) + 1))[:4096]
    return block * (BIG_SIZE // 4096)


def application(environ, start_response):
    path = environ['PATH_INFO']
    query = dict(part.split('=', 1) for part in environ.get('QUERY_STRING', '').split('&') if '=' in part)
    n = query.get('n', '')
    if path == '/big':
        body = big_body(n)
    elif path == '/mark':
        from urllib.parse import unquote
        with open(unquote(query['file']), 'w') as marker:
            marker.write('ran')
        body = b'marked'
    elif path == '/seq':
        _seq[0] += 1
        body = ('%s %d' % (n, _seq[0])).encode('ascii')
    elif path == '/post':
        length = int(environ.get('CONTENT_LENGTH') or 0)
        body = ('%s %s' % (n, hashlib.sha256(environ['wsgi.input'].read(length)).hexdigest())).encode('ascii')
    else:
        if path in ('/sleep', '/crash'):
            time.sleep(float(query.get('ms', '0')) / 1000)
        if path == '/crash':
            os._exit(3)
        body = ('%s %d %s' % (n, os.getpid(), VERSION)).encode('ascii')
    start_response('200 OK', [('Content-Type', 'application/octet-stream'), ('Content-Length', str(len(body)))])
    return [body]
