"""Large responses whose every megabyte differs, so a piece overwritten by a later one shows.

GET /?mib=N&seed=S[&tail=B][&chunked=1][&pause=MS]: N pieces of 1 MiB, then B more bytes; piece
k holds byte (i + 7 * k + S) % 251 at position i. With chunked=1 no Content-Length is sent; with
pause, the application waits MS milliseconds before each piece after the first; with read=K it
reads the request body after K pieces.
"""
import time
from urllib.parse import parse_qs

MIB = 1024 * 1024
BASE = bytes(range(251)) * (MIB // 251 + 2)


def piece(k, seed, length=MIB):
    start = (7 * k + seed) % 251
    return BASE[start:start + length]


def application(environ, start_response):
    query = parse_qs(environ.get('QUERY_STRING', ''))
    mib = int(query.get('mib', ['1'])[0])
    seed = int(query.get('seed', ['0'])[0])
    tail = int(query.get('tail', ['0'])[0])
    pause = int(query.get('pause', ['0'])[0]) / 1000.0
    read_after = int(query.get('read', ['0'])[0])
    headers = [('Content-Type', 'application/octet-stream')]
    if query.get('chunked') != ['1']:
        headers.append(('Content-Length', str(mib * MIB + tail)))
    start_response('200 OK', headers)
    for k in range(mib):
        if k and pause:
            time.sleep(pause)
        yield piece(k, seed)
        if k + 1 == read_after:
            environ['wsgi.input'].read()
    if tail:
        yield piece(mib, seed, tail)
