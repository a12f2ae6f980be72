from django.contrib import admin

from .models import Dataset, Project, Search, SearchSpace, Trial, TrialMetric


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "source", "builtin_key", "task", "created_at")


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "dataset", "task", "created_at")
    filter_horizontal = ("members",)


@admin.register(SearchSpace)
class SearchSpaceAdmin(admin.ModelAdmin):
    list_display = ("name", "project", "kind", "created_at")


class TrialInline(admin.TabularInline):
    model = Trial
    extra = 0
    fields = ("number", "state", "val_accuracy", "params", "epochs_done", "worker")
    readonly_fields = fields
    can_delete = False


@admin.register(Search)
class SearchAdmin(admin.ModelAdmin):
    list_display = ("name", "project", "strategy", "state", "max_trials", "parallelism", "created_at")
    list_filter = ("state", "strategy")
    inlines = [TrialInline]


@admin.register(Trial)
class TrialAdmin(admin.ModelAdmin):
    list_display = ("__str__", "state", "val_accuracy", "params", "epochs_done", "worker", "device")
    list_filter = ("state",)


@admin.register(TrialMetric)
class TrialMetricAdmin(admin.ModelAdmin):
    list_display = ("trial", "epoch", "name", "value")
