"""Mounted at /api/ (nasweb/urls.py)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from devices import api as devices_api

from . import views

app_name = "api"
urlpatterns = [
    path("", views.ApiRoot.as_view(), name="root"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("tokens/", views.TokenList.as_view(), name="token_list"),
    path("tokens/<int:token_id>/", views.TokenDetail.as_view(), name="token_detail"),
    path("datasets/", views.DatasetList.as_view(), name="dataset_list"),
    path("projects/", views.ProjectList.as_view(), name="project_list"),
    path("projects/<int:project_id>/", views.ProjectDetail.as_view(), name="project_detail"),
    path("projects/<int:project_id>/searches/", views.ProjectSearches.as_view(), name="project_searches"),
    path("spaces/", views.SpaceList.as_view(), name="space_list"),
    path("spaces/size/", views.SpaceSize.as_view(), name="space_size"),
    path("searches/", views.SearchList.as_view(), name="search_list"),
    path("searches/<int:search_id>/", views.SearchDetail.as_view(), name="search_detail"),
    path("searches/<int:search_id>/spec/", views.SearchSpec.as_view(), name="search_spec"),
    path("searches/<int:search_id>/pause/", views.SearchPause.as_view(), name="search_pause"),
    path("searches/<int:search_id>/resume/", views.SearchResume.as_view(), name="search_resume"),
    path("searches/<int:search_id>/cancel/", views.SearchCancel.as_view(), name="search_cancel"),
    path("searches/<int:search_id>/clone/", views.SearchClone.as_view(), name="search_clone"),
    path("searches/<int:search_id>/trials/", views.TrialList.as_view(), name="trial_list"),
    path("searches/<int:search_id>/trials.csv", views.TrialCsv.as_view(), name="trial_csv"),
    path("searches/<int:search_id>/ask/", views.SearchAsk.as_view(), name="search_ask"),
    path("trials/<int:trial_id>/", views.TrialDetail.as_view(), name="trial_detail"),
    path("trials/<int:trial_id>/metrics/", views.TrialMetrics.as_view(), name="trial_metrics"),
    path("trials/<int:trial_id>/prune/", views.TrialPrune.as_view(), name="trial_prune"),
    path("trials/<int:trial_id>/export/<str:fmt>/", views.TrialExport.as_view(), name="trial_export"),
    path("searches/<int:search_id>/share-links/", views.ShareLinks.as_view(), name="share_links"),
    path("searches/<int:search_id>/share-links/<int:link_id>/", views.ShareLinkDetail.as_view(),
         name="share_link_detail"),
    path("trials/<int:trial_id>/report/", views.TrialReport.as_view(), name="trial_report"),
    path("trials/<int:trial_id>/tell/", views.TrialTell.as_view(), name="trial_tell"),
    path("trials/<int:trial_id>/heartbeat/", views.TrialHeartbeat.as_view(), name="trial_heartbeat"),
    path("targets/", devices_api.TargetList.as_view(), name="target_list"),
    path("targets/<int:target_id>/", devices_api.TargetDetail.as_view(), name="target_detail"),
]
