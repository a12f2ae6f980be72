"""Writers of projects and datasets: built-in, benchmark and uploaded data."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from ..benchmarks.registry import BENCHMARKS
from ..models import Dataset, Project
from ..training.datasets import BUILTIN_DATASETS, DatasetError
from ..training.uploads import UPLOAD_FORMATS, inspect_upload


def builtin_dataset(key: str) -> Dataset:
    if key not in BUILTIN_DATASETS:
        raise ValidationError({"dataset": f"unknown built-in dataset {key!r}"})
    entry = BUILTIN_DATASETS[key]
    dataset, _ = Dataset.objects.get_or_create(
        source=Dataset.BUILTIN, builtin_key=key,
        defaults={"name": entry.label, "task": entry.task},
    )
    return dataset


def benchmark_dataset(key: str) -> Dataset:
    """Benchmark "datasets": trials are answered by looking the architecture up in a table."""
    if key not in BENCHMARKS:
        raise ValidationError({"dataset": f"unknown benchmark {key!r}"})
    dataset, _ = Dataset.objects.get_or_create(
        source=Dataset.BENCHMARK, builtin_key=key,
        defaults={"name": BENCHMARKS[key].label, "task": "classification"},
    )
    return dataset


def dataset_by_choice(choice: str) -> Dataset:
    """Form choices are 'builtin:digits' or 'benchmark:nb201_cifar10'."""
    source, _, key = choice.partition(":")
    if source == Dataset.BENCHMARK:
        return benchmark_dataset(key)
    return builtin_dataset(key)


def upload_dataset(owner, uploaded_file, fmt: str, options: dict) -> Dataset:
    """Check an uploaded file fully before anything is stored; a bad file stores nothing."""
    if fmt not in UPLOAD_FORMATS:
        raise ValidationError({"upload_format": f"unknown format {fmt!r}"})
    limit = settings.NASWEB_MAX_UPLOAD_BYTES
    if uploaded_file.size == 0:
        raise ValidationError({"upload_file": "the file is empty"})
    if uploaded_file.size > limit:
        raise ValidationError({"upload_file": f"the file is {uploaded_file.size / 2**20:.1f} MiB; "
                                              f"the limit is {limit / 2**20:.0f} MiB"})
    options = {k: v for k, v in options.items() if v not in (None, "")}
    with tempfile.NamedTemporaryFile(suffix=Path(uploaded_file.name).suffix) as tmp:
        for chunk in uploaded_file.chunks():
            tmp.write(chunk)
        tmp.flush()
        try:
            info = inspect_upload(tmp.name, fmt, limit, **options)
        except DatasetError as exc:
            raise ValidationError({"upload_file": f"{uploaded_file.name}: {exc}"}) from exc
    uploaded_file.seek(0)
    dataset = Dataset(name=Path(uploaded_file.name).name[:120], source=Dataset.UPLOAD, file_format=fmt,
                      options=options, task=info["task"], info=_jsonable(info), owner=owner)
    dataset.file.save(Path(uploaded_file.name).name, uploaded_file, save=False)
    dataset.save()
    return dataset


def _jsonable(info: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in info.items()}


def check_project_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "a project needs a name"})
    return name


def create_project(owner, name: str, dataset: Dataset, description: str = "", members=()) -> Project:
    name = check_project_name(name)
    with transaction.atomic():
        project = Project.objects.create(
            owner=owner, name=name, description=description, dataset=dataset, task=dataset.task,
        )
        project.members.add(*[m for m in members if m.id != owner.id])
    return project


def create_project_with_data(owner, name: str, description: str, members, dataset_choice: str,
                             upload=None, upload_format: str = "", upload_options: dict | None = None) -> Project:
    """Create a project on a built-in, benchmark or uploaded dataset, all or nothing."""
    check_project_name(name)
    if dataset_choice != "upload":
        return create_project(owner, name, dataset_by_choice(dataset_choice), description, members)
    if upload is None:
        raise ValidationError({"upload_file": "choose a file to upload"})
    with transaction.atomic():
        dataset = upload_dataset(owner, upload, upload_format, upload_options or {})
        try:
            return create_project(owner, name, dataset, description, members)
        except Exception:
            dataset.file.delete(save=False)  # the row rolls back; do not leave the file behind
            raise
