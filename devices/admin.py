from django.contrib import admin

from .models import HardwareTarget


@admin.register(HardwareTarget)
class HardwareTargetAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "last_seen_at")
    list_filter = ("kind",)
