# The leaderboard's indexes (searches/queries.py). The NULLS LAST ones are PostgreSQL's only:
# SQLite cannot index NULLS LAST, and the embedded default sorts small searches without them.

from django.db import migrations, models

BOARD_INDEXES = {
    "trial_board_val_idx": "(search_id, val_accuracy DESC NULLS LAST, number)",
    "trial_board_state_val_idx": "(search_id, state, val_accuracy DESC NULLS LAST, number)",
}


def create_board_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, columns in BOARD_INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON searches_trial {columns}")


def drop_board_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in BOARD_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ("searches", "0005_estimation"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="trial",
            index=models.Index(fields=["search", "params", "number"], name="trial_board_params_idx"),
        ),
        migrations.RunPython(create_board_indexes, drop_board_indexes),
    ]
