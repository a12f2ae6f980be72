"""The target form: validates what a browser can get wrong, then the view calls services.create_target.

Measured targets are not created here: a worker registers its own when it starts (`make worker`).
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from searches.access import visible_projects
from searches.models import Project

from . import services
from .costs.energy import PICOJOULES_PER_MAC
from .costs.hwnasbench import DEVICE_LABELS, DEVICES
from .models import HardwareTarget
from .target_costs import METRIC_LABELS, ranking_metrics

#: The settings (specs) each kind of the form takes; the other fields of the form are ignored for it.
KIND_SPECS = {HardwareTarget.BENCHMARK: ("device",), HardwareTarget.ANALYTICAL: ("arithmetic",)}


def metric_choices() -> list[tuple[str, str]]:
    return [(m, METRIC_LABELS.get(m, m)) for m in ranking_metrics(HardwareTarget.ANALYTICAL)]


class TargetForm(forms.Form):
    name = forms.CharField(max_length=120)
    kind = forms.ChoiceField(choices=[(k, services.KIND_LABELS[k]) for k in KIND_SPECS])
    device = forms.ChoiceField(choices=[("", "---------")] + [(d, DEVICE_LABELS[d]) for d in DEVICES],
                               required=False, help_text="the HW-NAS-Bench edge device (benchmark targets)")
    arithmetic = forms.ChoiceField(choices=[(a, a) for a in PICOJOULES_PER_MAC], initial="fp32", required=False,
                                   help_text="number format the energy estimate assumes (analytical)")
    metric = forms.ChoiceField(choices=metric_choices, initial="macs", required=False,
                               help_text="the cost that ranks architectures on this target's charts (analytical)")
    project = forms.ModelChoiceField(queryset=Project.objects.none(), required=False, empty_label="only me",
                                     help_text="who may use it: only you (in all your searches), or the members "
                                               "of one of your projects (in that project's searches)")

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if user is not None:
            self.fields["project"].queryset = visible_projects(user).order_by("name")

    @classmethod
    def initial_for(cls, target: HardwareTarget) -> dict:
        return {"name": target.name, "kind": target.kind, "metric": target.metric, "project": target.project,
                **{k: v for k, v in target.specs.items() if k in cls.base_fields}}

    def specs(self) -> dict:
        """The chosen kind's settings, blanks included: the service names what is missing or wrong."""
        return {name: self.cleaned_data[name] for name in KIND_SPECS[self.cleaned_data["kind"]]
                if self.cleaned_data[name] != "" or name == "device"}

    def ranking_metric(self) -> str | None:
        return self.cleaned_data["metric"] if self.cleaned_data["kind"] == HardwareTarget.ANALYTICAL else None

    def add_service_errors(self, exc: ValidationError) -> None:
        """Service errors are keyed 'name', 'kind', 'metric' or 'specs.<setting>'; show each by its field."""
        for key, messages in exc.message_dict.items():
            field = key.removeprefix("specs.")
            self.add_error(field if field in self.fields else None, messages)
