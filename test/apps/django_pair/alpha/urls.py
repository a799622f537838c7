from django.urls import path

from . import views

urlpatterns = [
    path('alpha-only/', views.whoami, name='whoami'),
]
