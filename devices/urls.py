"""Mounted at the site root (nasweb/urls.py), so the comparison page sits under its search."""

from django.urls import path

from . import views

app_name = "devices"
urlpatterns = [
    path("devices/", views.target_list, name="target_list"),
    path("devices/new/", views.target_create, name="target_create"),
    path("devices/defaults/", views.target_defaults, name="target_defaults"),
    path("devices/<int:target_id>/edit/", views.target_edit, name="target_edit"),
    path("devices/<int:target_id>/delete/", views.target_delete, name="target_delete"),
    path("searches/<int:search_id>/devices/", views.search_devices, name="search_devices"),
    path("searches/<int:search_id>/devices/data.json", views.search_devices_data, name="search_devices_data"),
    path("searches/<int:search_id>/devices/compute/", views.search_devices_compute, name="search_devices_compute"),
    path("searches/<int:search_id>/devices/measure/", views.search_devices_measure, name="search_devices_measure"),
]
