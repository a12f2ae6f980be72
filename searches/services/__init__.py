"""The only functions that write projects, searches and trials, by concern:

- projects.py      projects and their datasets (built-in, benchmark, uploaded)
- search_spec.py   validation of a new search (writes nothing)
- lifecycle.py     start, advance (the search loop), pause, resume, cancel, retrain, recovery
- search_state.py  the search's state moves
- trials.py        one trial's life: claim, epochs, pruning, its final state
- oneshot.py       one-shot searches: the supernet task, its epochs and result
- external.py      ask/tell: trials that the user's own training script claims, reports and ends
- tokens.py        personal API tokens: made (shown once, stored hashed), used, revoked

Views, tasks and consumers call these through this package. Each write that the browser should see
schedules its Channels event with transaction.on_commit (searches/events.py), and work for the
workers is sent on commit too (searches/dispatch.py). Errors a user can cause are raised as django
ValidationError keyed by field.
"""

from .external import ask_trial, heartbeat, report_epoch, tell_trial
from .lifecycle import (
    advance_search,
    cancel_search,
    pause_search,
    recover_active_searches,
    resume_search,
    retrain_architecture,
    start_search,
)
from .oneshot import claim_oneshot, fail_oneshot, finish_oneshot, record_oneshot_epoch, split_oneshot_settings
from .projects import (
    benchmark_dataset,
    builtin_dataset,
    create_project,
    create_project_with_data,
    dataset_by_choice,
    upload_dataset,
)
from .search_spec import validate_search
from .tokens import create_token, revoke_token, user_for_key
from .trials import claim_trial, complete_trial, fail_trial, prune_trial, reap_stale_trials, record_epoch

__all__ = [
    "advance_search", "ask_trial", "create_token", "heartbeat", "report_epoch", "revoke_token", "tell_trial",
    "user_for_key", "benchmark_dataset", "builtin_dataset", "cancel_search", "claim_oneshot", "claim_trial",
    "complete_trial", "create_project", "create_project_with_data", "dataset_by_choice", "fail_oneshot",
    "fail_trial", "finish_oneshot", "pause_search", "prune_trial", "reap_stale_trials", "record_epoch",
    "record_oneshot_epoch", "recover_active_searches", "resume_search", "retrain_architecture",
    "split_oneshot_settings", "start_search", "upload_dataset", "validate_search",
]
