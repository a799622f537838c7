"""file: a 1 MiB file sent with wsgi.file_wrapper and a Content-Length, as an application serving
downloads from disk does; servers that can send it with sendfile(2) do (wsgi-host and Apache
with WSGIEnableSendfile On, gunicorn and uWSGI by default). The file holds the same bytes as
download's body (bench/workloads.ts checks them), next to this script."""

import os

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'file_download.bin')
CONTENT = bytes(range(256)) * 4096


def _ensure_file():
    """Writes the file unless it is there already; through a temporary name and a rename, so
    processes starting together never see a part of it."""
    try:
        if os.path.getsize(PATH) == len(CONTENT):
            return
    except OSError:
        pass
    temporary = '%s.%d' % (PATH, os.getpid())
    with open(temporary, 'wb') as f:
        f.write(CONTENT)
    os.replace(temporary, PATH)


_ensure_file()
HEADERS = [('Content-Type', 'application/octet-stream'), ('Content-Length', str(len(CONTENT)))]


def application(environ, start_response):
    f = open(PATH, 'rb')
    start_response('200 OK', HEADERS)
    return environ['wsgi.file_wrapper'](f, 1024 * 1024)
