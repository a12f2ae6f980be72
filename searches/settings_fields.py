"""The strategies' and pruners' settings as form fields, generated from their settings schemas.

Each strategy (and each pruner) gets one field per setting, named `setting__<strategy>__<name>` (and
`pruner_setting__<pruner>__<name>`), with the setting's default as its initial value, its range as the input's
limits and in its help, and the schema's line of help. The page shows the chosen strategy's fields only.

The merge rule, with the JSON box kept for experts:
- a field changed from its default sets that setting; a field left at its default sets nothing;
- a JSON key sets its setting (settings with no field, such as NSGA-II's list of objectives, only this way);
- a changed field and a JSON key for the same setting that disagree are an error on both, naming both values:
  no search is created. They may agree.
The numbers are not range-checked here: the service checks every setting, whoever sends it (the form, the API),
and its message lands on the field the value came from.
"""

from __future__ import annotations

from functools import cache

from django import forms

from .pruners import PRUNERS
from .services.search_spec import settings_schema
from .spaces.registry import SPACES, build_space
from .strategies.settings_checks import SettingInfo

#: The space whose schema gives the fields' limits when the chosen space has no schema for the strategy
#: (PC-DARTS runs on the NB201 cell only): every strategy takes it.
FALLBACK_SPACE = "nb201"
FIELD_KINDS = ("int", "float", "choice", "bool")


def setting_field_name(prefix: str, owner: str, name: str) -> str:
    """prefix is "setting" (a strategy's) or "pruner_setting"."""
    return f"{prefix}__{owner}__{name}"


@cache
def strategy_schema(strategy: str, space_kind: str) -> tuple[SettingInfo, ...]:
    """The strategy's settings on the default space of `space_kind` (some limits depend on the space)."""
    for kind in (space_kind, FALLBACK_SPACE):
        if kind in SPACES:
            try:
                return tuple(settings_schema(strategy, build_space(kind, SPACES[kind].default_spec())))
            except ValueError:  # this space cannot take the strategy: its limits come from the fallback
                continue
    return ()


@cache
def pruner_schema(pruner: str) -> tuple[SettingInfo, ...]:
    return tuple(PRUNERS[pruner].settings_schema()) if pruner in PRUNERS else ()


def _accepts(info: SettingInfo) -> str:
    """'a whole number from 2 to 10000 (default 10)': the schema's description without the name."""
    return info.describe().split(": ", 1)[1]


def setting_form_field(info: SettingInfo) -> forms.Field:
    """A field for one setting; empty means "the default". Only kinds in FIELD_KINDS have one."""
    common = {"label": info.name, "required": False, "initial": info.default,
              "help_text": f"{info.help.rstrip('.')}; {_accepts(info)}" if info.help else _accepts(info)}
    if info.kind == "int":
        return forms.IntegerField(widget=forms.NumberInput(attrs=info.allowed.html_attrs()), **common)
    if info.kind == "float":
        return forms.FloatField(widget=forms.NumberInput(attrs=info.allowed.html_attrs()), **common)
    if info.kind == "choice":
        by_text = {str(o): o for o in info.options}
        return forms.TypedChoiceField(choices=[(o, o if o != "" else "(none)") for o in info.options],
                                      coerce=by_text.__getitem__, empty_value=None, **common)
    if info.kind == "bool":
        # A select, not a checkbox: an absent checkbox would read as "false", and so change a default of true.
        common["initial"] = "true" if info.default else "false"
        return forms.TypedChoiceField(choices=[("true", "yes"), ("false", "no")], coerce=lambda v: v == "true",
                                      empty_value=None, **common)
    raise ValueError(f"setting {info.name!r} of kind {info.kind!r} has no field; the JSON box sets it")


def add_setting_fields(form: forms.Form, prefix: str, schemas: dict[str, tuple[SettingInfo, ...]]) -> None:
    for owner, schema in schemas.items():
        for info in schema:
            if info.kind in FIELD_KINDS:
                form.fields[setting_field_name(prefix, owner, info.name)] = setting_form_field(info)


def json_only(schema: tuple[SettingInfo, ...]) -> list[str]:
    """The settings that have no field (the JSON box sets them)."""
    return [info.name for info in schema if info.kind not in FIELD_KINDS]


def merge_settings(form: forms.Form, prefix: str, owner: str, schema: tuple[SettingInfo, ...],
                   json_field: str) -> tuple[dict, set[str]]:
    """(the settings to send, the names that came from fields), by the merge rule above; a disagreement between
    a changed field and a JSON key is added to the form as an error on both."""
    given = form.cleaned_data.get(json_field)
    given = dict(given) if isinstance(given, dict) else {}
    from_fields = set()
    for info in schema:
        name = setting_field_name(prefix, owner, info.name)
        if name not in form.fields or name in form.errors:
            continue
        value = form.cleaned_data.get(name)
        if value is None or value == info.default:
            continue
        if info.name in given and given[info.name] != value:
            message = (f"{info.name} is {value!r} in its field and {given[info.name]!r} in the JSON settings: "
                       f"set it in one place")
            form.add_error(name, message)
            form.add_error(json_field, message)
            continue
        given[info.name] = value
        from_fields.add(info.name)
    return given, from_fields


def clone_setting_initial(prefix: str, owner: str, schema: tuple[SettingInfo, ...], stored: dict) -> tuple[dict, dict]:
    """(field initial values, what is left for the JSON box) of a stored search's settings."""
    initial, rest = {}, dict(stored or {})
    for info in schema:
        if info.kind in FIELD_KINDS and info.name in rest:
            value = rest.pop(info.name)
            initial[setting_field_name(prefix, owner, info.name)] = ("true" if value else "false") \
                if info.kind == "bool" else value
    return initial, rest
