"""A package found through WSGIDaemonProcess python-path=."""

ITEMS = {'apples': 3, 'pears': 5}
