"""What a browser posts for a form it was given: every field's initial value, as the page renders it.

A checked checkbox sends its value attribute (a string), an unchecked one sends nothing, a select sends its
selected option's value, a number box its text. Tests post these through the Django test client, so they
drive the real form as a user who changes nothing would.
"""

from __future__ import annotations

from django import forms


def browser_value(bound_field):
    """The value a browser sends for one field, or None when it sends nothing."""
    field = bound_field.field
    value = bound_field.value()
    if isinstance(field.widget, forms.CheckboxInput):
        return "on" if value else None
    if isinstance(field, forms.MultipleChoiceField | forms.ModelMultipleChoiceField):
        return [str(v) for v in (value or [])]
    if isinstance(field, forms.FileField):
        return None
    if isinstance(field, forms.ChoiceField):
        options = [str(v) for v, _ in _flat_choices(field.choices)]
        # A select shows its first option when the initial value is none of them.
        return str(value) if value is not None and str(value) in options else (options[0] if options else "")
    if value is None:
        return ""
    return field.widget.format_value(value) or ""


def browser_post(form, **overrides) -> dict:
    """The POST data of an untouched form, with `overrides` as if the user had typed them."""
    data = {}
    for bound_field in form:
        value = browser_value(bound_field)
        if value is not None:
            data[bound_field.html_name] = value
    for key, value in overrides.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def _flat_choices(choices):
    for value, label in choices:
        if isinstance(label, list | tuple):
            yield from label
        else:
            yield value, label
