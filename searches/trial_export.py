"""Exports of stored trials: one trial's model in four formats, a search's trials as CSV.

The one implementation behind the trial page's download links (and any API or
command that exports): ``export_trial(trial, fmt) -> (filename, bytes)`` and
``trials_csv(search) -> (filename, bytes)``. The model files are made by the
engine (searches/export.py) from the trial's architecture and its kept weights
(searches/weights.py). Reads only.
"""

from __future__ import annotations

import csv
import io
import re

import torch

from .engine_data import is_benchmark, model_inputs, weights_path
from .export import FORMATS, WEIGHT_FORMATS, export_model, model_spec
from .export_loader import ExportError
from .fidelity import thinner
from .models import Search, Trial


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "search"


def trial_filename(trial: Trial, fmt: str) -> str:
    return f"{slug(trial.search.name)}-trial-{trial.number}{FORMATS[fmt][0]}"


def trial_model_spec(trial: Trial) -> dict:
    """The JSON spec of the network the trial trained (width-scaled as it was trained)."""
    search = trial.search
    inputs = model_inputs(search.project.dataset, search.seed)
    space, arch = thinner(search.space.build(), trial.arch, search.training.get("width_multiplier", 1.0))
    return model_spec(space.kind, space.spec, arch, inputs.input_shape, inputs.num_classes, inputs.task,
                      inputs.vocab_size, search=search.name, trial=trial.number, state=trial.state,
                      description=trial.description,
                      metrics={k: v for k, v in trial.metrics.items() if isinstance(v, (int, float))})


def exportable_formats(trial: Trial) -> list[str]:
    """The formats this trial can be exported in now: the spec always, the rest with kept weights."""
    return ["spec"] + ([] if why_no_weights(trial) else list(WEIGHT_FORMATS))


def why_no_weights(trial: Trial) -> str:
    """Why a trial offers only its spec, in words ("" when it has weights to export)."""
    if is_benchmark(trial.search.project.dataset):
        return "Trials answered from a benchmark table are not trained, so there are no weights."
    if trial.state != Trial.COMPLETE:
        return f"Only completed trials keep weights; this one is {trial.state}."
    if weights_path(trial.id).exists():
        return ""
    return ("Its weights were not kept: each search keeps the weights of its best completed trials only "
            "(NASWEB_KEEP_WEIGHTS).")


def export_trial(trial: Trial, fmt: str) -> tuple[str, bytes]:
    """(file name, file bytes) of the trial's model in `fmt`; ExportError says why not."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {sorted(FORMATS)}")
    spec = trial_model_spec(trial)
    state = None
    if fmt in WEIGHT_FORMATS:
        reason = why_no_weights(trial)
        if reason:
            raise ExportError(reason)
        state = torch.load(weights_path(trial.id), map_location="cpu", weights_only=True)
    return trial_filename(trial, fmt), export_model(spec, state, fmt)


FIXED_COLUMNS = ("number", "state", "architecture", "val_accuracy", "params", "epochs_done", "wall_seconds",
                 "worker", "device", "started_at", "finished_at", "error")


def trials_csv(search: Search) -> tuple[str, bytes]:
    """Every trial of the search, one row each: state, architecture, each decision, every final metric."""
    decisions = [d.name for d in search.space.build().decisions]
    trials = list(search.trials.order_by("number"))
    metric_names = sorted({k for t in trials for k, v in t.metrics.items()
                           if isinstance(v, (int, float, str)) and k not in ("val_accuracy", "params")})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*FIXED_COLUMNS, *(f"arch.{d}" for d in decisions), *(f"metric.{m}" for m in metric_names)])
    for t in trials:
        writer.writerow([
            t.number, t.state, t.description, _cell(t.val_accuracy), _cell(t.params), t.epochs_done,
            _cell(t.seconds), t.worker, t.device, _time(t.started_at), _time(t.finished_at),
            t.error.splitlines()[0] if t.error else "",
            *(_cell(t.arch.get(d, "")) for d in decisions), *(_cell(t.metrics.get(m, "")) for m in metric_names),
        ])
    return f"{slug(search.name)}-trials.csv", out.getvalue().encode()


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def _time(value):
    return value.isoformat() if value else ""
