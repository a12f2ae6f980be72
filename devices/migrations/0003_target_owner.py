import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """Targets belong to a user (and optionally a project); existing ones stay shared (owner null)."""

    dependencies = [
        ("devices", "0002_measurement_host_metric"),
        ("searches", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="hardwaretarget", name="owner",
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE,
                                    related_name="hardware_targets", to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name="hardwaretarget", name="project",
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE,
                                    related_name="hardware_targets", to="searches.project"),
        ),
        migrations.AlterField(model_name="hardwaretarget", name="name", field=models.CharField(max_length=120)),
        migrations.AddConstraint(
            model_name="hardwaretarget",
            constraint=models.UniqueConstraint(condition=models.Q(("owner__isnull", True)), fields=("name",),
                                               name="shared_target_name_unique"),
        ),
        migrations.AddConstraint(
            model_name="hardwaretarget",
            constraint=models.UniqueConstraint(condition=models.Q(("owner__isnull", False)), fields=("owner", "name"),
                                               name="own_target_name_unique"),
        ),
    ]
