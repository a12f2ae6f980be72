"""Projects, datasets, spaces, searches and trials.

Only the searches/services/ package writes these tables; everything else reads.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from .strategies.base import CANCELLED, COMPLETE, DEFAULT_OBJECTIVE, FAILED, PRUNED, QUEUED, RUNNING
from .structured_pruning.space import PRUNED_FROM, build_stored_space


class Dataset(models.Model):
    BUILTIN, UPLOAD, BENCHMARK = "builtin", "upload", "benchmark"
    SOURCES = [(BUILTIN, "Built in"), (UPLOAD, "Uploaded file"), (BENCHMARK, "Benchmark table (no training)")]
    TASKS = [("classification", "Classification"), ("language_modelling", "Language modelling")]

    name = models.CharField(max_length=120)
    source = models.CharField(max_length=10, choices=SOURCES)
    # Registry keys (datasets, spaces, strategies) are validated by the services,
    # not by field choices, so adding a plug-in needs no migration.
    builtin_key = models.CharField(max_length=40, blank=True)
    file = models.FileField(upload_to="datasets/", blank=True)
    file_format = models.CharField(max_length=20, blank=True)
    options = models.JSONField(default=dict, blank=True)
    task = models.CharField(max_length=30, choices=TASKS, default="classification")
    #: Shape and size facts found when the dataset was checked: input_shape, num_classes, samples.
    info = models.JSONField(default=dict, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "builtin_key"], condition=~Q(source="upload"),
                                    name="one_row_per_builtin"),
        ]

    def __str__(self):
        return self.name


class Project(models.Model):
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="owned_projects")
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="projects")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="projects")
    task = models.CharField(max_length=30, choices=Dataset.TASKS, default="classification")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name


class SearchSpace(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="spaces")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=40)
    spec = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.name} ({self.kind})"

    def build(self):
        """The engine's space; a pruning search's is a PrunedSpace of its parent's space."""
        return build_stored_space(self.kind, self.spec)

    @property
    def pruned_from_trial_id(self) -> int | None:
        """The trial whose trained model this space prunes (None: an ordinary space)."""
        return (self.spec.get(PRUNED_FROM) or {}).get("trial")


class Search(models.Model):
    QUEUED, RUNNING, PAUSED, DONE, FAILED, CANCELLED = "queued", "running", "paused", "done", "failed", "cancelled"
    STATES = [(s, s.capitalize()) for s in (QUEUED, RUNNING, PAUSED, DONE, FAILED, CANCELLED)]
    ACTIVE_STATES = (QUEUED, RUNNING)
    FINAL_STATES = (DONE, FAILED, CANCELLED)
    DEVICES = [("cpu", "CPU workers"), ("gpu", "GPU workers")]
    WORKERS, EXTERNAL = "workers", "external"
    EVALUATORS = [(WORKERS, "Our workers train each trial"),
                  (EXTERNAL, "Your own code trains each trial (ask/tell API)")]

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="searches")
    space = models.ForeignKey(SearchSpace, on_delete=models.PROTECT, related_name="searches")
    name = models.CharField(max_length=120)
    strategy = models.CharField(max_length=40)
    strategy_settings = models.JSONField(default=dict, blank=True)
    #: [{"metric": "val_accuracy", "direction": "max"}, ...]; the first one ranks the leaderboard.
    objectives = models.JSONField(default=list)
    constraints = models.JSONField(default=list, blank=True)
    #: Training settings: epochs, batch_size, lr, optimizer, data_fraction ...
    training = models.JSONField(default=dict, blank=True)
    #: Candidate filters before training: {"prerank_proxy", "prerank_pool", "surrogate_quantile"}.
    estimation = models.JSONField(default=dict, blank=True)
    #: Early stopping of unpromising trials: a name of pruners.PRUNERS ("asha", "learning_curve", ...).
    pruner = models.CharField(max_length=40, blank=True)
    pruner_settings = models.JSONField(default=dict, blank=True)
    #: Earlier searches whose finished trials this one takes as prior history.
    warm_start_from = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="warm_started")
    #: One-shot searches train a supernet in one long task: who claimed it, and what it derived.
    oneshot_worker = models.CharField(max_length=200, blank=True)
    oneshot_result = models.JSONField(default=dict, blank=True)
    #: The supernet task's fencing token, heartbeat and process, as a trial's (attempt, heartbeat_at,
    #: worker_pid): a stale holder is re-queued by the sweep and resumes from its last epoch.
    oneshot_attempt = models.PositiveIntegerField(default=0)
    oneshot_heartbeat_at = models.DateTimeField(null=True, blank=True)
    oneshot_pid = models.PositiveIntegerField(null=True, blank=True)
    max_trials = models.PositiveIntegerField(null=True, blank=True)
    max_seconds = models.PositiveIntegerField(null=True, blank=True)
    parallelism = models.PositiveSmallIntegerField(default=1)
    seed = models.IntegerField(default=0)
    device = models.CharField(max_length=10, choices=DEVICES, default="cpu")
    #: Who trains the trials: our workers, or an outside training script over the ask/tell API.
    evaluator = models.CharField(max_length=10, choices=EVALUATORS, default=WORKERS)
    state = models.CharField(max_length=12, choices=STATES, default=QUEUED, db_index=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "searches"

    def __str__(self):
        return self.name

    @property
    def primary_objective(self) -> dict:
        """The first objective ranks the leaderboard and drives single-objective strategies."""
        return self.objectives[0] if self.objectives else DEFAULT_OBJECTIVE.as_dict()

    @property
    def primary_metric(self) -> str:
        return self.primary_objective["metric"]


class Trial(models.Model):
    QUEUED, RUNNING, COMPLETE, PRUNED, FAILED, CANCELLED = QUEUED, RUNNING, COMPLETE, PRUNED, FAILED, CANCELLED
    STATES = [(s, s.capitalize()) for s in (QUEUED, RUNNING, COMPLETE, PRUNED, FAILED, CANCELLED)]
    OPEN_STATES = (QUEUED, RUNNING)

    search = models.ForeignKey(Search, on_delete=models.CASCADE, related_name="trials")
    number = models.PositiveIntegerField()
    arch = models.JSONField()
    arch_key = models.CharField(max_length=40)
    description = models.CharField(max_length=300, blank=True)
    state = models.CharField(max_length=12, choices=STATES, default=QUEUED)
    metrics = models.JSONField(default=dict, blank=True)
    #: Copied out of metrics so the leaderboard can sort in the database.
    val_accuracy = models.FloatField(null=True, blank=True)
    params = models.BigIntegerField(null=True, blank=True)
    epochs_done = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    device = models.CharField(max_length=60, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    #: The fencing token: raised by one at every claim. Each write of the trial's holder (heartbeat,
    #: epoch, result, checkpoint) names the attempt it holds and is refused once another claim began.
    attempt = models.PositiveIntegerField(default=0)
    #: The process that holds the claim, so a redelivered task on the same host sees that it is gone.
    worker_pid = models.PositiveIntegerField(null=True, blank=True)
    #: When the trial was (re)queued: a QUEUED trial older than NASWEB_TRIAL_RESEND_SECONDS is sent again.
    queued_at = models.DateTimeField(null=True, blank=True)
    #: Failed because its workers were lost attempt after attempt: not counted in the trial budget.
    lost = models.BooleanField(default=False)

    class Meta:
        ordering = ["search", "number"]
        constraints = [
            models.UniqueConstraint(fields=["search", "number"], name="trial_number_unique_in_search"),
            models.UniqueConstraint(fields=["search", "arch_key"], name="trial_arch_unique_in_search"),
        ]
        indexes = [
            # The leaderboard's sorts and filters (searches/queries.py). On PostgreSQL migration 0006 adds
            # the same sorts with trials without a value last (NULLS LAST, which SQLite indexes lack).
            models.Index(fields=["search", "-val_accuracy"], name="trial_leaderboard_idx"),
            models.Index(fields=["search", "params", "number"], name="trial_board_params_idx"),
            models.Index(fields=["search", "state"], name="trial_state_idx"),
            # The fair pick's "served least recently" (services.searches_in_turn): a search's latest claim.
            models.Index(fields=["search", "started_at"], name="trial_served_idx"),
        ]

    def __str__(self):
        return f"{self.search_id}#{self.number}"

    @property
    def counts_in_budget(self) -> bool:
        """Open and finished trials use up the trial budget; a trial failed because its worker was lost does not."""
        return not self.lost and self.state != self.CANCELLED

    @property
    def seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class TrialMetric(models.Model):
    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="epoch_metrics")
    epoch = models.PositiveIntegerField()
    name = models.CharField(max_length=40)
    value = models.FloatField()

    class Meta:
        ordering = ["trial", "epoch", "name"]
        constraints = [
            models.UniqueConstraint(fields=["trial", "epoch", "name"], name="one_value_per_epoch_metric"),
        ]


class OneShotEpoch(models.Model):
    """One epoch of a one-shot search: architecture weights per decision and training figures."""

    search = models.ForeignKey(Search, on_delete=models.CASCADE, related_name="oneshot_epochs")
    epoch = models.PositiveIntegerField()
    info = models.JSONField()

    class Meta:
        ordering = ["search", "epoch"]
        constraints = [models.UniqueConstraint(fields=["search", "epoch"], name="one_row_per_oneshot_epoch")]


class ShareLink(models.Model):
    """A read-only link to one search's plain-words summary, for people without an account.

    Anyone holding the token sees that search's share page, and nothing else; a revoked
    link answers 404. A search may have several links (one per audience, say).
    """

    search = models.ForeignKey(Search, on_delete=models.CASCADE, related_name="share_links")
    token = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=120, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["search", "-created_at"]

    def __str__(self):
        return f"share link {self.label or self.id} of {self.search_id}"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class ApiToken(models.Model):
    """A personal API token. Only a SHA-256 digest of the key is stored; the key is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    #: The key's first characters, shown in lists so a user can tell tokens apart.
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
