import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from searches import services


@pytest.fixture(autouse=True)
def fresh_throttles():
    # DRF's throttles count in the cache; tests must not inherit each other's counts.
    cache.clear()
    yield
    cache.clear()


def token_client(user) -> APIClient:
    _, key = services.create_token(user, "tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def api(owner):
    return token_client(owner)


@pytest.fixture
def clients(owner, member, outsider):
    """One client per kind of caller."""
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Bearer nas_not-a-real-token")
    revoked = APIClient()
    token, key = services.create_token(owner, "revoked")
    services.revoke_token(owner, token.id)
    revoked.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return {"owner": token_client(owner), "member": token_client(member), "outsider": token_client(outsider),
            "anonymous": APIClient(), "bad token": bad, "revoked token": revoked}


@pytest.fixture
def external_search(start_search):
    return start_search(name="ext", evaluator="external", max_trials=3, parallelism=1)
