"""The site's URLs plus one view that raises: the 500 page is tested through it."""

from django.urls import path

from nasweb.urls import urlpatterns as site_urlpatterns


def boom(request):
    raise RuntimeError("a bug, for the test of the 500 page")


urlpatterns = [path("boom/", boom), *site_urlpatterns]
