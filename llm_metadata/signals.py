"""What follows a row's change: a deleted message (alone or by cascade) deletes its file, any
change to a message or its feedback tells the analytics roll-ups that its day changed, and a
new answer is charged to its owner's token budgets (llm_metadata.limits).

Files: for any storage (local disk, S3), the file goes once the delete is committed, and a
storage that fails then is logged with the object's name instead of failing the request whose
rows are already gone.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.core.files.storage import Storage
from django.db import transaction
from django.db.models import Max, Min
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from . import limits, rollups
from .models import Conversation, Feedback, Message

logger = logging.getLogger(__name__)


@receiver(post_delete, sender=Message, dispatch_uid="delete_message_attachment")
def delete_attachment(sender: type[Message], instance: Message, **kwargs: Any) -> None:
    if not instance.attachment:
        return
    storage, name = instance.attachment.storage, instance.attachment.name
    if Message.objects.filter(attachment=name).exists():  # an edited question's other version
        return
    # Only once the delete is committed: a rolled-back delete must keep its file.
    transaction.on_commit(lambda: _delete_file(storage, name))


def _delete_file(storage: Storage, name: str) -> None:
    try:
        storage.delete(name)
    except Exception:  # any storage's failure (disk, network, S3 error): the rows are gone
        logger.exception("could not delete the stored file %s; delete it by hand", name)


@receiver(post_save, sender=Message, dispatch_uid="usage_message_saved")
@receiver(post_delete, sender=Message, dispatch_uid="usage_message_deleted")
def message_changed(sender: type[Message], instance: Message, **kwargs: Any) -> None:
    rollups.mark_changed([instance.created])


@receiver(post_save, sender=Message, dispatch_uid="limits_charge_answer")
def charge_answer(
    sender: type[Message], instance: Message, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    """Every answer stored, by whichever path, is charged to its owner's token budgets once."""
    if created and not raw:
        limits.charge(instance)


@receiver(post_save, sender=Feedback, dispatch_uid="usage_feedback_saved")
@receiver(post_delete, sender=Feedback, dispatch_uid="usage_feedback_deleted")
def feedback_changed(sender: type[Feedback], instance: Feedback, **kwargs: Any) -> None:
    origin = kwargs.get("origin")
    if origin is not None and not isinstance(origin, Feedback):
        return  # deleted with its message (or conversation), which marks the day itself
    message = instance._state.fields_cache.get("message")
    if message is not None:
        rollups.mark_changed([message.created])
    else:
        created = Message.objects.filter(pk=instance.message_id).values_list("created", flat=True)
        rollups.mark_changed(created[:1])


@receiver(post_save, sender=Conversation, dispatch_uid="usage_conversation_saved")
def conversation_changed(
    sender: type[Conversation], instance: Conversation, created: bool, **kwargs: Any
) -> None:
    if created:
        return
    # Saved from the admin, perhaps with another owner: every day of its messages changed.
    span = Message.objects.filter(conversation=instance).aggregate(
        first=Min("created"), last=Max("created")
    )
    if span["first"] is not None:
        first, last = span["first"].astimezone(dt.UTC), span["last"].astimezone(dt.UTC)
        days = (last.date() - first.date()).days
        rollups.mark_changed(first + dt.timedelta(days=i) for i in range(days + 1))
