from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from searches import report_views
from searches import views as search_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", search_views.signup, name="signup"),
    path("share/<str:token>/", report_views.share_page, name="share_page"),
    path("", include("devices.urls")),
    path("", include("searches.urls")),
]
