"""Every API error is JSON. Bad input is a 400 that names the field:
{"detail": "training.lr: must be from ...", "errors": {"training.lr": ["must be from ..."]}}.

The services raise django's ValidationError keyed by field ("spec.layers", "strategy_settings.population");
it is answered like the serializers' own errors.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.views import exception_handler


def flatten(errors, prefix: str = "") -> dict[str, list[str]]:
    """{"a": {"b": ["x"]}} -> {"a.b": ["x"]}; lists of messages stay lists."""
    if isinstance(errors, dict):
        out = {}
        for key, value in errors.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(errors, list) and errors and all(isinstance(e, (dict, list)) for e in errors):
        out = {}
        for index, value in enumerate(errors):
            out.update(flatten(value, f"{prefix}.{index}"))
        return out
    messages = errors if isinstance(errors, list) else [errors]
    return {prefix or "non_field_errors": [str(m) for m in messages]} if messages else {}


def from_django(exc: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(exc, "error_dict"):
        return exceptions.ValidationError(exc.message_dict)
    return exceptions.ValidationError({"non_field_errors": exc.messages})


def json_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = from_django(exc)
    response = exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError):
        errors = flatten(response.data)
        field, messages = next(iter(errors.items()), ("non_field_errors", ["invalid input"]))
        summary = messages[0] if field == "non_field_errors" else f"{field}: {messages[0]}"
        response.data = {"detail": summary, "errors": errors}
    return response
