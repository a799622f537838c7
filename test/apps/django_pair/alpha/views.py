import os
import sys

from django.conf import settings
from django.http import JsonResponse
from django.urls import reverse


def whoami(request):
    return JsonResponse({
        'settings_module': settings.SETTINGS_MODULE,
        'title': settings.SITE_TITLE,
        'url': reverse('whoami'),
        'pid': os.getpid(),
        'interpreter': id(sys.modules),
    })
