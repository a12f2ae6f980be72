"""Hardware targets a search can be measured on or constrained by."""

from django.db import models


class HardwareTarget(models.Model):
    KINDS = [
        ("measured_cpu", "Measured on a CPU worker"),
        ("measured_gpu", "Measured on a GPU worker"),
        ("benchmark", "Edge device from HW-NAS-Bench"),
        ("analytical", "Analytical (FLOPs, params, memory, energy)"),
    ]

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=20, choices=KINDS)
    #: Device facts: CPU model and cores, GPU name and memory, torch/CUDA versions, benchmark device name ...
    specs = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name
