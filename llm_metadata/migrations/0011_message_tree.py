"""The message tree: each message's `parent`, and `active` for the conversation's active path.

Rows stored before the tree were one line per conversation: each message's parent becomes the
message before it (by created, id) and every message is on the active path.
"""

import django.db.models.deletion
from django.db import migrations, models

BATCH = 2000


def link_to_previous(apps, schema_editor) -> None:
    """Set every stored message's parent to the previous message of its conversation."""
    Message = apps.get_model("llm_metadata", "Message")
    rows = Message.objects.order_by("conversation_id", "created", "id").values_list(
        "id", "conversation_id"
    )
    pending: list = []
    previous_id, previous_conversation = None, None
    for pk, conversation_id in rows.iterator(chunk_size=BATCH):
        if conversation_id == previous_conversation:
            pending.append(Message(id=pk, parent_id=previous_id))
        previous_id, previous_conversation = pk, conversation_id
        if len(pending) >= BATCH:
            Message.objects.bulk_update(pending, ["parent"])
            pending.clear()
    if pending:
        Message.objects.bulk_update(pending, ["parent"])


class Migration(migrations.Migration):
    dependencies = [
        ("llm_metadata", "0010_limits"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="active",
            field=models.BooleanField(default=True),
        ),
        migrations.AddField(
            model_name="message",
            name="parent",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="children",
                to="llm_metadata.message",
            ),
        ),
        migrations.RunPython(link_to_previous, migrations.RunPython.noop, elidable=True),
        # The versions of the messages a page shows: the few inactive rows, found in the index.
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                fields=["conversation", "active", "parent"], name="msg_conv_versions"
            ),
        ),
    ]
