"""Whole numbers in queries and forms: digits of other scripts and overlong numbers are refused with a clear
answer by every view that reads one, never a 500 (str.isdigit() then int() used to raise on them)."""

import pytest
from django.test import Client

from searches.query_numbers import whole_number
from tests.searches.api.conftest import token_client

ODD = ["²", "٣", "１", "9" * 5000, "9" * 19, "-1", "1.0", "1 2", "\x00"]
ODD_NAMES = ["superscript 2", "arabic 3", "fullwidth 1", "5000 digits", "19 digits", "negative", "decimal",
             "two numbers", "nul"]


@pytest.mark.parametrize("text, number", [("0", 0), ("42", 42), (" 7 ", 7), ("9" * 18, int("9" * 18))])
def test_ascii_digits_are_read(text, number):
    assert whole_number(text) == number


@pytest.mark.parametrize("text", [*ODD, "", None], ids=[*ODD_NAMES, "empty", "None"])
def test_anything_else_is_none(text):
    assert whole_number(text) is None


@pytest.fixture
def browser(owner):
    client = Client(raise_request_exception=True)
    client.force_login(owner)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("odd", ODD, ids=ODD_NAMES)
def test_views_refuse_odd_numbers_clearly(browser, owner, project, start_search, odd, monkeypatch):
    api = token_client(owner)
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    search = start_search()
    data = browser.get(f"/searches/{search.id}/devices/data.json", {"trials": odd, "highlight": odd})
    assert data.status_code == 200 and data.json()["search"]["id"] == search.id
    measure = browser.post(f"/searches/{search.id}/devices/measure/", {"number": odd}, follow=True)
    assert "is not a complete trial of this search" in measure.content.decode()
    assert browser.get(f"/projects/{project.id}/searches/new/", {"clone": odd}).status_code == 200
    events = browser.get(f"/searches/{search.id}/events.json", {"after": odd})
    assert events.status_code == 400 and "after is a whole number" in events.content.decode()
    compare = browser.get(f"/searches/{search.id}/compare/", {"trials": f"1,{odd}"}, follow=True)
    assert compare.status_code == 200
    listed = api.get("/api/searches/", {"project": odd})
    assert listed.status_code == 400 and listed.json()["errors"]["project"]
    created = api.post("/api/projects/", {"name": "p", "dataset": f"upload:{odd}"}, format="json")
    assert created.status_code == 400 and created.json()["errors"]["dataset"]  # "no upload", or too long
