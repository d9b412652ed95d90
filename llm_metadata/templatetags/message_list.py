"""`{% message_list messages %}` (the chat page) and `{% message_list messages detail=True %}`
(a conversation's page, with every message's metadata): the Jinja2 partials, see jinja_env."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import template
from django.utils.safestring import SafeString

from ..jinja_env import render_messages
from ..models import Message

register = template.Library()


@register.simple_tag(takes_context=True)
def message_list(
    context: dict[str, Any], messages: Iterable[Message], detail: bool = False
) -> SafeString:
    return render_messages(context.get("request"), messages, detail=detail)
