"""Settings schemas: read off each strategy's, pruner's and one-shot strategy's own checks."""

import pytest

from searches.checks import SpecError
from searches.oneshot.registry import ONESHOT_STRATEGIES
from searches.pruners import PRUNERS
from searches.spaces.registry import build_space
from searches.strategies.registry import STRATEGIES
from searches.strategies.settings_checks import SettingInfo, describe_schema

#: Settings with no range: a list of objectives, a metric name. The JSON box sets them.
FREE_FORM = {("nsga2", "objectives"), ("motpe", "objectives"), ("reinforce", "cost_metric"),
             ("pdarts", "stage_cells"), ("pdarts", "ops_kept"), ("pdarts", "skip_dropout")}  # lists
SPACE = build_space("nb201", {"C": 4, "N": 1})


def schemas():
    for name, cls in STRATEGIES.items():
        yield name, cls, cls.settings_schema(SPACE)
    for name, cls in PRUNERS.items():
        yield name, cls, cls.settings_schema()
    for name, cls in ONESHOT_STRATEGIES.items():
        yield name, cls, cls.settings_schema(SPACE)


@pytest.mark.parametrize("name,cls,schema", list(schemas()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_setting_has_its_default_a_range_and_help(name, cls, schema):
    assert [info.name for info in schema] == list(cls.default_settings())
    for info in schema:
        assert isinstance(info, SettingInfo) and info.help, info
        assert info.default == cls.default_settings()[info.name]
        if (name, info.name) in FREE_FORM:
            assert info.kind == "value"
            continue
        assert info.kind in ("int", "float", "choice", "bool"), info
        if info.allowed is not None:
            assert info.allowed.contains(info.default)
            info.allowed.check(info.name, info.default)
        if info.kind == "choice":
            assert info.default in info.options


def test_a_range_in_the_schema_is_the_one_enforced():
    (population, sample) = STRATEGIES["evolution"].settings_schema(SPACE)
    assert (population.allowed.low, population.allowed.high) == (2, 10_000)
    with pytest.raises(SpecError, match="between 2 and 10000"):
        STRATEGIES["evolution"](SPACE, {"population_size": population.allowed.high + 1})
    STRATEGIES["evolution"](SPACE, {"population_size": population.allowed.high})
    darts = {i.name: i for i in ONESHOT_STRATEGIES["darts"].settings_schema(SPACE)}
    assert darts["early_stop_skips"].allowed.high == len(SPACE.decisions)  # it depends on the space


def test_the_schema_describes_itself_in_words():
    text = describe_schema(STRATEGIES["evolution"].settings_schema(SPACE))
    assert text == ("its settings are population_size: a whole number from 2 to 10000 (default 10); "
                    "sample_size: a whole number from 1 to 10 (default 7)")
    assert describe_schema([]) == "it takes no settings"
    bananas = {info.name: info for info in STRATEGIES["bananas"].settings_schema(SPACE)}
    assert bananas["acquisition"].describe() == 'acquisition: one of its, ucb (default "ucb")'
    assert bananas["zero_cost_feature"].describe().startswith("zero_cost_feature: ")
