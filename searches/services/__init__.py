"""The only functions that write projects, searches and trials, by concern:

- projects.py      projects and their datasets (built-in, benchmark, uploaded)
- search_spec.py   validation of a new search (writes nothing)
- lifecycle.py     start, advance (the search loop), pause, resume, cancel, retrain, recovery
- search_state.py  the search's state moves
- trials.py        one trial's life: claim, heartbeats, epochs, pruning, its final state, requeue
- recovery.py      the sweep: stale trials back to the queue, lost messages sent again, searches advanced
- pruning.py       pruning searches: which widths of a completed trial's trained model to keep
- imported_models.py  a trained model uploaded (JSON spec + state_dict) as a completed trial to prune
- oneshot.py       one-shot searches: the supernet task, its epochs and result
- sharing.py       read-only share links of a search
- external.py      ask/tell: trials that the user's own training script claims, reports and ends
- tokens.py        personal API tokens: made (shown once, stored hashed), used, revoked

Views, tasks and consumers call these through this package. Each write that the browser should see
schedules its Channels event with transaction.on_commit (searches/events.py), and work for the
workers is sent on commit too (searches/dispatch.py). Errors a user can cause are raised as django
ValidationError keyed by field.
"""

from .external import ask_trial, heartbeat, report_epoch, tell_trial
from .imported_models import import_trained_model
from .lifecycle import (
    abort_search,
    advance_search,
    cancel_search,
    pause_search,
    recover_active_searches,
    resume_search,
    retrain_architecture,
    start_search,
)
from .oneshot import (
    beat_oneshot,
    claim_oneshot,
    fail_oneshot,
    finish_oneshot,
    record_oneshot_epoch,
    release_lost_oneshot,
    split_oneshot_settings,
)
from .projects import (
    benchmark_dataset,
    builtin_dataset,
    create_project,
    create_project_with_data,
    dataset_by_choice,
    upload_dataset,
)
from .pruning import PruningRequest, start_pruning_search, why_not_prunable
from .recovery import SweepReport, sweep
from .search_spec import validate_search
from .sharing import can_share, create_share_link, revoke_share_link
from .tokens import create_token, revoke_token, user_for_key
from .trials import (
    beat_trial,
    claim_trial,
    complete_trial,
    fail_trial,
    holds_trial,
    next_trial_in_turn,
    prune_trial,
    record_epoch,
    recover_stale_trials,
    requeue_lost_trial,
    searches_in_turn,
    trial_in_turn,
)

__all__ = [
    "PruningRequest", "SweepReport", "abort_search", "advance_search", "ask_trial", "beat_oneshot", "beat_trial",
    "benchmark_dataset", "builtin_dataset", "can_share", "cancel_search", "claim_oneshot", "claim_trial",
    "complete_trial", "create_project", "create_project_with_data", "create_share_link", "create_token",
    "dataset_by_choice", "fail_oneshot", "fail_trial", "finish_oneshot", "heartbeat", "holds_trial",
    "import_trained_model", "next_trial_in_turn", "pause_search",
    "prune_trial", "record_epoch", "record_oneshot_epoch", "recover_active_searches", "recover_stale_trials",
    "release_lost_oneshot", "report_epoch", "requeue_lost_trial", "resume_search", "retrain_architecture",
    "revoke_share_link", "revoke_token", "searches_in_turn", "split_oneshot_settings", "start_pruning_search",
    "start_search", "sweep",
    "tell_trial", "trial_in_turn", "upload_dataset", "user_for_key", "validate_search", "why_not_prunable",
]
