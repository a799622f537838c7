from django.urls import path

from . import views

urlpatterns = [
    path('beta-only/', views.whoami, name='whoami'),
]
