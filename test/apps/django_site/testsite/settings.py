"""Settings of the hand-written Django test site (test/frameworks/django.test.ts)."""
import os
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = 'wsgi-host-tests-only-not-a-secret'
DEBUG = False
ALLOWED_HOSTS = ['127.0.0.1', 'localhost', 'example.test']

INSTALLED_APPS = [
    'notes',
]

MIDDLEWARE = [
    'django.middleware.security.SecurityMiddleware',
    'django.middleware.common.CommonMiddleware',
    'django.middleware.csrf.CsrfViewMiddleware',
    'django.middleware.clickjacking.XFrameOptionsMiddleware',
]

ROOT_URLCONF = 'testsite.urls'

TEMPLATES = [
    {
        'BACKEND': 'django.template.backends.django.DjangoTemplates',
        'DIRS': [BASE_DIR / 'templates'],
        'APP_DIRS': False,
        'OPTIONS': {
            'context_processors': ['django.template.context_processors.request'],
        },
    },
]

# The SQLite database lives where the test says (a temporary directory), so that runs do not
# share state; manage.py migrate creates it before the server starts.
DATABASES = {
    'default': {
        'ENGINE': 'django.db.backends.sqlite3',
        'NAME': os.environ.get('DJANGO_SITE_DB') or os.path.join(tempfile.gettempdir(), 'wsgi-host-django-site.sqlite3'),
        'OPTIONS': {'timeout': 20},
    },
}
DEFAULT_AUTO_FIELD = 'django.db.models.BigAutoField'

USE_TZ = True
TIME_ZONE = 'UTC'
USE_I18N = False

# Uploads above 1 MiB go to a temporary file (TemporaryFileUploadHandler), smaller ones stay in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# With DEBUG off, Django's default logging sends request errors only to mail_admins; production
# sites under mod_wsgi log them to stderr, which goes to the Apache error log.
LOGGING = {
    'version': 1,
    'disable_existing_loggers': False,
    'formatters': {
        'plain': {'format': '%(levelname)s %(name)s: %(message)s'},
    },
    'handlers': {
        'stderr': {'class': 'logging.StreamHandler', 'level': 'ERROR', 'formatter': 'plain'},
    },
    'loggers': {
        'django.request': {'handlers': ['stderr'], 'level': 'ERROR', 'propagate': False},
    },
}
