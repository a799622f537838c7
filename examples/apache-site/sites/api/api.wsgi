"""The api site: JSON from a package on the group's python-path."""
import json
import os

import inventory


def application(environ, start_response):
    path = environ['PATH_INFO'].strip('/')
    if path == 'items':
        data = {'items': inventory.ITEMS}
    elif path == 'whoami':
        data = {'pid': os.getpid(), 'group': environ['mod_wsgi.process_group'],
                'authorization': environ.get('HTTP_AUTHORIZATION'), 'script_name': environ['SCRIPT_NAME']}
    else:
        body = b'{"error": "not found"}'
        start_response('404 Not Found', [('Content-Type', 'application/json')])
        return [body]
    print('api served', path)
    body = json.dumps(data).encode('utf-8')
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]
