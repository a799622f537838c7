#!/usr/bin/env python3
"""Django's command-line utility for the test site (the tests run `manage.py migrate` with it)."""
import os
import sys

if __name__ == '__main__':
    os.environ['DJANGO_SETTINGS_MODULE'] = 'testsite.settings'
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
