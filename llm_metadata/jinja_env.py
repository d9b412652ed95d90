"""The Jinja2 environment of the per-message partials (templates/jinja2/), and `render_messages`.

A page shows up to 50 messages; in Django's template language their partials cost 0.4-0.7 ms a
message (includes, variable look-ups, filters), which alone broke the page budget of 5 ms. Jinja2
compiles templates to Python. The rest of the site stays in Django templates.

The partials print what the Django templates printed: numbers localized, dates in the viewer's
time zone, Django's `floatformat`, `date`, `yesno`, `capfirst`. Django's own helpers read the
language and time zone from thread-and-task locals on every call (5-10 µs each, hundreds per
page), so `render_messages` reads them once per page for the filters below, which take a
fast path equal to Django's output (tests/test_jinja_env.py checks them against Django's).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.http import HttpRequest
from django.template import defaultfilters, engines
from django.template.backends.utils import csrf_input
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.formats import get_format, localize
from django.utils.safestring import SafeString, mark_safe
from jinja2 import BaseLoader, Environment, FileSystemLoader
from markupsafe import Markup, escape

from .templatetags.attachments import was_cut
from .templatetags.record import metadata_list

if TYPE_CHECKING:
    from .models import Message

_INCLUDE = re.compile(r'\{%-?\s*include\s+"([^"]+)"\s*-?%\}')
_QUANTUM = {places: Decimal(1).scaleb(-places) for places in range(1, 10)}
_PK_MARKER = 987654321987  # an id no URL prefix holds, replaced by each message's own


def page_formats() -> dict[str, Any]:
    """What the filters need from the current request's locals, read once per page."""
    return {
        "zone": timezone.get_current_timezone(),
        "plain_numbers": get_format("DECIMAL_SEPARATOR") == "."
        and not settings.USE_THOUSAND_SEPARATOR,
        "script_prefix": get_script_prefix(),
    }


_page: ContextVar[dict[str, Any] | None] = ContextVar("message_partials_formats", default=None)


def _formats() -> dict[str, Any]:
    """The page's formats while `render_messages` runs; read afresh for any other render."""
    return _page.get() or page_formats()


def _finalize(value: Any) -> Any:
    """Numbers printed as Django templates print them (localized)."""
    if type(value) is str:  # most of what the partials print: no isinstance checks
        return value
    if type(value) in (int, float) and _formats()["plain_numbers"]:
        text = repr(value)
        if "e" not in text and "n" not in text:  # not 1e-05, inf or nan: Django's own text
            return text
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return localize(value)
    return value


def _floatformat(value: Any, places: int) -> str:
    """Django's `floatformat` (ROUND_HALF_UP on the decimal text of the value)."""
    fast = type(value) in (float, Decimal) and places in _QUANTUM
    if fast and _formats()["plain_numbers"]:
        try:
            number = Decimal(str(value))
            _, digits, exponent = number.as_tuple()
            # Django prints very long numbers as they are (over 200 digits with the exponent).
            if number.is_finite() and abs(number) < 10**15 and len(digits) - exponent <= 200:
                rounded = number.quantize(_QUANTUM[places], ROUND_HALF_UP)
                return format(rounded if rounded else abs(rounded), "f")  # no "-0.00"
        except InvalidOperation:
            pass
    return defaultfilters.floatformat(value, places)


def _date(value: Any, arg: str | None = None) -> str:
    """Django's `date` filter on the value in the viewer's time zone."""
    if isinstance(value, dt.datetime) and timezone.is_aware(value) and settings.USE_TZ:
        local = value.astimezone(_formats()["zone"])
        if arg == "c":
            return local.isoformat()
        if arg == "Y-m-d H:i:s T":
            return (
                f"{local.year:04d}-{local.month:02d}-{local.day:02d} "
                f"{local.hour:02d}:{local.minute:02d}:{local.second:02d} {local.tzname()}"
            )
    return defaultfilters.date(timezone.template_localtime(value), arg)


@lru_cache(maxsize=64)
def _pk_url_parts(name: str, script_prefix: str) -> tuple[str, str]:
    head, tail = reverse(name, args=[_PK_MARKER]).split(str(_PK_MARKER))
    return head, tail


def _url(name: str, pk: int) -> str:
    """`reverse(name, args=[pk])` for a URL whose one argument is an integer id: Django's reverse
    costs 10-40 µs, and the partials ask for one or two per message."""
    head, tail = _pk_url_parts(name, _formats()["script_prefix"])
    return f"{head}{int(pk)}{tail}"


def _default_if_none(value: Any, default: Any) -> Any:
    return default if value is None else value


_CELLS = "</td>\n      <td>"  # between two cells of a version table's row


def _number(value: Any, places: int | None = None, unit: str = "") -> str:
    """A number's cell text as the template printed it: "—" for none, else localized
    (`_finalize`) or `floatformat` with `places`, then `unit`; digits need no escaping."""
    if value is None:
        return "—"
    return f"{_finalize(value) if places is None else _floatformat(value, places)}{unit}"


def _version_cells(v: Message) -> Markup:
    """The cells of a version's row in the version table, from its model to its feedback: one
    call a row instead of a dozen look-ups and filters (three rows an answer with versions)."""
    feedback = "—"
    if fb := getattr(v, "viewer_feedback", None):
        feedback = "👍" if fb.rating == 1 else "👎"
        if fb.comment:
            feedback += f" {escape(fb.comment)}"
    cells = (
        escape(v.model_name or "—"),
        f"t {_number(v.temperature)} · k {_number(v.top_k)} · p {_number(v.top_p)} · "
        f"max {_number(v.max_tokens)}",
        f"{_number(v.prompt_tokens)} + {_number(v.completion_tokens)}",
        _number(v.elapsed_time, 2, " s"),
        _number(v.time_to_first_token, 2, " s"),
        _number(v.tokens_per_second, 1),
        "—" if v.cost is None else f"${_finalize(v.cost)}",
        feedback,
    )
    return Markup(f"<td>{_CELLS.join(cells)}</td>")  # noqa: S704 (the text cells escaped above)


class InliningLoader(FileSystemLoader):
    """Pastes every `{% include "name" %}` (a constant name) into the including template as it
    loads: the partials stay separate files, and a page of 50 messages renders in half the time
    that 200 run-time includes took. An inlined partial shares its includer's scope."""

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        source, filename, uptodate = super().get_source(environment, template)
        checks = [uptodate]

        def paste(match: re.Match[str]) -> str:
            inner, _, inner_uptodate = self.get_source(environment, match.group(1))
            checks.append(inner_uptodate)
            return inner

        source = _INCLUDE.sub(paste, source)
        return source, filename, lambda: all(check() for check in checks if check)


def environment(**options: Any) -> Environment:
    """Called by Django's Jinja2 backend (TEMPLATES in settings) with its options; escaping is
    always on (the partials print LLM and user text)."""
    options.pop("autoescape", None)
    loader: BaseLoader = options.pop("loader")
    if isinstance(loader, FileSystemLoader):  # Django's, from DIRS
        loader = InliningLoader(loader.searchpath)
    env = Environment(autoescape=True, finalize=_finalize, loader=loader, **options)
    env.globals["url"] = _url
    env.filters.update(
        metadata_list=metadata_list,
        was_cut=was_cut,
        capfirst=defaultfilters.capfirst,
        date=_date,
        default_if_none=_default_if_none,
        floatformat=_floatformat,
        yesno=defaultfilters.yesno,
        version_cells=_version_cells,
    )
    return env


class _PrintedOnce:
    """Markup made by `make` when it is first printed; the same text every time after."""

    __slots__ = ("_html", "_make")

    def __init__(self, make: Callable[[], str]) -> None:
        self._make, self._html = make, ""

    def __html__(self) -> str:
        if not self._html:
            self._html = str(self._make())
        return self._html


def render_messages(
    request: HttpRequest | None, messages: Iterable[Message], *, detail: bool = False
) -> SafeString:
    """The messages' HTML as the chat page shows them, or with all their metadata (`detail`)."""
    template = engines["jinja2"].env.get_template("llm_metadata/_message_list.html")
    context: dict[str, Any] = {"messages": messages, "detail": detail}
    if request is not None:
        # One token for every feedback form of the page, made when the first is printed
        # (Django's lazy `csrf_input` masks a new one for each form), and one look-up of the
        # page's own address.
        context.update(
            request=request,
            csrf_input=_PrintedOnce(partial(csrf_input, request)),
            next_path=request.get_full_path(),
        )
    token = _page.set(page_formats())
    try:
        html = template.render(context)
    finally:
        _page.reset(token)
    return mark_safe(html)  # noqa: S308 (Jinja2 escaped every value the partials print)
