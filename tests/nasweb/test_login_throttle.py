"""Login rate limiting on the login page and the admin's: refused after too many failures, even with
the right password; counted per account and address; cleared by a success."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from nasweb.login_throttle import _keys

pytestmark = pytest.mark.django_db
ADDRESSES = [f"10.0.0.{n}" for n in range(1, 10)]


def forget_counts():
    """Only this test's keys: the cache may be the shared Redis (never flushed by a test)."""
    cache.delete_many([key for user in ("owner", "boss") for a in ADDRESSES for key in _keys(user, a)])


@pytest.fixture(autouse=True)
def fresh_counts(settings):
    settings.NASWEB_LOGIN_FAILURES_PER_ADDRESS = 3
    settings.NASWEB_LOGIN_FAILURES_PER_USER = 5
    forget_counts()
    yield
    forget_counts()


def login(client, password, username="owner", address="10.0.0.1", url="login"):
    return client.post(reverse(url), {"username": username, "password": password}, REMOTE_ADDR=address)


def test_after_three_failures_even_the_right_password_is_refused(client, owner):
    for _ in range(3):
        assert login(client, "wrong").status_code == 200
    response = login(client, "pw-owner-123")
    assert response.status_code == 200 and "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_another_address_still_logs_in_until_the_account_limit(client, owner):
    for _ in range(3):
        login(client, "wrong")
    assert login(client, "pw-owner-123", address="10.0.0.2").status_code == 302
    client.logout()
    for address in ("10.0.0.3", "10.0.0.4"):
        login(client, "wrong", address=address)
    # 5 failures for the account from anywhere: refused from every address
    assert "Too many failed logins" in login(client, "pw-owner-123", address="10.0.0.9").content.decode()


def test_a_success_clears_the_count(client, owner):
    for _ in range(2):
        login(client, "wrong")
    assert login(client, "pw-owner-123").status_code == 302
    client.logout()
    for _ in range(2):
        login(client, "wrong")
    assert login(client, "pw-owner-123").status_code == 302


def test_the_admin_login_is_throttled_too(client, django_user_model):
    django_user_model.objects.create_superuser("boss", password="pw-boss-123")
    for _ in range(3):
        login(client, "wrong", username="boss", url="admin:login")
    response = login(client, "pw-boss-123", username="boss", url="admin:login")
    assert response.status_code == 200 and "Too many failed logins" in response.content.decode()
