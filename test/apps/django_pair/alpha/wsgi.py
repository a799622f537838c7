"""WSGI entry script of the alpha project. DJANGO_SETTINGS_MODULE is assigned, not setdefault()ed:
os.environ is the process's, and another project in the same process may have set it already
(mod_wsgi's documented pitfall)."""
import os

os.environ['DJANGO_SETTINGS_MODULE'] = 'alpha.settings'

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
