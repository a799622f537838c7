"""The Python side of wsgi-host: the worker runtime that hosts WSGI applications.

Standard library only, and compatible with CPython 3.9 and later, because it runs inside whatever
interpreter or virtualenv the user points a process group at.
"""

__version__ = '0.1.0'

# The mod_wsgi release whose behaviour this runtime follows, for applications that check
# environ['mod_wsgi.version'] or mod_wsgi.version.
MOD_WSGI_VERSION = (6, 0, 5)
# environ['apache.version']: the Apache whose behaviour wsgi-host follows (checked against 2.4.71),
# for applications that test it as they would under mod_wsgi.
APACHE_VERSION = (2, 4, 71)
