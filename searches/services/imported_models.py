"""Writer of imported models: a trained model uploaded as its exported JSON spec and state_dict,
recorded as the one completed trial of its own search so that it can be pruned like a trained trial.

The two files are the ones a trial's export page gives (searches/export.py, export_loader.py). Every
check runs before anything is written: the spec parses and its architecture is in its space, the
space is one we prune, the model takes this project's data (input shape, classes, task, vocabulary),
and the state_dict (read with torch.load(weights_only=True): it cannot run code) has exactly the keys
and shapes of the model the spec builds. The model's validation accuracy is then measured on the
project's data (seed 0, the imported search's seed), and one transaction writes the search (state
done, so the strategy never runs), its trial (metrics["source"] says it was uploaded) and, last, the
weights file (write then rename). A pruning search of that trial is started by start_pruning_search.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from ..checks import SpecError
from ..engine_data import is_benchmark, load_project_data
from ..export_loader import ExportError, spec_of
from ..models import Project, Trial
from ..spaces.registry import build_space
from ..structured_pruning.space import PRUNABLE_KINDS, PRUNED_FROM
from ..training.trainer import evaluate
from ..weights import keep_weights
from .lifecycle import create_search_rows
from .search_spec import validate_search
from .search_state import complete_search
from .trials import record_imported_trial

#: The JSON spec is a few kilobytes; more is not a spec.
MAX_SPEC_BYTES = 1024 * 1024
IMPORTED_SEED = 0
UPLOAD_SOURCE = "uploaded (JSON spec + state_dict)"


@dataclass(frozen=True)
class CheckedUpload:
    spec: dict
    space: object
    model: object  # the torch module with the uploaded weights loaded


def import_trained_model(project: Project, user, spec_file, state_dict_file, name: str = "") -> Trial:
    """Check both files fully, measure the model, then record it as a completed trial with its weights."""
    if is_benchmark(project.dataset):
        raise ValidationError({"__all__": "this project answers trials from a benchmark table: it has no data to "
                                          "measure or fine-tune an uploaded model on"})
    data = load_project_data(project.dataset, IMPORTED_SEED)
    upload = _checked_upload(data, spec_file, state_dict_file)
    val_loss, val_accuracy = evaluate(upload.model, data.x_val, data.y_val, "cpu")
    metrics = {"val_accuracy": val_accuracy, "val_loss": val_loss, "source": UPLOAD_SOURCE,
               "params": sum(p.numel() for p in upload.model.parameters())}
    label = (name.strip() or upload.space.describe(upload.spec["arch"]))
    search_spec = validate_search(project, user=user, name=f"Uploaded model: {label}"[:120],
                                  space_kind=upload.spec["space_kind"], space_spec=upload.space.spec,
                                  strategy="random", objectives=[{"metric": "val_accuracy", "direction": "max"}],
                                  training={"epochs": 1}, max_trials=1, seed=IMPORTED_SEED)
    with transaction.atomic():
        search = create_search_rows(project, user, search_spec, upload.space.spec)
        complete_search(search, exhausted=False)  # done: its strategy never proposes a trial
        trial = record_imported_trial(search, upload.spec["arch"], upload.space, metrics)
        keep_weights(trial.id, upload.model)  # last: a failure before it rolls the rows back
    return trial


def _checked_upload(data, spec_file, state_dict_file) -> CheckedUpload:
    spec = _read_spec(_read_limited(spec_file, MAX_SPEC_BYTES, "spec"))
    space = _spec_space(spec)
    _check_fits_data(spec, data)
    model = space.to_torch(spec["arch"], tuple(data.input_shape), data.num_classes, task=data.task,
                           vocab_size=getattr(data, "vocab_size", 0))
    state = _read_state_dict(_read_limited(state_dict_file, settings.NASWEB_MAX_UPLOAD_BYTES, "state_dict"))
    _check_matches_model(state, model)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:  # e.g. a tensor whose type cannot be copied into the parameter
        raise ValidationError({"state_dict": f"its weights do not load: {str(exc).splitlines()[0][:300]}"}) from exc
    return CheckedUpload(spec, space, model.eval())


def _read_limited(file, limit: int, field: str) -> bytes:
    if file is None:
        raise ValidationError({field: "choose a file"})
    content = file.read(limit + 1)
    if len(content) > limit:
        raise ValidationError({field: f"the file is larger than {limit // (1024 * 1024)} MB"})
    if not content:
        raise ValidationError({field: "the file is empty"})
    return content


def _read_spec(content: bytes) -> dict:
    try:
        spec = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError({"spec": f"not a JSON file: {exc}"}) from exc
    if not isinstance(spec, dict):
        raise ValidationError({"spec": "a model spec is a JSON object (the file a trial's “JSON spec” export gives)"})
    try:
        return spec_of(spec)
    except ExportError as exc:
        raise ValidationError({"spec": str(exc)}) from exc


def _spec_space(spec: dict):
    """The spec's space (without any pruning provenance), checked to hold the spec's architecture."""
    kind, space_spec = spec["space_kind"], spec["space_spec"]
    if not isinstance(kind, str) or kind not in PRUNABLE_KINDS:
        raise ValidationError({"spec": f"pruning is available for the {', '.join(sorted(PRUNABLE_KINDS))} spaces; "
                                       f"this model's space is {kind!r}"})
    if not isinstance(space_spec, dict):
        raise ValidationError({"spec": "space_spec must be the space's settings, a JSON object"})
    if PRUNED_FROM in space_spec:  # our exports never write it: it names a trial of this database
        raise ValidationError({"spec": f"space_spec holds {PRUNED_FROM!r}: upload the spec as an export gives it"})
    try:
        space = build_space(kind, space_spec)
        space.validate_arch(spec["arch"])
    except SpecError as exc:
        raise ValidationError({"spec": f"not a model of the {kind} space: {exc}"}) from exc
    except (TypeError, ValueError, KeyError) as exc:
        raise ValidationError({"spec": f"not a model of the {kind} space: {exc!r}"}) from exc
    return space


def _check_fits_data(spec: dict, data) -> None:
    mismatches = [f"{what} {theirs!r} (this project's data: {ours!r})" for what, theirs, ours in (
        ("input shape", list(spec["input_shape"]) if isinstance(spec["input_shape"], list) else spec["input_shape"],
         list(data.input_shape)),
        ("classes", spec["num_classes"], data.num_classes), ("task", spec["task"], data.task),
        ("vocabulary size", spec["vocab_size"], getattr(data, "vocab_size", 0))) if theirs != ours]
    if mismatches:
        raise ValidationError({"spec": "the model does not fit this project's data: " + "; ".join(mismatches)})


def _read_state_dict(content: bytes) -> dict:
    import torch  # heavy

    try:
        state = torch.load(io.BytesIO(content), map_location="cpu", weights_only=True)
    except Exception as exc:  # a pickle that is not plain tensors, or not a torch file at all
        raise ValidationError({"state_dict": "not a PyTorch state_dict file (torch.save(model.state_dict()), read "
                                             f"with weights_only=True): {str(exc).splitlines()[0][:300]}"}) from exc
    if not isinstance(state, Mapping) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                 for k, v in state.items()):
        raise ValidationError({"state_dict": "a state_dict maps parameter names to tensors; this file holds "
                                             f"a {type(state).__name__}"})
    return dict(state)


def _check_matches_model(state: dict, model) -> None:
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = ([f"missing {_few(missing)}"] if missing else []) + ([f"unexpected {_few(unexpected)}"]
                                                                      if unexpected else [])
        raise ValidationError({"state_dict": "its keys are not those of the model the spec describes: "
                                             + "; ".join(parts)})
    wrong = [f"{k} is {list(state[k].shape)}, the model's is {list(v.shape)}"
             for k, v in expected.items() if state[k].shape != v.shape]
    if wrong:
        raise ValidationError({"state_dict": "its shapes are not those of the model the spec describes: "
                                             + _few(wrong)})
    kinds = [f"{k} is {state[k].dtype}, the model's is {v.dtype}" for k, v in expected.items()
             if state[k].is_floating_point() != v.is_floating_point() or state[k].is_complex()]
    if kinds:
        raise ValidationError({"state_dict": "its number types are not those of the model: " + _few(kinds)})
    if not all(bool(t.isfinite().all()) for t in state.values() if t.is_floating_point()):
        raise ValidationError({"state_dict": "its weights hold NaN or infinite values"})


def _few(items: list[str], count: int = 3) -> str:
    return ", ".join(items[:count]) + (f" and {len(items) - count} more" if len(items) > count else "")
