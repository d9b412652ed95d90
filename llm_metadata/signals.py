"""Stored files follow their rows: a deleted message (alone or by cascade) deletes its file.

Works for any storage (local disk, S3): the file goes once the delete is committed, and a
storage that fails then is logged with the object's name instead of failing the request whose
rows are already gone.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.files.storage import Storage
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from .models import Message

logger = logging.getLogger(__name__)


@receiver(post_delete, sender=Message, dispatch_uid="delete_message_attachment")
def delete_attachment(sender: type[Message], instance: Message, **kwargs: Any) -> None:
    if not instance.attachment:
        return
    storage, name = instance.attachment.storage, instance.attachment.name
    # Only once the delete is committed: a rolled-back delete must keep its file.
    transaction.on_commit(lambda: _delete_file(storage, name))


def _delete_file(storage: Storage, name: str) -> None:
    try:
        storage.delete(name)
    except Exception:  # any storage's failure (disk, network, S3 error): the rows are gone
        logger.exception("could not delete the stored file %s; delete it by hand", name)
