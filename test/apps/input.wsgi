"""Reads wsgi.input in the way the query string asks and reports what it got."""
import hashlib
import json
import resource
from wsgiref.validate import validator
from urllib.parse import parse_qs


def summary(data):
    return {'length': len(data), 'sha256': hashlib.sha256(data).hexdigest(), 'text': data[:200].decode('latin-1')}


def input_app(environ, start_response):
    query = parse_qs(environ.get('QUERY_STRING', ''))
    mode = query.get('mode', ['read'])[0]
    stream = environ['wsgi.input']
    result = {'mode': mode}
    if mode == 'read':
        # The validator insists on read(size); read everything in one call through the raw object.
        data = environ['wsgi.input'].input.read() if hasattr(stream, 'input') else stream.read()
        result.update(summary(data))
        result['after'] = len(stream.read(10))
    elif mode == 'readn':
        n = int(query.get('n', ['7'])[0])
        parts = []
        while True:
            part = stream.read(n)
            if not part:
                break
            parts.append(len(part))
        result['parts'] = parts
    elif mode == 'readline':
        size = int(query.get('size', ['-1'])[0])
        lines = []
        while True:
            line = stream.readline(size) if size >= 0 else stream.readline()
            if not line:
                break
            lines.append(line.decode('latin-1'))
        result['lines'] = lines
    elif mode == 'readlines':
        result['lines'] = [l.decode('latin-1') for l in stream.readlines()]
    elif mode == 'iter':
        result['lines'] = [l.decode('latin-1') for l in stream]
    elif mode == 'hash':
        # Streams a large body in blocks, never holding it whole.
        digest = hashlib.sha256()
        total = 0
        n = int(query.get('n', ['65536'])[0])
        while True:
            block = stream.read(n)
            if not block:
                break
            digest.update(block)
            total += len(block)
        result['length'] = total
        result['sha256'] = digest.hexdigest()
        result['maxrss_kb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    elif mode == 'hashlines':
        # readline(size) across the body's pieces: hash of all lines, and how many ended in a newline.
        size = int(query.get('size', ['-1'])[0])
        digest = hashlib.sha256()
        total = 0
        newlines = 0
        while True:
            line = stream.readline(size)
            if not line:
                break
            assert b'\n' not in line[:-1], 'a line holds a newline before its end'
            assert size < 0 or len(line) <= size, 'a line is longer than readline(size) allows'
            newlines += line.endswith(b'\n')
            digest.update(line)
            total += len(line)
        result['length'] = total
        result['sha256'] = digest.hexdigest()
        result['newlines'] = newlines
    elif mode == 'part':
        result['read'] = len(stream.read(int(query.get('n', ['7'])[0])))
    elif mode == 'ignore':
        result['ignored'] = True
    result['content_length'] = environ.get('CONTENT_LENGTH')
    result['input_terminated'] = environ.get('wsgi.input_terminated')
    body = json.dumps(result).encode('utf-8')
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(body)))])
    return [body]


application = validator(input_app)
