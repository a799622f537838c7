from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from .models import Note


@csrf_exempt
def note_list(request):
    if request.method == 'POST':
        note = Note.objects.create(text=request.POST['text'])
        response = JsonResponse(note.as_dict(), status=201)
        response['Location'] = request.build_absolute_uri(reverse('note-detail', args=[note.pk]))
        return response
    return JsonResponse({'notes': [n.as_dict() for n in Note.objects.order_by('pk')]})


def note_detail(request, pk):
    return JsonResponse(get_object_or_404(Note, pk=pk).as_dict())
