from django.urls import path

from . import live_chart_views, pruning_views, report_views, views

app_name = "searches"
urlpatterns = [
    path("", views.project_list, name="project_list"),
    path("projects/new/", views.project_create, name="project_create"),
    path("projects/<int:project_id>/", views.project_detail, name="project_detail"),
    path("projects/<int:project_id>/searches/new/", views.search_create, name="search_create"),
    path("projects/<int:project_id>/searches/space-size.json", views.search_space_size, name="search_space_size"),
    path("searches/<int:search_id>/", views.search_detail, name="search_detail"),
    path("searches/<int:search_id>/data.json", views.search_data, name="search_data"),
    path("searches/<int:search_id>/leaderboard.json", views.search_leaderboard, name="search_leaderboard"),
    path("searches/<int:search_id>/charts.json", views.search_charts, name="search_charts"),
    path("searches/<int:search_id>/events.json", views.search_events, name="search_events"),
    path("searches/<int:search_id>/pause/", views.search_pause, name="search_pause"),
    path("searches/<int:search_id>/resume/", views.search_resume, name="search_resume"),
    path("searches/<int:search_id>/cancel/", views.search_cancel, name="search_cancel"),
    path("searches/<int:search_id>/retrain/", views.search_retrain, name="search_retrain"),
    path("searches/<int:search_id>/trials.csv", report_views.search_trials_csv, name="search_trials_csv"),
    path("projects/<int:project_id>/prune-upload/", pruning_views.model_upload, name="model_upload"),
    path("projects/<int:project_id>/compare/", report_views.project_compare, name="project_compare"),
    path("searches/<int:search_id>/analysis/", report_views.search_analysis_view, name="search_analysis"),
    path("searches/<int:search_id>/analysis.json", live_chart_views.search_analysis_json, name="search_analysis_json"),
    path("searches/<int:search_id>/progress-charts.json", live_chart_views.search_progress_charts,
         name="search_progress_charts"),
    path("searches/<int:search_id>/compare/", report_views.trial_compare, name="trial_compare"),
    path("searches/<int:search_id>/share/", report_views.share_create, name="share_create"),
    path("searches/<int:search_id>/share/<int:link_id>/revoke/", report_views.share_revoke, name="share_revoke"),
    path("trials/<int:trial_id>/", report_views.trial_detail, name="trial_detail"),
    path("trials/<int:trial_id>/prune/", pruning_views.trial_prune, name="trial_prune"),
    path("trials/<int:trial_id>/export/<str:fmt>/", report_views.trial_export_view, name="trial_export"),
]
