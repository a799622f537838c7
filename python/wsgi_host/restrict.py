"""WSGIRestrictStdout and WSGIRestrictStdin: sys.stdout and sys.stdin replaced by objects that
refuse every use with mod_wsgi's message, so code that prints or reads a terminal fails loudly
instead of writing to the log (sys.stdout) or reading nothing (sys.stdin)."""

import atexit
import sys


class Restricted(object):
    """Any attribute access raises OSError('sys.stdout access restricted by mod_wsgi')."""

    __slots__ = ('_name',)

    def __init__(self, name):
        object.__setattr__(self, '_name', name)

    def __getattribute__(self, attribute):
        raise OSError('%s access restricted by mod_wsgi' % object.__getattribute__(self, '_name'))

    def __setattr__(self, attribute, value):
        raise OSError('%s access restricted by mod_wsgi' % object.__getattribute__(self, '_name'))

    def __repr__(self):
        return '<mod_wsgi.Restricted %s>' % object.__getattribute__(self, '_name')


def restrict_standard_streams(config):
    """Applies WSGIRestrictStdout/WSGIRestrictStdin (mod_wsgi's defaults: both Off)."""
    restricted = False
    if config.get('restrictStdout'):
        sys.stdout = Restricted('sys.stdout')
        restricted = True
    if config.get('restrictStdin'):
        sys.stdin = Restricted('sys.stdin')
        restricted = True
    if restricted:
        # At exit the interpreter flushes sys.stdout; give it back a real stream so that does
        # not report the restriction as an error.
        atexit.register(_unrestrict)


def _unrestrict():
    if type(sys.stdout) is Restricted:
        sys.stdout = sys.__stdout__
    if type(sys.stdin) is Restricted:
        sys.stdin = sys.__stdin__
