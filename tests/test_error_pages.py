"""Friendly 404 and 500 pages, with the site's navigation."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_404_page_has_the_navigation_and_says_what_happened(client, owner, settings):
    settings.DEBUG = False
    client.force_login(owner)
    response = client.get("/no/such/page/")
    text = response.content.decode()
    assert response.status_code == 404
    assert 'id="not-found"' in text and "Nothing here" in text
    assert 'class="topbar"' in text and 'href="/devices/"' in text and "owner" in text  # nav, logged in


def test_a_project_of_someone_else_gives_the_same_friendly_404(client, outsider, project, settings):
    settings.DEBUG = False
    client.force_login(outsider)
    response = client.get(f"/projects/{project.id}/")
    assert response.status_code == 404 and 'id="not-found"' in response.content.decode()


def test_the_500_page_has_the_navigation(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = "tests.urls_that_fail"
    response = Client(raise_request_exception=False).get("/boom/")
    text = response.content.decode()
    assert response.status_code == 500
    assert 'id="server-error"' in text and "Something went wrong" in text
    assert 'class="topbar"' in text and "Log in" in text and "RuntimeError" not in text
