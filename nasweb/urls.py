from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from searches import report_views
from searches import views as search_views
from searches.api import pages as api_pages

from .login_throttle import ThrottledAdminAuthenticationForm, ThrottledAuthenticationForm

admin.site.login_form = ThrottledAdminAuthenticationForm

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(authentication_form=ThrottledAuthenticationForm),
         name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", search_views.signup, name="signup"),
    path("share/<str:token>/", report_views.share_page, name="share_page"),
    path("settings/tokens/", api_pages.token_settings, name="token_settings"),
    path("settings/tokens/<int:token_id>/revoke/", api_pages.token_revoke, name="token_revoke"),
    path("api/", include("searches.api.urls")),
    path("", include("devices.urls")),
    path("", include("searches.urls")),
]
