"""Settings of the beta project: one of two Django projects served by one process group, each in
its own application group (sub-interpreter), as two mod_wsgi sites would be."""
SECRET_KEY = 'wsgi-host-tests-only-beta'
DEBUG = False
ALLOWED_HOSTS = ['*']
INSTALLED_APPS = []
MIDDLEWARE = ['django.middleware.common.CommonMiddleware']
ROOT_URLCONF = 'beta.urls'
DATABASES = {}
USE_TZ = True
SITE_TITLE = 'Beta site'
