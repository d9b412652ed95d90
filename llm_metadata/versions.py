"""New versions of a message: an answer asked again (regenerate), a question edited and resent.

Both start a `services.Turn` that the streaming view or the plain form post finishes like any
other turn: the new version is a sibling of the old one (same parent) with its own metadata.
An edited question joins the active path at once; a regenerated answer only when it is ok
(`services.save_answer`). Switching versions is `branches.activate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from . import limits, services
from .catalog import profile_for
from .files import Attachment
from .forms import profile_defaults
from .models import Conversation, Message

PARAMETERS = ("temperature", "top_k", "top_p", "max_tokens")


@dataclass(frozen=True)
class Choices:
    """The model and parameters a new version asks with; None keeps the old version's."""

    model: str | None = None
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    max_tokens: int | None = None

    def applied_to(self, message: Message) -> tuple[str, dict[str, Any]]:
        """(model, parameters): these choices, else the message's own, else the profile's."""
        model = self.model or message.model_name
        params = {name: getattr(self, name) for name in PARAMETERS}
        for name in PARAMETERS:
            if params[name] is None:
                params[name] = getattr(message, name)
        if any(value is None for value in params.values()):
            defaults = profile_defaults(profile_for(model))
            params = {n: defaults[n] if v is None else v for n, v in params.items()}
        return model, params


def owned_message(user: AbstractBaseUser, pk: int) -> Message | None:
    """The user's own message with this id, or None (unknown or another's)."""
    owned = Message.objects.filter(conversation__in=Conversation.objects.for_user(user))
    return owned.select_related("conversation").filter(pk=pk).first()


class OverLimit(Exception):
    """The per-user limits refused a new version's model call; nothing was sent or saved."""

    def __init__(self, refusal: limits.Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


def admit(user: AbstractBaseUser) -> None:
    """Where a new version's model call is admitted (regenerate and edit both pass here, before
    anything is saved): raises OverLimit when the per-user limits refuse it."""
    refusal = limits.admit(user)
    if refusal is not None:
        raise OverLimit(refusal)


def start_regenerate(*, user: AbstractBaseUser, answer: Message, choices: Choices) -> services.Turn:
    """A new version of `answer`: its question asked again with the same history (the branch
    above the question, never a sibling), by default with the same model and parameters."""
    admit(user)
    question = Message.objects.get(pk=answer.parent_id)
    history, files = services.replay_rows(services.rows_above(question))
    if question.attachment_text:
        files.append((question.attachment_name or "attachment", question.attachment_text))
    model, params = choices.applied_to(answer)
    return services.build_turn(
        answer.conversation, question, history, files, model, params, new_version=True
    )


def start_edit(
    *, user: AbstractBaseUser, question: Message, text: str, choices: Choices
) -> services.Turn:
    """A new version of `question` with `text` (and its attached file, if any), sent with the
    history above it; it and its answer become the active path."""
    admit(user)
    model, params = choices.applied_to(question)
    kept = None
    if question.attachment_name or question.attachment_text:  # the file goes with the question
        kept = Attachment(
            upload=question.attachment.name,
            name=question.attachment_name,
            text=question.attachment_text,
        )
    ask = services.Ask(
        user=user,
        conversation=question.conversation,
        question=text,
        model=model,
        attachment=kept,
        edit_of=question,
        **params,
    )
    return services.start_turn(ask=ask)
