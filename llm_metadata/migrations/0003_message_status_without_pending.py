"""Message status is ok / error / cancelled: `pending` is gone from the choices.

The app never set `pending`, but imports accepted it: such a row is an answer that never finished,
so it becomes `error` with a message that says so.
"""

from django.db import migrations, models

NEVER_FINISHED = "The answer never finished (it was stored as pending)."


def settle_pending(apps, schema_editor) -> None:
    Message = apps.get_model("llm_metadata", "Message")
    Message.objects.filter(status="pending", error="").update(status="error", error=NEVER_FINISHED)
    Message.objects.filter(status="pending").update(status="error")


class Migration(migrations.Migration):
    dependencies = [
        ("llm_metadata", "0002_trigram_search_indexes"),
    ]

    operations = [
        migrations.RunPython(settle_pending, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="message",
            name="status",
            field=models.CharField(
                choices=[("ok", "Ok"), ("error", "Error"), ("cancelled", "Cancelled")],
                default="ok",
                max_length=16,
            ),
        ),
    ]
