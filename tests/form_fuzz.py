"""Hypothesis strategies for what anyone can post to a form: each field at its default, any of its choices,
or junk (huge, negative, non-finite numbers, odd text, deep JSON), or absent."""

from __future__ import annotations

import os

from django import forms
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.searches.form_posts import _flat_choices, browser_value

#: Examples per fuzz test: 500 with -m fuzz (make test-forms), 50 in the suite (tests/conftest.py sets it);
#: NASWEB_FUZZ_EXAMPLES overrides both.
FUZZ_EXAMPLES = int(os.environ.get("NASWEB_FUZZ_EXAMPLES", "50"))


def fuzz_settings(weight: int = 1) -> settings:
    """Hypothesis settings for a fuzz test: `weight` times FUZZ_EXAMPLES examples, derandomised (the same
    bodies every run), no example database, no deadline (a request can take a while on a loaded machine)."""
    return settings(max_examples=weight * FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


JUNK = st.one_of(
    st.sampled_from(["", " ", "-5", "0", "1", "2", "-1", "1e400", "-1e400", "nan", "inf", "1e3", "3.5", "0.0000001",
                     "99999999999999999999999", "-99999999999999999999999", "9" * 5000, "[]", "{}", "null", "true",
                     '{"population_size": 20}', '{"epochs": 1}', '{"eta": 1}', '{"a": {"b": {"c": [1]}}}',
                     "[" * 5000, "\x00", "<script>alert(1)</script>", "ünïcödé", "a" * 200, "raspi4, ", ",,,"]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=30),
)


def field_values(bound_field) -> st.SearchStrategy:
    """What may be posted for one field: None means the browser sends nothing for it."""
    field = bound_field.field
    default = browser_value(bound_field)
    options = [st.just(default), JUNK.map(lambda v: v), st.none()]
    if isinstance(field, forms.ModelMultipleChoiceField):
        # Ids, not the live choices: rows come and go between examples, and hypothesis wants the same draws.
        options.append(st.lists(st.integers(-3, 10**12).map(str), max_size=3))
    elif isinstance(field, forms.ChoiceField):
        choices = [str(v) for v, _ in _flat_choices(field.choices)]
        if choices:
            if isinstance(field, forms.MultipleChoiceField):
                options.append(st.lists(st.one_of(st.sampled_from(choices), JUNK), max_size=4))
            else:
                options.append(st.sampled_from(choices))
    return st.one_of(*options)


def form_posts(form, fixed: dict | None = None, skip=None) -> st.SearchStrategy:
    """Whole POST bodies for a form: every field drawn independently, `fixed` fields as given, and the fields
    for which `skip(name)` is true at their defaults."""
    fixed = dict(fixed or {})
    if skip is not None:
        fixed.update({bf.html_name: browser_value(bf) for bf in form if skip(bf.html_name)})
    per_field = {bf.html_name: field_values(bf) for bf in form if bf.html_name not in fixed}

    def drop_absent(data: dict) -> dict:
        return {k: v for k, v in {**data, **fixed}.items() if v is not None}

    return st.fixed_dictionaries(per_field).map(drop_absent)
