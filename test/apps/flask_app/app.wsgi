# mod_wsgi-style entry script for the Flask test application.
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
if here not in sys.path:
    sys.path.insert(0, here)

from app import app as application  # noqa: E402
