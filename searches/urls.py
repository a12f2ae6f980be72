from django.urls import path

from . import views

app_name = "searches"
urlpatterns = [
    path("", views.project_list, name="project_list"),
    path("projects/new/", views.project_create, name="project_create"),
    path("projects/<int:project_id>/", views.project_detail, name="project_detail"),
    path("projects/<int:project_id>/searches/new/", views.search_create, name="search_create"),
    path("projects/<int:project_id>/searches/space-size.json", views.search_space_size, name="search_space_size"),
    path("searches/<int:search_id>/", views.search_detail, name="search_detail"),
    path("searches/<int:search_id>/data.json", views.search_data, name="search_data"),
    path("searches/<int:search_id>/pause/", views.search_pause, name="search_pause"),
    path("searches/<int:search_id>/resume/", views.search_resume, name="search_resume"),
    path("searches/<int:search_id>/cancel/", views.search_cancel, name="search_cancel"),
    path("searches/<int:search_id>/retrain/", views.search_retrain, name="search_retrain"),
    path("trials/<int:trial_id>/", views.trial_detail, name="trial_detail"),
]
