"""Hardware targets a search can be measured on or constrained by, and their measurements.

Only devices/services.py writes these tables; everything else reads.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class HardwareTarget(models.Model):
    MEASURED_CPU, MEASURED_GPU, BENCHMARK, ANALYTICAL = "measured_cpu", "measured_gpu", "benchmark", "analytical"
    KINDS = [
        (MEASURED_CPU, "Measured on a CPU worker"),
        (MEASURED_GPU, "Measured on a GPU worker"),
        (BENCHMARK, "Edge device from HW-NAS-Bench"),
        (ANALYTICAL, "Analytical (FLOPs, params, memory, energy)"),
    ]
    MEASURED_KINDS = (MEASURED_CPU, MEASURED_GPU)

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=KINDS)
    #: Who made the target (may edit and delete it); null for the shared ones: the built-in targets
    #: (HW-NAS-Bench devices, analytical) and the measured targets workers register (admin-managed).
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                              related_name="hardware_targets")
    #: Set: the project's members may use it too (and only that project's searches). Unset: the owner's
    #: own, for any of the owner's searches.
    project = models.ForeignKey("searches.Project", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="hardware_targets")
    #: Cost settings as devices/costs/targets.py reads them: {"device": "pixel3"}, {"arithmetic": "int8"},
    #: {"backend": "eager", "threads": 1, "batch": 1, ...}; estimate_costs(kind, specs, ...) takes them as they are.
    specs = models.JSONField(default=dict, blank=True)
    #: What a worker reported about its machine (measured targets): CPU model and cores, GPU, torch/CUDA versions.
    host = models.JSONField(default=dict, blank=True)
    #: The cost this target ranks architectures by on charts: latency_ms, macs, energy_mj ...
    metric = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name"], condition=Q(owner__isnull=True), name="shared_target_name_unique"),
            models.UniqueConstraint(fields=["owner", "name"], condition=Q(owner__isnull=False),
                                    name="own_target_name_unique"),
        ]

    def __str__(self):
        return self.name

    @property
    def is_shared(self) -> bool:
        """Built-in or worker-registered: offered to everyone, changed only in the admin."""
        return self.owner_id is None

    @property
    def is_measured(self) -> bool:
        """Measured targets need their own worker; the others are computed in any process."""
        return self.kind in self.MEASURED_KINDS


class Measurement(models.Model):
    """The costs of one architecture on one target: a job (its state) and, once done, its metrics."""

    QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
    STATES = [(s, s.capitalize()) for s in (QUEUED, RUNNING, DONE, FAILED)]

    target = models.ForeignKey(HardwareTarget, on_delete=models.CASCADE, related_name="measurements")
    #: Null for an architecture measured outside a search; then arch and space_kind say what was measured.
    trial = models.ForeignKey("searches.Trial", null=True, blank=True, on_delete=models.CASCADE,
                              related_name="measurements")
    space_kind = models.CharField(max_length=40)
    arch = models.JSONField()
    #: What the costs depend on (space kind and settings, dataset, architecture key), hashed: a second
    #: trial of the same architecture, in any search, reuses the done measurement instead of measuring.
    cost_key = models.CharField(max_length=40, blank=True, db_index=False)
    state = models.CharField(max_length=10, choices=STATES, default=QUEUED)
    #: latency_ms (+ median/p90 ...), batch, backend, threads for measured and benchmark targets;
    #: params, macs, flops, memory, size and energy for the analytical one.
    metrics = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["target", "trial", "created_at"]
        constraints = [
            # A trial's cost on a target is measured once; re-measuring updates that row.
            models.UniqueConstraint(fields=["trial", "target"], condition=Q(trial__isnull=False),
                                    name="one_measurement_per_trial_and_target"),
        ]
        indexes = [
            models.Index(fields=["target", "space_kind"], name="measurement_target_space_idx"),
            models.Index(fields=["state", "started_at"], name="measurement_state_idx"),
            models.Index(fields=["target", "cost_key", "state"], name="measurement_reuse_idx"),
        ]

    def __str__(self):
        return f"{self.target} · trial {self.trial_id or '-'} · {self.state}"
