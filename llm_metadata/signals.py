"""Stored files follow their rows: a deleted message (alone or by cascade) deletes its file."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from .models import Message


@receiver(post_delete, sender=Message, dispatch_uid="delete_message_attachment")
def delete_attachment(sender: type[Message], instance: Message, **kwargs: Any) -> None:
    if not instance.attachment:
        return
    storage, name = instance.attachment.storage, instance.attachment.name
    # Only once the delete is committed: a rolled-back delete must keep its file.
    transaction.on_commit(lambda: storage.delete(name))
