"""Settings of the alpha project: one of two Django projects served by one process group, each in
its own application group (sub-interpreter), as two mod_wsgi sites would be."""
SECRET_KEY = 'wsgi-host-tests-only-alpha'
DEBUG = False
ALLOWED_HOSTS = ['*']
INSTALLED_APPS = []
MIDDLEWARE = ['django.middleware.common.CommonMiddleware']
ROOT_URLCONF = 'alpha.urls'
DATABASES = {}
USE_TZ = True
SITE_TITLE = 'Alpha site'
