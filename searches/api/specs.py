"""A search's JSON spec: the fields the web form builds, as one JSON object.

    {"name": "mlp on digits", "space_kind": "chain_mlp", "space_spec": {"max_layers": 3},
     "strategy": "evolution", "strategy_settings": {"population": 8}, "max_trials": 20,
     "training": {"epochs": 3}, "evaluator": "workers"}

The API's create and clone endpoints and `manage.py nas_search` read it here. The shape of each field
is checked by SearchSpecSerializer; everything else by services.validate_search (through
start_search), the same check and the same messages as the form's.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from rest_framework import serializers

from .. import services
from ..models import Project, Search

MAX_INT = 2**31 - 1


class SearchSpecSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120, allow_blank=True)
    space_kind = serializers.CharField(max_length=40, help_text="chain_mlp, macro_cnn, nb201, transformer, hybrid")
    space_spec = serializers.DictField(required=False, default=dict, help_text="the space's settings; "
                                       "missing ones take the space's defaults (GET /api/spaces/)")
    strategy = serializers.CharField(max_length=40)
    strategy_settings = serializers.DictField(required=False, default=dict)
    objectives = serializers.ListField(child=serializers.DictField(), required=False, default=list,
                                       help_text='[{"metric": "val_accuracy", "direction": "max"}, ...]')
    constraints = serializers.ListField(child=serializers.DictField(), required=False, default=list,
                                        help_text='[{"metric": "params", "max": 50000}, ...]')
    pruner = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    pruner_settings = serializers.DictField(required=False, default=dict)
    warm_start_from = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**62),
                                            required=False, default=list, max_length=50,
                                            help_text="ids of earlier searches of the project")
    estimation = serializers.DictField(required=False, default=dict,
                                       help_text="prerank_proxy, prerank_pool, surrogate_quantile")
    training = serializers.DictField(required=False, default=dict,
                                     help_text="epochs, batch_size, lr, optimizer, data_fraction, width_multiplier")
    max_trials = serializers.IntegerField(min_value=1, max_value=100_000, required=False, allow_null=True,
                                          default=10)
    max_seconds = serializers.IntegerField(min_value=1, max_value=MAX_INT, required=False, allow_null=True,
                                           default=None)
    parallelism = serializers.IntegerField(required=False, default=1, min_value=-MAX_INT, max_value=MAX_INT)
    seed = serializers.IntegerField(required=False, default=0, min_value=0, max_value=MAX_INT)
    device = serializers.CharField(max_length=10, required=False, default="cpu")
    evaluator = serializers.ChoiceField(choices=Search.EVALUATORS, required=False, default=Search.WORKERS,
                                        help_text="external: your own code trains the trials (ask/tell)")

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields)) if isinstance(self.initial_data, dict) else []
        if unknown:
            raise serializers.ValidationError({unknown[0]: "is not a field of a search spec"})
        return attrs


def read_spec(data) -> dict:
    """The spec's fields with their shapes checked; raises rest_framework's ValidationError."""
    serializer = SearchSpecSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def start_from_spec(project: Project, user, data) -> Search:
    """Check the shape, then start the search exactly as the form does (ValidationError by field)."""
    fields = read_spec(data)
    ids = fields.pop("warm_start_from")
    earlier = list(project.searches.select_related("space").filter(id__in=ids))
    missing = sorted(set(ids) - {s.id for s in earlier})
    if missing:
        raise ValidationError({"warm_start_from": f"no search {missing[0]} in this project"})
    space_spec = fields.pop("space_spec")
    return services.start_search(project, user, space_spec=space_spec, warm_start_from=earlier, **fields)


def spec_document(search: Search) -> dict:
    """The spec that would start this search again (clone, export, `nas_search` files)."""
    return {
        "name": search.name, "space_kind": search.space.kind, "space_spec": search.space.spec,
        "strategy": search.strategy, "strategy_settings": search.strategy_settings,
        "objectives": search.objectives, "constraints": search.constraints, "pruner": search.pruner,
        "pruner_settings": search.pruner_settings,
        "warm_start_from": sorted(search.warm_start_from.values_list("id", flat=True)),
        "estimation": search.estimation, "training": search.training, "max_trials": search.max_trials,
        "max_seconds": search.max_seconds, "parallelism": search.parallelism, "seed": search.seed,
        "device": search.device, "evaluator": search.evaluator,
    }
