"""Forms: validate input, then the view calls a service. Space fields are built
from each space's spec_fields(), so a new space needs no form code."""

from __future__ import annotations

import json
import math

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.core.exceptions import ValidationError

from devices.target_costs import in_process_cost_metrics

from .benchmarks.registry import BENCHMARKS
from .checks import FloatRange, IntRange
from .estimators.zero_cost import PROXIES
from .models import Search
from .oneshot.registry import ONESHOT_STRATEGIES
from .pruners import pruner_choices
from .services.search_spec import CONSTRAINT_RANGES, SEARCH_RANGES, validate_space
from .settings_fields import (
    add_setting_fields,
    json_only,
    merge_settings,
    pruner_schema,
    setting_field_name,
    strategy_schema,
)
from .spaces.registry import SPACES
from .strategies.base import DEFAULT_OBJECTIVE
from .strategies.registry import STRATEGIES
from .training.datasets import BUILTIN_DATASETS
from .training.settings import OPTIMIZERS, OPTIONAL_TRAINING_DEFAULTS, TRAINING_DEFAULTS, TRAINING_RANGES
from .training.uploads import UPLOAD_FORMATS


class SignUpForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username",)


def dataset_choices() -> list[tuple[str, str]]:
    builtins = [(f"builtin:{k}", d.label) for k, d in BUILTIN_DATASETS.items()]
    benchmarks = [(f"benchmark:{k}", b.label) for k, b in BENCHMARKS.items()]
    return builtins + benchmarks + [("upload", "Upload a file…")]


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    dataset = forms.ChoiceField(choices=lambda: dataset_choices())
    upload_file = forms.FileField(required=False, label="File")
    upload_format = forms.ChoiceField(required=False, label="Format",
                                      choices=[(k, f.label) for k, f in UPLOAD_FORMATS.items()])
    label_column = forms.CharField(required=False, help_text="CSV: the name of the column that holds the labels")
    seq_len = forms.IntegerField(required=False, min_value=2, max_value=4096, label="Sequence length",
                                 help_text="text: characters per training sequence (default 64)")
    members = forms.CharField(required=False, help_text="usernames, comma separated")

    def clean(self):
        data = super().clean()
        if data.get("dataset") == "upload":
            if not data.get("upload_file") and "upload_file" not in self.errors:  # one message per problem
                self.add_error("upload_file", "choose a file to upload")
            if data.get("upload_format") == "csv" and not data.get("label_column"):
                self.add_error("label_column", "name the label column of the CSV file")
        return data

    def upload_options(self) -> dict:
        fmt = self.cleaned_data.get("upload_format")
        if fmt == "csv":
            return {"label_column": self.cleaned_data["label_column"]}
        if fmt == "text" and self.cleaned_data.get("seq_len"):
            return {"seq_len": self.cleaned_data["seq_len"]}
        return {}

    def clean_members(self):
        names = [n.strip() for n in self.cleaned_data["members"].split(",") if n.strip()]
        users = list(get_user_model().objects.filter(username__in=names))
        missing = sorted(set(names) - {u.username for u in users})
        if missing:
            raise ValidationError(f"no such user: {', '.join(missing)}")
        return users


#: Settings are a handful of numbers and names: anything longer or deeper than this is not settings.
JSON_MAX_CHARS = 10_000
JSON_MAX_DEPTH = 8


def json_depth(text: str) -> int:
    """The deepest nesting of [ and { in JSON text, strings skipped; linear, and safe on any input."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def parse_json_object(text: str) -> dict:
    text = (text or "").strip()
    if not text:
        return {}
    if len(text) > JSON_MAX_CHARS:
        raise ValidationError(f"at most {JSON_MAX_CHARS:,} characters of JSON, got {len(text):,}")
    if json_depth(text) > JSON_MAX_DEPTH:
        raise ValidationError(f"nested deeper than {JSON_MAX_DEPTH} levels; settings are flat")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except ValueError:  # a number of more than 4300 digits (Python's limit on int parsing)
        raise ValidationError("not valid settings: a number in it is absurdly long") from None
    if not isinstance(value, dict):
        raise ValidationError('must be a JSON object, e.g. {"population_size": 20}')
    return value


def spec_field_name(kind: str, name: str) -> str:
    return f"spec__{kind}__{name}"


def _form_field(spec_field, initial):
    common = {"label": spec_field.label, "help_text": spec_field.help, "required": False}
    kind = spec_field.kind
    if kind == "int":
        return forms.IntegerField(initial=initial, **common)
    if kind == "float":
        return forms.FloatField(initial=initial, **common)
    if kind in ("int_list", "float_list"):
        text = ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in (initial or []))
        return forms.CharField(initial=text, **common)
    # A browser sends every option as text: coerce it back to the option itself (3, not "3").
    by_text = {str(o): o for o in spec_field.options}
    if kind == "multi":
        return forms.TypedMultipleChoiceField(choices=[(o, o) for o in spec_field.options], initial=initial,
                                              coerce=by_text.__getitem__, widget=forms.CheckboxSelectMultiple,
                                              **common)
    if kind == "choice":
        return forms.TypedChoiceField(choices=[(o, o) for o in spec_field.options], initial=initial,
                                      coerce=by_text.__getitem__, **common)
    if kind == "bool":
        return forms.BooleanField(initial=initial, **common)
    raise ValueError(f"unknown spec field kind {kind!r}")


def _parse_list(text: str, integer: bool) -> list:
    items = [t.strip() for t in (text or "").replace(";", ",").split(",") if t.strip()]
    try:
        return [int(t) if integer else float(t) for t in items]
    except ValueError:
        kind = "whole numbers" if integer else "numbers"
        raise ValidationError(f"enter {kind} separated by commas") from None


def cost_target_choices(project=None, user=None) -> list[tuple[str, str]]:
    """Hardware targets a search of `project` by `user` may use (the shared ones when neither is given)
    whose costs are computed in-process, as "<cost>@<target id>" keys."""
    return list(in_process_cost_metrics(project=project, user=user).items())


def second_objective_choices(project=None, user=None) -> list[tuple[str, str]]:
    base = [("", "none: rank by validation accuracy only"), ("params", "fewest parameters"),
            ("train_seconds", "shortest training time")]
    return base + [(key, f"lowest {label}") for key, label in cost_target_choices(project, user)]


def range_field(allowed: IntRange | FloatRange, **options) -> forms.Field:
    """A number field whose limits are a range the service checks too: the form and the service cannot
    disagree, and no number the form lets through overflows a column."""
    field_class = forms.IntegerField if isinstance(allowed, IntRange) else forms.FloatField
    # An open low end, (0, 10], cannot be said by min_value: the service's check refuses the low end itself.
    low = None if getattr(allowed, "open_low", False) else allowed.low
    return field_class(min_value=low, max_value=allowed.high, widget=forms.NumberInput(attrs=allowed.html_attrs()),
                       **options)


def training_field(name: str, **options) -> forms.Field:
    """A training setting's field, its default and limits taken from training/settings.py."""
    initial = {**TRAINING_DEFAULTS, **OPTIONAL_TRAINING_DEFAULTS}[name]
    return range_field(TRAINING_RANGES[name], initial=initial, **options)


class SearchForm(forms.Form):
    name = forms.CharField(max_length=120)
    space_kind = forms.ChoiceField(label="Search space", choices=[(k, c.label) for k, c in SPACES.items()])
    strategy = forms.ChoiceField(choices=[
        ("Trial by trial", [(k, c.label) for k, c in STRATEGIES.items()]),
        ("One-shot (one supernet, weight sharing)", [(k, c.label) for k, c in ONESHOT_STRATEGIES.items()]),
    ])
    strategy_settings = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text='for experts: JSON such as {"population_size": 20}. A key here sets its setting unless its field '
                  'above was changed to another value (then both are refused); empty for the fields alone')
    second_objective = forms.ChoiceField(
        required=False, label="Second objective", choices=lambda: second_objective_choices(),
        help_text="adds a Pareto front to the search page; NSGA-II optimises both")
    max_params = range_field(CONSTRAINT_RANGES["max_params"], required=False,
                             label="Constraint: at most this many parameters",
                             help_text="architectures over the limit are never trained")
    cost_limit = range_field(CONSTRAINT_RANGES["cost_limit"], required=False, label="Constraint: at most this cost",
                             help_text="e.g. 20 (ms of latency) on the target below")
    cost_limit_target = forms.ChoiceField(required=False, label="…on this hardware target",
                                          choices=lambda: [("", "–")] + cost_target_choices())
    pruner = forms.ChoiceField(required=False, label="Early stopping of trials",
                               choices=lambda: [("", "none: every trial trains all its epochs"), *pruner_choices()],
                               help_text="stops unpromising trials between epochs")
    pruner_settings = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 1}),
                                      help_text='for experts: JSON, e.g. {"eta": 3}, merged with the fields above '
                                                'as the strategy\'s are; empty for the fields alone')
    warm_start_from = forms.ModelMultipleChoiceField(
        queryset=Search.objects.none(), required=False, widget=forms.CheckboxSelectMultiple,
        label="Warm start from", help_text="earlier searches on the same kind of space: their trials inform "
                                           "this one and are not proposed again")
    max_trials = range_field(SEARCH_RANGES["max_trials"], initial=10, required=False, label="Budget: trials")
    max_seconds = range_field(SEARCH_RANGES["max_seconds"], required=False, label="Budget: seconds")
    parallelism = range_field(SEARCH_RANGES["parallelism"], initial=1, help_text="trials in flight at once")
    seed = range_field(SEARCH_RANGES["seed"], initial=0, help_text="the same seed proposes the same architectures")
    device = forms.ChoiceField(choices=Search.DEVICES, initial="cpu")
    evaluator = forms.ChoiceField(choices=Search.EVALUATORS, initial=Search.WORKERS, required=False,
                                  label="Who trains the trials",
                                  help_text="your own code: a script asks for each architecture over the API "
                                            "(README: ask/tell)")
    epochs = training_field("epochs")
    batch_size = training_field("batch_size")
    lr = training_field("lr", label="Learning rate")
    optimizer = forms.ChoiceField(choices=[(o, o) for o in OPTIMIZERS], initial=TRAINING_DEFAULTS["optimizer"])
    data_fraction = training_field("data_fraction", label="Data fraction",
                                   help_text="low fidelity: train each trial on this share of the training split")
    width_multiplier = training_field("width_multiplier", label="Width multiplier",
                                      help_text="low fidelity: train a thinner (or wider) copy of each architecture")
    prerank_proxy = forms.ChoiceField(required=False, label="Zero-cost pre-ranking",
                                      choices=lambda: [("", "off"), *((p, p) for p in PROXIES)],
                                      help_text="score several untrained candidates per slot; train only the best")
    prerank_pool = forms.IntegerField(min_value=2, max_value=50, initial=4, label="Candidates per slot",
                                      help_text="how many proposals the filters choose from for each trial")
    surrogate_quantile = forms.FloatField(required=False, min_value=0.01, max_value=0.99,
                                          label="Skip candidates predicted below this quantile",
                                          help_text="a predictor fitted on finished trials; e.g. 0.5 skips those "
                                                    "predicted worse than the median trial")

    def __init__(self, *args, project=None, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the hardware targets this user may use in this project (devices/access.py).
        self.fields["second_objective"].choices = second_objective_choices(project, user)
        self.fields["cost_limit_target"].choices = [("", "–")] + cost_target_choices(project, user)
        if project is not None:
            self.fields["warm_start_from"].queryset = project.searches.select_related("space").order_by("-created_at")
            self.fields["warm_start_from"].label_from_instance = lambda s: f"{s.name} ({s.space.kind}, {s.state})"
        for kind, cls in SPACES.items():
            defaults = cls.default_spec()
            for f in cls.spec_fields():
                self.fields[spec_field_name(kind, f.name)] = _form_field(f, defaults.get(f.name))
        # Some limits of a strategy's settings depend on the space: they are read off the chosen kind's default.
        self.schema_space = self._chosen_space_kind()
        add_setting_fields(self, "setting", {s: strategy_schema(s, self.schema_space) for s in self.strategy_names()})
        add_setting_fields(self, "pruner_setting", {p: pruner_schema(p) for p, _ in pruner_choices()})
        #: The settings whose values came from their fields (a service's message about one goes on its field).
        self.from_fields = {"strategy_settings": set(), "pruner_settings": set()}

    def _chosen_space_kind(self) -> str:
        kind = self.data.get("space_kind") if self.is_bound else (self.initial or {}).get("space_kind")
        return kind if kind in SPACES else next(iter(SPACES))

    @staticmethod
    def strategy_names() -> list[str]:
        return [*STRATEGIES, *ONESHOT_STRATEGIES]

    def strategy_fieldsets(self):
        """[(strategy, label, [bound fields], [settings only the JSON box sets])]; JS shows the chosen one."""
        labels = {k: c.label for k, c in (*STRATEGIES.items(), *ONESHOT_STRATEGIES.items())}
        return [self._settings_fieldset("setting", s, labels[s], strategy_schema(s, self.schema_space))
                for s in self.strategy_names()]

    def pruner_fieldsets(self):
        return [self._settings_fieldset("pruner_setting", p, label, pruner_schema(p)) for p, label in pruner_choices()]

    def _settings_fieldset(self, prefix: str, owner: str, label: str, schema) -> tuple:
        names = (setting_field_name(prefix, owner, info.name) for info in schema)
        return owner, label, [self[n] for n in names if n in self.fields], json_only(schema)

    def space_fieldsets(self):
        """[(kind, label, [bound fields])] for the template; JS shows the chosen kind only."""
        return [(kind, cls.label, [self[spec_field_name(kind, f.name)] for f in cls.spec_fields()])
                for kind, cls in SPACES.items()]

    def clean_strategy_settings(self):
        return parse_json_object(self.cleaned_data["strategy_settings"])

    def clean_pruner_settings(self):
        return parse_json_object(self.cleaned_data["pruner_settings"])

    def space_size(self) -> dict:
        """The exact size of the chosen space from its fields, for the form's live line:
        {"size": "47988", "log10": 4.68} or {"error": "widths: ..."}. Fields other than the space's are ignored."""
        self.is_valid()
        kind = self.cleaned_data.get("space_kind")
        if kind not in SPACES:
            return {"error": "choose a search space"}
        spec = self.space_spec()
        own = [spec_field_name(kind, f.name) for f in SPACES[kind].spec_fields()]
        errors = [f"{name.rsplit('__', 1)[-1]}: {' '.join(self.errors[name])}" for name in own if name in self.errors]
        if errors:
            return {"error": "; ".join(errors)}
        try:
            space = validate_space(kind, spec)
        except ValidationError as exc:
            messages = (f"{k.removeprefix('spec.')}: {' '.join(v)}" for k, v in exc.message_dict.items())
            return {"error": "; ".join(messages)}
        size = space.size()
        return {"size": str(size), "log10": round(math.log10(size), 2)}

    def space_spec(self) -> dict:
        """The chosen space's spec, from its fields; field errors are added to the form."""
        kind = self.cleaned_data.get("space_kind")
        spec = {}
        for f in SPACES[kind].spec_fields():
            name = spec_field_name(kind, f.name)
            value = self.cleaned_data.get(name)
            if value in (None, "", []) and f.kind != "bool":
                self.add_error(name, "this setting is required")
                continue
            if f.kind in ("int_list", "float_list"):
                try:
                    value = _parse_list(value, integer=f.kind == "int_list")
                except ValidationError as exc:
                    self.add_error(name, exc)
                    continue
            spec[f.name] = value
        return spec

    def training(self) -> dict:
        d = self.cleaned_data
        return {k: d[k] for k in ("epochs", "batch_size", "lr", "optimizer", "data_fraction", "width_multiplier")}

    def estimation(self) -> dict:
        d = self.cleaned_data
        return {"prerank_proxy": d["prerank_proxy"], "prerank_pool": d["prerank_pool"],
                "surrogate_quantile": d["surrogate_quantile"]}

    def objectives(self) -> list[dict]:
        objectives = [DEFAULT_OBJECTIVE.as_dict()]
        if self.cleaned_data.get("second_objective"):
            objectives.append({"metric": self.cleaned_data["second_objective"], "direction": "min"})
        return objectives

    def constraints(self) -> list[dict]:
        d, out = self.cleaned_data, []
        if d.get("max_params"):
            out.append({"metric": "params", "max": d["max_params"]})
        if d.get("cost_limit") and d.get("cost_limit_target"):
            out.append({"metric": d["cost_limit_target"], "max": d["cost_limit"]})
        return out

    def clean(self):
        data = super().clean()
        if bool(data.get("cost_limit")) != bool(data.get("cost_limit_target")):
            self.add_error("cost_limit_target", "give both the cost limit and its hardware target")
        strategy, pruner = data.get("strategy", ""), data.get("pruner", "")
        self._forget_other_settings(f"setting__{strategy}__", f"pruner_setting__{pruner}__")
        if strategy:
            self._merge("setting", strategy, strategy_schema(strategy, self.schema_space), "strategy_settings")
        if pruner:
            self._merge("pruner_setting", pruner, pruner_schema(pruner), "pruner_settings")
        return data

    def _forget_other_settings(self, *chosen: str) -> None:
        """The fields of the strategies and pruners not chosen are hidden and unused: their errors would be
        messages no one can see, so they are dropped."""
        for name in list(self._errors):
            if name.startswith(("setting__", "pruner_setting__")) and not name.startswith(chosen):
                del self._errors[name]

    def _merge(self, prefix: str, owner: str, schema, json_field: str) -> None:
        """The fields and the JSON box merged into cleaned_data[json_field], by settings_fields' rule."""
        merged, from_fields = merge_settings(self, prefix, owner, schema, json_field)
        if json_field in self.cleaned_data:  # not when the JSON was refused, or disagreed with a field
            self.cleaned_data[json_field] = merged
            self.from_fields[json_field] = from_fields

    def add_service_errors(self, error: ValidationError) -> None:
        """Map a service's 'spec.widths' style keys onto this form's fields."""
        kind = self.cleaned_data.get("space_kind")
        for key, messages in error.message_dict.items():
            field = None
            if key.startswith("spec."):
                field = spec_field_name(kind, key[len("spec."):])
            elif key.startswith("training."):
                field = key[len("training."):]
            elif key.startswith("strategy_settings."):
                setting = key[len("strategy_settings."):]
                if setting in self.from_fields["strategy_settings"]:
                    field = setting_field_name("setting", self.cleaned_data["strategy"], setting)
                else:
                    messages = [f"{setting}: {m}" for m in messages]
                    field = "strategy_settings"
            elif key in ("prerank_proxy", "prerank_pool", "surrogate_quantile"):
                field = key
            elif key.startswith("pruner_settings"):
                if key.startswith("pruner_settings."):
                    messages = [f"{key[len('pruner_settings.'):]}: {m}" for m in messages]
                field = "pruner_settings"
                setting, _, rest = messages[0].partition(": ") if len(messages) == 1 else ("", "", "")
                if setting in self.from_fields["pruner_settings"]:  # "eta: must be ..." about the eta field
                    field, messages = setting_field_name("pruner_setting", self.cleaned_data["pruner"], setting), [rest]
            elif key == "objectives":
                field = "second_objective"
            elif key == "constraints":
                field = "max_params"
            elif key in self.fields:
                field = key
            for message in messages:
                self.add_error(field if field in self.fields else None, message)


class PruningForm(forms.Form):
    """Prune this trial: the budget (parameters, MACs or a hardware target's cost), the strategy, how
    many candidates and how long each fine-tunes. The service (services/pruning.py) checks the rest."""

    budget_metric = forms.ChoiceField(label="Budget on", help_text="what the pruned model must stay within")
    budget_value = forms.FloatField(label="Budget", min_value=0, help_text="at most this many (parameters, MACs, "
                                                                            "or the target's unit, e.g. ms)")
    strategy = forms.ChoiceField(label="Strategy", initial="evolution")
    candidates = forms.IntegerField(label="Candidates", initial=8, min_value=1, max_value=500,
                                    help_text="width settings to try (each is a trial)")
    finetune_epochs = forms.IntegerField(label="Fine-tune epochs", initial=2, min_value=1, max_value=100,
                                         help_text="epochs each pruned model trains from the kept weights")

    def __init__(self, *args, budget_metrics: dict[str, str], strategies: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["budget_metric"].choices = list(budget_metrics.items())
        self.fields["strategy"].choices = list(strategies.items())

    def request_fields(self) -> dict:
        """The fields of services.PruningRequest."""
        d = self.cleaned_data
        kind = d["budget_metric"] if d["budget_metric"] in ("params", "macs") else "target"
        return {"budget_kind": kind, "budget_value": d["budget_value"], "strategy": d["strategy"],
                "candidates": d["candidates"], "finetune_epochs": d["finetune_epochs"],
                "target_metric": d["budget_metric"] if kind == "target" else ""}


class ModelUploadForm(forms.Form):
    """Prune an uploaded model, step 1: the two files a trial's export page gives. The service
    (services/imported_models.py) checks that they are one model of a space we prune, for this project's data."""

    spec = forms.FileField(label="JSON spec (.json)", help_text="the “JSON spec” export: space, architecture, input")
    state_dict = forms.FileField(label="Weights (.pt state_dict)",
                                 help_text="torch.save(model.state_dict()) of that model, trained on this data")
    name = forms.CharField(label="Name", required=False, max_length=80,
                           help_text="how the uploaded model is called here (default: its architecture)")
