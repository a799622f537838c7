"""WSGI entry script of the test site, as `WSGIScriptAlias /site .../testsite/wsgi.py` with
`python-path=.../django_site` would load it.

DJANGO_SETTINGS_MODULE is assigned, not setdefault()ed: several sites may share a daemon
process's environment under mod_wsgi, and the test runner's own environment must not leak in.
"""
import os

os.environ['DJANGO_SETTINGS_MODULE'] = 'testsite.settings'

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
