"""Request and response shapes; the OpenAPI document is generated from these."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import ApiToken, Dataset, Project, Search, Trial, TrialMetric
from ..training.uploads import UPLOAD_FORMATS


class DatasetSerializer(serializers.ModelSerializer):
    choice = serializers.SerializerMethodField(help_text="what a new project's `dataset` field takes")

    class Meta:
        model = Dataset
        fields = ["id", "choice", "name", "source", "builtin_key", "file_format", "task", "info", "created_at"]

    def get_choice(self, dataset) -> str:
        return f"upload:{dataset.id}" if dataset.source == Dataset.UPLOAD else f"{dataset.source}:{dataset.builtin_key}"


class DatasetChoiceSerializer(serializers.Serializer):
    choice = serializers.CharField()
    label = serializers.CharField()
    task = serializers.CharField()


class DatasetUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    format = serializers.ChoiceField(choices=sorted(UPLOAD_FORMATS))
    label_column = serializers.CharField(required=False, allow_blank=True, max_length=200,
                                         help_text="CSV: the column that holds the labels")
    seq_len = serializers.IntegerField(required=False, min_value=2, max_value=4096,
                                       help_text="text: characters per training sequence")


class ProjectSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    members = serializers.SlugRelatedField(many=True, read_only=True, slug_field="username")
    dataset = DatasetSerializer(read_only=True)

    class Meta:
        model = Project
        fields = ["id", "name", "description", "owner", "members", "dataset", "task", "created_at"]


class ProjectCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    dataset = serializers.CharField(max_length=80, help_text='"builtin:digits", "benchmark:nb201_cifar10" or '
                                                             '"upload:<id>" (POST /api/datasets/ first)')
    members = serializers.ListField(child=serializers.CharField(max_length=150), required=False, default=list,
                                    max_length=100, help_text="usernames")


class SpaceFieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField()
    label = serializers.CharField()
    help = serializers.CharField()
    options = serializers.ListField(child=serializers.CharField())


class SpaceKindSerializer(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    tasks = serializers.ListField(child=serializers.CharField())
    default_spec = serializers.DictField()
    default_size = serializers.CharField(help_text="exact number of architectures, as a decimal string")
    fields = SpaceFieldSerializer(many=True)


class SpaceSizeRequestSerializer(serializers.Serializer):
    kind = serializers.CharField(max_length=40)
    spec = serializers.DictField(required=False, default=dict)


class SpaceSizeSerializer(serializers.Serializer):
    kind = serializers.CharField()
    spec = serializers.DictField(help_text="the spec with the space's defaults filled in")
    size = serializers.CharField(help_text="exact number of architectures, as a decimal string (it can be huge)")
    log10_size = serializers.FloatField()


class SearchSerializer(serializers.ModelSerializer):
    project = serializers.PrimaryKeyRelatedField(read_only=True)
    space = serializers.SerializerMethodField()
    trial_counts = serializers.SerializerMethodField()
    best_trial = serializers.SerializerMethodField()

    class Meta:
        model = Search
        fields = ["id", "project", "name", "state", "error", "evaluator", "space", "strategy", "strategy_settings",
                  "objectives", "constraints", "pruner", "pruner_settings", "training", "estimation", "max_trials",
                  "max_seconds", "parallelism", "seed", "device", "trial_counts", "best_trial", "created_at",
                  "started_at", "finished_at"]

    @extend_schema_field({"type": "object", "properties": {"kind": {"type": "string"}, "spec": {"type": "object"},
                                                           "size": {"type": "string"}}})
    def get_space(self, search) -> dict:
        return {"kind": search.space.kind, "spec": search.space.spec, "size": str(search.space.build().size())}

    def get_trial_counts(self, search) -> dict[str, int]:
        counts = {state: 0 for state, _ in Trial.STATES}
        for state in search.trials.values_list("state", flat=True):
            counts[state] += 1
        return counts

    @extend_schema_field({"type": "object", "nullable": True, "properties": {
        "id": {"type": "integer"}, "number": {"type": "integer"}, "metric": {"type": "string"},
        "value": {"type": "number"}}})
    def get_best_trial(self, search) -> dict | None:
        objective = search.primary_objective
        best = None
        for trial in search.trials.filter(state=Trial.COMPLETE).only("id", "number", "metrics"):
            value = trial.metrics.get(objective["metric"])
            if not isinstance(value, (int, float)):
                continue
            if best is None or (value > best["value"] if objective["direction"] == "max" else value < best["value"]):
                best = {"id": trial.id, "number": trial.number, "metric": objective["metric"], "value": value}
        return best


class TrialSerializer(serializers.ModelSerializer):
    seconds = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = Trial
        fields = ["id", "search", "number", "state", "arch", "description", "metrics", "val_accuracy", "params",
                  "epochs_done", "worker", "device", "error", "created_at", "started_at", "finished_at",
                  "heartbeat_at", "seconds"]


class TrialPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="trials that pass the filters")
    sort = serializers.CharField()
    next = serializers.CharField(allow_null=True, help_text="the next page's URL; null on the last page")
    results = TrialSerializer(many=True)


class TrialMetricSerializer(serializers.ModelSerializer):
    class Meta:
        model = TrialMetric
        fields = ["epoch", "name", "value"]


class CloneSerializer(serializers.Serializer):
    overrides = serializers.DictField(required=False, default=dict,
                                      help_text="search spec fields to change, e.g. {\"seed\": 1}")


class ControlResultSerializer(serializers.Serializer):
    changed = serializers.BooleanField()
    search = SearchSerializer()


class AskRequestSerializer(serializers.Serializer):
    worker = serializers.CharField(required=False, allow_blank=True, default="", max_length=100,
                                   help_text="a name for the machine or process that trains the trial")


def attempt_field() -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False, min_value=1, max_value=2**31 - 1,
        help_text="the attempt the ask handed out: once the trial was given to another claim (this script went "
                  "silent), writes of the old attempt are refused")


class ExternalTrialSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    attempt = serializers.IntegerField(help_text="this claim's number: send it back with report, tell, heartbeat")
    arch = serializers.DictField()
    description = serializers.CharField()
    space = serializers.DictField(help_text="kind and spec: searches.spaces.registry.build_space(kind, spec)")
    model_inputs = serializers.DictField(help_text="input_shape, num_classes, task, vocab_size: the arguments "
                                                   "of space.to_torch(arch, ...)")
    dataset = serializers.DictField(help_text="the project's dataset: source, builtin_key, name")
    training = serializers.DictField(help_text="the search's training settings (epochs, lr, ...)")
    build = serializers.CharField(help_text="Python that builds the torch module with this project's engine")


class AskResponseSerializer(serializers.Serializer):
    trial = ExternalTrialSerializer(allow_null=True)
    search_state = serializers.CharField()
    finished = serializers.BooleanField(help_text="true when the search will hand out no more trials")
    retry_after = serializers.IntegerField(allow_null=True, help_text="seconds to wait before asking again")
    heartbeat_seconds = serializers.IntegerField(help_text="beat at least this often while training")


class PruneSerializer(serializers.Serializer):
    """The "Prune this trial" form's fields; the service checks the rest (services/pruning.py)."""

    budget_kind = serializers.CharField(help_text="params, macs or target (a cost on a hardware target)")
    budget_value = serializers.FloatField(help_text="the most the pruned model may have of it")
    target_metric = serializers.CharField(required=False, default="", help_text='with target: e.g. "latency_ms@3"')
    strategy = serializers.CharField(required=False, default="evolution", help_text="evolution, gp_bo, tpe or random")
    candidates = serializers.IntegerField(required=False, default=8, help_text="width settings to try, 1-500")
    finetune_epochs = serializers.IntegerField(required=False, default=2, help_text="1-100")


class ReportSerializer(serializers.Serializer):
    epoch = serializers.JSONField(help_text="1, 2, ...")
    metrics = serializers.JSONField(help_text='{"val_accuracy": 0.91, "train_loss": 0.3}')
    attempt = attempt_field()


class HeartbeatSerializer(serializers.Serializer):
    attempt = attempt_field()


class TellSerializer(serializers.Serializer):
    metrics = serializers.JSONField(required=False, help_text="final metrics, with the search's objective metric")
    error = serializers.CharField(required=False, allow_blank=True, max_length=10_000,
                                  help_text="instead of metrics: the trial failed, and why")
    attempt = attempt_field()

    def validate(self, attrs):
        if ("metrics" in attrs) == ("error" in attrs):
            raise serializers.ValidationError({"metrics": "give either metrics or error"})
        return attrs


class TrialProgressSerializer(serializers.Serializer):
    accepted = serializers.BooleanField(help_text="false: the trial had already ended (pruned, cancelled, lost)")
    keep_going = serializers.BooleanField(help_text="false: stop training this trial")
    state = serializers.CharField()


class TokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "revoked_at"]


class NewTokenSerializer(TokenSerializer):
    key = serializers.CharField(help_text="the token; shown this once, store it now")

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "key"]


class TokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=80, allow_blank=True)


class ShareLinkRequestSerializer(serializers.Serializer):
    label = serializers.CharField(required=False, allow_blank=True, max_length=120,
                                  help_text="who the link is for, e.g. 'board meeting'")


class ShareLinkSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    url = serializers.CharField(help_text="the page anyone holding it can open, logged out")
