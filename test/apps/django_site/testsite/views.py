import hashlib
import os
import threading

from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST


def index(request):
    return HttpResponse('django index', content_type='text/plain; charset=utf-8')


@require_GET
def item(request, item_id, slug):
    return JsonResponse({
        'item_id': item_id,
        'item_id_type': type(item_id).__name__,
        'slug': slug,
        'self': reverse('item', args=[item_id, slug]),
    })


def search(request):
    return JsonResponse({
        'q': request.GET.get('q'),
        'tags': request.GET.getlist('tag'),
        'missing': request.GET.get('missing', 'default'),
        'method': request.method,
        'pid': os.getpid(),
        'thread': threading.get_ident(),
    })


@csrf_exempt
@require_POST
def form_post(request):
    return JsonResponse({
        'name': request.POST.get('name'),
        'colors': request.POST.getlist('color'),
        'fields': sorted(request.POST.keys()),
        'via': request.GET.get('via'),
        'content_type': request.content_type,
    })


def protected(request):
    """CSRF-protected: GET renders a form with the token, POST needs it back."""
    if request.method == 'POST':
        return JsonResponse({'ok': True, 'value': request.POST.get('value')})
    return render(request, 'protected.html')


@csrf_exempt
@require_POST
def upload(request):
    f = request.FILES['file']
    digest = hashlib.sha256()
    size = 0
    for chunk in f.chunks():
        digest.update(chunk)
        size += len(chunk)
    return JsonResponse({
        'name': f.name,
        'content_type': f.content_type,
        'size': size,
        'declared_size': f.size,
        'sha256': digest.hexdigest(),
        'storage': type(f).__name__,
        'note': request.POST.get('note'),
    })


def go(request):
    return redirect('item', item_id=7, slug='seven')


def hello(request, name):
    return render(request, 'hello.html', {'name': name, 'items': [(1, 'one'), (2, 'two')]})


def urls(request):
    return JsonResponse({
        'reverse_item': reverse('item', args=[5, 'five']),
        'reverse_index': reverse('index'),
        'absolute': request.build_absolute_uri(reverse('search')),
        'absolute_self': request.build_absolute_uri(),
        'path': request.path,
        'path_info': request.path_info,
        'script_name': request.META.get('SCRIPT_NAME'),
        'full_path': request.get_full_path(),
        'host': request.get_host(),
    })


def boom(request):
    raise ValueError('django-boom-%s' % request.GET.get('marker', 'none'))
