from django.urls import include, path

from . import views

urlpatterns = [
    path('', views.index, name='index'),
    path('items/<int:item_id>/<slug:slug>/', views.item, name='item'),
    path('search/', views.search, name='search'),
    path('form/', views.form_post, name='form'),
    path('protected/', views.protected, name='protected'),
    path('upload/', views.upload, name='upload'),
    path('go/', views.go, name='go'),
    path('hello/<str:name>/', views.hello, name='hello'),
    path('urls/', views.urls, name='urls'),
    path('boom/', views.boom, name='boom'),
    path('notes/', include('notes.urls')),
]
