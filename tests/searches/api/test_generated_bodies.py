"""Generated request bodies on every create endpoint: each is answered 400 (naming a field) or
201/200, never a 500, and a 400 leaves no row behind. NASWEB_FUZZ_EXAMPLES bodies per endpoint (500 with
-m fuzz, 50 in the suite), twice that for searches, whose bodies have the most fields. Hypothesis runs
derandomised (the same bodies every run) and keeps no example database."""

import pytest
from django.core.cache import cache
from hypothesis import given
from hypothesis import strategies as st

from devices.models import HardwareTarget
from searches.models import Project, Search
from searches.oneshot.registry import ONESHOT_STRATEGIES
from searches.pruners import PRUNERS
from searches.spaces.registry import SPACES
from searches.strategies.registry import STRATEGIES
from tests.form_fuzz import FUZZ_EXAMPLES, fuzz_settings

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz, pytest.mark.timeout(1800)]
POSTED = {}

scalars = st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False, allow_infinity=False) \
    | st.text(max_size=12)
anything = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=8), inner, max_size=3), max_leaves=8)
small_ints = st.integers(-3, 300)
numbers = small_ints | st.floats(-1, 20, allow_nan=False) | st.sampled_from([0, 1, 2, 10**12, -(10**12)])


def one_of_or_junk(values):
    return st.sampled_from(values) | anything


space_fields = sorted({f.name for cls in SPACES.values() for f in cls.spec_fields()})
space_spec = st.dictionaries(st.sampled_from(space_fields), numbers | st.lists(small_ints, max_size=4)
                             | st.lists(st.sampled_from(["relu", "gelu", "none", "batch", "conv3x3", "x"]),
                                        max_size=3) | anything, max_size=4) | anything
settings_of = st.dictionaries(st.sampled_from(["population", "sample_size", "eta", "min_epochs", "cost_metric",
                                               "epochs", "arch_lr", "order", "rank_check_archs", "latency_target",
                                               "n_initial", "candidates", "lr", "x"]), numbers | anything, max_size=3)
training = st.dictionaries(st.sampled_from(["epochs", "batch_size", "lr", "optimizer", "data_fraction",
                                            "width_multiplier", "patience", "x"]),
                           numbers | st.sampled_from(["adam", "sgd", "adamw", "x"]) | anything, max_size=4) | anything
objective = st.fixed_dictionaries({"metric": one_of_or_junk(["val_accuracy", "params", "latency_ms@1", "x"])},
                                  optional={"direction": one_of_or_junk(["max", "min"])})
constraint = st.fixed_dictionaries({"metric": one_of_or_junk(["params", "macs@1"]), "max": numbers | anything})
estimation = st.dictionaries(st.sampled_from(["prerank_proxy", "prerank_pool", "surrogate_quantile", "x"]),
                             numbers | st.sampled_from(["synflow", "snip", "x"]) | anything, max_size=3)
search_body = st.fixed_dictionaries({}, optional={
    "name": st.text(max_size=130) | anything,
    "space_kind": one_of_or_junk([*SPACES, "x"]),
    "space_spec": space_spec,
    "strategy": one_of_or_junk([*STRATEGIES, *ONESHOT_STRATEGIES, "x"]),
    "strategy_settings": settings_of | anything,
    "objectives": st.lists(objective, max_size=2) | anything,
    "constraints": st.lists(constraint, max_size=2) | anything,
    "pruner": one_of_or_junk(["", *PRUNERS, "x"]),
    "pruner_settings": settings_of,
    "warm_start_from": st.lists(st.integers(-2, 10**6), max_size=2) | anything,
    "estimation": estimation | anything,
    "training": training,
    "max_trials": numbers | anything, "max_seconds": numbers | anything, "parallelism": numbers | anything,
    "seed": numbers | anything, "device": one_of_or_junk(["cpu", "gpu"]),
    "evaluator": one_of_or_junk(["workers", "external"]),
    "colour": anything,
}) | anything
# Bodies that pass the shape checks, so the services' own checks are exercised too.
likely_search = st.fixed_dictionaries({
    "name": st.text(min_size=1, max_size=20), "space_kind": st.sampled_from(["chain_mlp", "chain_mlp", "nb201"]),
    "strategy": st.sampled_from(sorted(STRATEGIES)), "training": st.fixed_dictionaries({"epochs": st.integers(0, 3)}),
    "max_trials": st.integers(1, 5),
}, optional={"space_spec": space_spec, "strategy_settings": settings_of, "pruner": st.sampled_from(["", *PRUNERS]),
             "pruner_settings": settings_of, "parallelism": st.integers(-1, 70), "objectives": st.lists(objective,
                                                                                                        max_size=2),
             "constraints": st.lists(constraint, max_size=1), "estimation": estimation,
             "evaluator": st.sampled_from(["workers", "external"])})
project_body = st.fixed_dictionaries({}, optional={
    "name": st.text(max_size=130) | anything,
    "dataset": one_of_or_junk(["builtin:digits", "builtin:wine", "benchmark:nb201_cifar10", "upload:1", "builtin:x",
                               "upload:x", "x"]),
    "description": st.text(max_size=20) | anything, "members": st.lists(st.sampled_from(["member", "ghost", ""]),
                                                                        max_size=2) | anything,
}) | anything
target_body = st.fixed_dictionaries({}, optional={
    "name": st.text(max_size=130) | anything,
    "kind": one_of_or_junk(["analytical", "benchmark", "measured_cpu", "x"]),
    "specs": st.dictionaries(st.sampled_from(["device", "arithmetic", "energy_per_mac_pj", "x"]),
                             numbers | st.sampled_from(["pixel3", "raspi4", "int8", "fp32", "x"]),
                             max_size=2) | anything,
    "metric": one_of_or_junk(["", "latency_ms", "macs", "energy_mj", "x"]),
}) | anything
token_body = st.fixed_dictionaries({}, optional={"name": st.text(max_size=90) | anything}) | anything
size_body = st.fixed_dictionaries({}, optional={"kind": one_of_or_junk([*SPACES, "x"]), "spec": space_spec}) | anything


def post(api, url, body, created_model=None):
    cache.clear()  # the token endpoint's rate limit is not under test here
    before = created_model.objects.count() if created_model else 0
    response = api.post(url, body, format="json")
    POSTED[url] = POSTED.get(url, 0) + 1
    assert response.status_code in (200, 201, 400), (body, response.status_code, response.content[:500])
    if response.status_code == 400:
        assert response.json()["errors"], response.content
        if created_model:
            assert created_model.objects.count() == before, body


@fuzz_settings(weight=2)
@given(body=search_body | likely_search)
def test_search_bodies(api, project, body):
    post(api, f"/api/projects/{project.id}/searches/", body, Search)


@fuzz_settings()
@given(body=project_body)
def test_project_bodies(api, member, body):
    post(api, "/api/projects/", body, Project)


@fuzz_settings()
@given(body=target_body)
def test_target_bodies(api, body):
    post(api, "/api/targets/", body, HardwareTarget)


@fuzz_settings()
@given(body=token_body)
def test_token_bodies(api, body):
    post(api, "/api/tokens/", body)


@fuzz_settings()
@given(body=size_body)
def test_space_size_bodies(api, body):
    post(api, "/api/spaces/size/", body)


def test_every_endpoint_got_its_bodies():
    """NASWEB_FUZZ_EXAMPLES bodies reached each endpoint (500 each with -m fuzz): none stopped early."""
    if len(POSTED) < 5:
        pytest.skip("run with the body tests above")
    assert min(POSTED.values()) >= FUZZ_EXAMPLES, POSTED
