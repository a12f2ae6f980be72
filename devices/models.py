"""Hardware targets a search can be measured on or constrained by, and their measurements.

Only devices/services.py writes these tables; everything else reads.
"""

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

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=20, choices=KINDS)
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

    def __str__(self):
        return self.name

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
