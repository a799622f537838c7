"""The page wsgi-host serves when it is started with no application: proof that the server, a
Python worker process and the WSGI plumbing all work."""

import html
import os
import sys

PAGE = '''<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>wsgi-host is running</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 44rem; margin: 3rem auto; padding: 0 1rem; color: #222; }}
h1 {{ font-size: 1.6rem; }}
code, pre {{ background: #f3f3f3; padding: .1rem .3rem; border-radius: 3px; }}
pre {{ padding: .8rem; overflow-x: auto; }}
td {{ padding: .2rem .8rem .2rem 0; vertical-align: top; }}
</style>
</head>
<body>
<h1>wsgi-host is running</h1>
<p>This page is served by a Python worker process of the process group
<code>{group}</code>. To serve your own application, give its WSGI script:</p>
<pre>wsgi-host start-server path/to/app.wsgi</pre>
<table>
<tr><td>Python</td><td>{python}</td></tr>
<tr><td>Executable</td><td>{executable}</td></tr>
<tr><td>Worker process</td><td>pid {pid}, thread {thread}</td></tr>
<tr><td>Request</td><td>{method} {uri}</td></tr>
</table>
</body>
</html>
'''


def application(environ, start_response):
    body = PAGE.format(
        group=html.escape(environ.get('mod_wsgi.process_group', '')),
        python=html.escape(sys.version.split()[0]),
        executable=html.escape(sys.executable or '?'),
        pid=os.getpid(),
        thread=environ.get('mod_wsgi.thread_id', '?'),
        method=html.escape(environ['REQUEST_METHOD']),
        uri=html.escape(environ.get('REQUEST_URI', '')),
    ).encode('utf-8')
    start_response('200 OK', [('Content-Type', 'text/html; charset=utf-8'),
                              ('Content-Length', str(len(body)))])
    return [body]
