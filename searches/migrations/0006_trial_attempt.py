from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("searches", "0005_estimation"),
    ]

    operations = [
        migrations.AddField(model_name="trial", name="attempt", field=models.PositiveIntegerField(default=0)),
        migrations.AddField(model_name="trial", name="worker_pid",
                            field=models.PositiveIntegerField(blank=True, null=True)),
        migrations.AddField(model_name="trial", name="queued_at", field=models.DateTimeField(blank=True, null=True)),
        migrations.AddField(model_name="trial", name="lost", field=models.BooleanField(default=False)),
    ]
