"""Data access for the engine: what a stored project hands to engine code.

The floor just above the engine. It turns rows (a Dataset, a Search) into what
spaces, trainers and cost models take (data splits, input shapes, a benchmark
table) and names where a trial keeps its checkpoints. It reads; it writes no row.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection

from .benchmarks.registry import BENCHMARKS, benchmark_evaluator
from .models import Dataset
from .training.datasets import DataSplits, load_builtin
from .training.uploads import load_upload


@functools.lru_cache(maxsize=8)
def _builtin_data(key: str, seed: int) -> DataSplits:
    # Workers train many trials on the same data: load and split it once per process.
    return load_builtin(key, seed)


@functools.lru_cache(maxsize=4)
def _upload_data(dataset_id: int, path: str, fmt: str, options_json: str, seed: int) -> DataSplits:
    return load_upload(path, fmt, seed, settings.NASWEB_MAX_UPLOAD_BYTES, **json.loads(options_json))


def is_benchmark(dataset: Dataset) -> bool:
    """A benchmark 'dataset' has no data: its trials are answered from a table."""
    return dataset.source == Dataset.BENCHMARK


def load_project_data(dataset: Dataset, seed: int) -> DataSplits:
    if dataset.source == Dataset.BUILTIN:
        return _builtin_data(dataset.builtin_key, seed)
    return _upload_data(dataset.id, dataset.file.path, dataset.file_format,
                        json.dumps(dataset.options, sort_keys=True), seed)


def evaluator_for(dataset: Dataset):
    """The table that answers a benchmark project's trials."""
    return benchmark_evaluator(dataset.builtin_key)


@dataclass(frozen=True)
class ModelInputs:
    input_shape: tuple
    num_classes: int
    task: str = "classification"
    vocab_size: int = 0


def model_inputs(dataset: Dataset, seed: int) -> ModelInputs:
    """What the project's models take: the benchmark's network input, or the loaded data's shape."""
    if is_benchmark(dataset):
        benchmark = BENCHMARKS[dataset.builtin_key]
        return ModelInputs(tuple(benchmark.input_shape), benchmark.num_classes)
    data = load_project_data(dataset, seed)
    return ModelInputs(tuple(data.input_shape), data.num_classes, data.task, getattr(data, "vocab_size", 0))


def build_model(search, arch: dict):
    """(torch model of `arch`, its ModelInputs) for a stored search."""
    inputs = model_inputs(search.project.dataset, search.seed)
    model = search.space.build().to_torch(arch, inputs.input_shape, inputs.num_classes, task=inputs.task,
                                          vocab_size=inputs.vocab_size)
    return model, inputs


def weights_path(trial_id: int) -> Path:
    """Where a completed trial's final (best-epoch) weights are kept for export: a state_dict file."""
    return _database_folder("weights") / f"trial-{trial_id}.pt"


def pruning_source_path(trial_id: int) -> Path:
    """The copy of a trial's weights that its pruning searches start from: the disk policy of the
    trial's own search may delete trial-<id>.pt later, and this copy stays."""
    return _database_folder("weights") / f"pruning-source-trial-{trial_id}.pt"


def pruning_gates_path(search_id: int) -> Path:
    """A learned-gates pruning search's gated model (weights trained with the gates) and gate values."""
    return _database_folder("weights") / f"pruning-gates-search-{search_id}.pt"


def checkpoint_folder() -> Path:
    """Where trials keep their epoch checkpoints."""
    return _database_folder("checkpoints")


def _database_folder(kind: str) -> Path:
    """var/<kind>/<database tag>/, created on first use.

    Keyed by database: several databases (a test run, a demo) may share one var folder, and their
    trial ids overlap.
    """
    db = connection.settings_dict
    tag = hashlib.sha1(f"{db['ENGINE']}|{db.get('HOST')}|{db.get('PORT')}|{db['NAME']}".encode()).hexdigest()[:12]
    folder = Path(settings.VAR_DIR) / kind / tag
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def checkpoint_path(trial_id: int, attempt: int) -> Path:
    """The checkpoint one attempt (claim) of a trial writes, so a requeued trial resumes where it
    stopped. Each attempt writes its own file: a worker that lost its claim cannot overwrite the
    checkpoint of the one that holds it now."""
    return checkpoint_folder() / f"trial-{trial_id}.attempt-{attempt}.pt"


def checkpoints_of(trial_id: int) -> dict[int, Path]:
    """attempt -> checkpoint file, of every attempt of a trial that left one."""
    return _attempt_files(f"trial-{trial_id}")


def oneshot_checkpoint_path(search_id: int, attempt: int) -> Path:
    """The supernet checkpoint one attempt (claim) of a one-shot search writes after every epoch,
    keyed like a trial's: a worker that lost its claim cannot overwrite the holder's."""
    return checkpoint_folder() / f"oneshot-{search_id}.attempt-{attempt}.pt"


def oneshot_checkpoints_of(search_id: int) -> dict[int, Path]:
    return _attempt_files(f"oneshot-{search_id}")


def discard_files(paths: dict[int, Path]) -> None:
    """Delete the checkpoint files checkpoints_of / oneshot_checkpoints_of listed (gone already: fine)."""
    for path in paths.values():
        path.unlink(missing_ok=True)


def _attempt_files(stem: str) -> dict[int, Path]:
    found = {}
    for path in checkpoint_folder().glob(f"{stem}.attempt-*.pt"):
        number = path.name.removeprefix(f"{stem}.attempt-").removesuffix(".pt")
        if number.isdigit():
            found[int(number)] = path
    return found
