"""Kept weights of completed trials, and the disk policy that bounds them.

Policy: each search keeps the final (best-epoch) weights of its best
``NASWEB_KEEP_WEIGHTS`` completed trials by its primary objective (default 10;
0 keeps none). The runner saves a trial's weights when training ends, and when the
trial reaches its final state ``settle_weights`` deletes them again unless the
trial completed and ranks in the best k; a trial that enters the best k pushes
the one it displaced out, and that one's file is deleted too. Pruned, failed and
cancelled trials, and trials answered from a benchmark table, keep no weights.
Files live in ``var/weights/<database tag>/trial-<id>.pt`` (a plain state_dict,
about 4 bytes per parameter). Export (searches/trial_export.py) reads them.

Files only: this module writes no row.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.db.models import F, FloatField
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from .engine_data import weights_path
from .models import Search, Trial


def keep_weights(trial_id: int, model) -> Path:
    """Save the model's weights on the CPU (write then rename: a crash leaves no half file)."""
    import torch  # heavy

    path = weights_path(trial_id)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, temporary)
    os.replace(temporary, path)
    return path


def has_weights(trial_id: int) -> bool:
    return weights_path(trial_id).exists()


def ranked_completed(search: Search):
    """Completed trials of the search, best first by its primary objective (ties: earlier first)."""
    objective = search.primary_objective
    value = Cast(KT(f"metrics__{objective['metric']}"), FloatField())
    order = value.desc(nulls_last=True) if objective["direction"] == "max" else value.asc(nulls_last=True)
    return search.trials.filter(state=Trial.COMPLETE).order_by(order, F("number").asc())


def settle_weights(trial_id: int) -> None:
    """Apply the policy after a trial's final state: keep its weights only if it ranks in the best k,
    and delete the weights of the trials it pushed out of the best k."""
    trial = Trial.objects.select_related("search").filter(id=trial_id).first()
    if trial is None:
        weights_path(trial_id).unlink(missing_ok=True)
        return
    keep = settings.NASWEB_KEEP_WEIGHTS
    # Trials finishing at the same time may each push one out: look a little past the best k.
    window = keep + 2 * trial.search.parallelism + 2
    ranked = list(ranked_completed(trial.search).values_list("id", flat=True)[:window])
    kept = set(ranked[:keep])
    for other in set(ranked[keep:]) | {trial_id}:
        if other not in kept:
            weights_path(other).unlink(missing_ok=True)
