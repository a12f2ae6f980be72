"""Generated bodies on the JSON endpoints that act on an existing search or trial: ask, report, tell,
heartbeat (services/external.py), clone and share links. Each is answered 2xx or a 400 that names what
is wrong, never a 500. NASWEB_FUZZ_EXAMPLES bodies per endpoint: 500 with -m fuzz, 50 in the suite."""

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from searches import services
from searches.models import Search, ShareLink
from tests.form_fuzz import fuzz_settings
from tests.searches.api.test_generated_bodies import anything, numbers, search_body

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz, pytest.mark.timeout(1800)]
FUZZ = fuzz_settings()

huge = st.sampled_from([2**31, 2**63, 10**30, -(2**63), 1e308, -1e308])
attempts = st.integers(-3, 5) | huge | anything
metric_values = numbers | huge | st.sampled_from([True, None, "nan", "0.5", [], {}]) | anything
metrics = st.dictionaries(st.sampled_from(["val_accuracy", "train_loss", "params", "latency_ms@1", "x", ""]),
                          metric_values, max_size=4) | anything
deep = st.sampled_from([[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]], {"a": {"a": {"a": {"a": {"a": {"a": {}}}}}}}])
report_body = st.fixed_dictionaries({}, optional={"epoch": st.integers(-3, 1000) | huge | anything,
                                                  "metrics": metrics | deep, "attempt": attempts}) | anything
tell_body = st.fixed_dictionaries({}, optional={"metrics": metrics | deep, "error": st.text(max_size=40) | anything,
                                                "attempt": attempts}) | anything
heartbeat_body = st.fixed_dictionaries({}, optional={"attempt": attempts}) | anything
ask_body = st.fixed_dictionaries({}, optional={"worker": st.text(max_size=120) | anything}) | anything
clone_body = st.fixed_dictionaries({}, optional={"overrides": search_body | deep}) | anything
share_body = st.fixed_dictionaries({}, optional={"label": st.text(max_size=130) | anything}) | anything


@pytest.fixture
def external(start_search, monkeypatch):
    """An external (ask/tell) search with a trial handed out: the bodies act on that trial."""
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    search = start_search(evaluator=Search.EXTERNAL, max_trials=500, parallelism=2)
    trial = services.ask_trial(Search.objects.get(id=search.id), worker="script")
    return search, trial


def answered(api, url, body):
    response = api.post(url, body, format="json")
    assert response.status_code in (200, 201, 400), (body, response.status_code, response.content[:500])
    if response.status_code == 400:
        assert response.json()["errors"], response.content


@FUZZ
@given(body=report_body)
def test_report_bodies(api, external, body):
    answered(api, f"/api/trials/{external[1].id}/report/", body)


@FUZZ
@given(body=tell_body)
def test_tell_bodies(api, external, body):
    search, trial = external
    answered(api, f"/api/trials/{trial.id}/tell/", body)
    # keep a running trial to act on: after a tell that finished it, hand out the next one
    services.ask_trial(Search.objects.get(id=search.id), worker="script")


@FUZZ
@given(body=heartbeat_body)
def test_heartbeat_bodies(api, external, body):
    answered(api, f"/api/trials/{external[1].id}/heartbeat/", body)


@FUZZ
@given(body=ask_body)
def test_ask_bodies(api, external, body):
    answered(api, f"/api/searches/{external[0].id}/ask/", body)


@FUZZ
@given(body=clone_body)
def test_clone_bodies(api, external, body):
    answered(api, f"/api/searches/{external[0].id}/clone/", body)


@FUZZ
@given(body=share_body)
def test_share_link_bodies(api, external, body):
    answered(api, f"/api/searches/{external[0].id}/share-links/", body)
    assert ShareLink.objects.count() <= int(os.environ["NASWEB_FUZZ_EXAMPLES"]) * 2
