"""`{{ text|markdown }}`: CommonMark plus tables and strikethrough, code highlighted by Pygments,
the result sanitised by nh3. Raw HTML in the text is escaped, never passed through.

Answers keep this HTML in `Message.content_html`, stamped with RENDERER_VERSION: a page shows the
stored HTML and renders again only a message stamped with another version (see models.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import nh3
from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

register = template.Library()

# Raise it with any change that alters the HTML made from some text (parser options, rules,
# highlighting, the sanitiser's lists): stored answers then render again as they are next shown.
RENDERER_VERSION = 1

TAGS = {
    *("p", "br", "hr", "em", "strong", "s", "del", "code", "pre", "span", "blockquote", "a"),
    *("ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6"),
    *("table", "thead", "tbody", "tr", "th", "td"),
}
ATTRIBUTES = {
    "a": {"href", "title"},
    "ol": {"start"},
    "th": {"class"},
    "td": {"class"},
}
# A table column's alignment as a Bootstrap class: the Content-Security-Policy allows no inline
# style attribute (markdown-it writes style="text-align:…"); static/js/ask.js does the same.
ALIGN_CLASSES = {"left": "text-start", "center": "text-center", "right": "text-end"}
# Pygments' token classes and markdown-it's `language-x` hints are the only classes kept.
CLASS_PREFIXES = ("language-",)
_FORMATTER = HtmlFormatter(nowrap=True)


def _highlight(code: str, lang: str, _attrs: str) -> str:
    """A highlighted `<pre>` for a known language, or "" so markdown-it escapes the code."""
    name = lang.strip().split(maxsplit=1)[0] if lang.strip() else ""
    if not name:
        return ""
    try:
        lexer = get_lexer_by_name(name)
    except ClassNotFound:
        return ""
    body = highlight(code, lexer, _FORMATTER)
    return f'<pre class="highlight"><code class="language-{escape(name)}">{body}</code></pre>\n'


def _image_as_link(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """Images become links: an answer must not make the browser fetch third-party URLs."""
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = self.renderInlineAsText(token.children or [], options, env) or src
    return f'<a href="{escape(src)}">🖼 {escape(alt)}</a>'


def _align_classes(state: StateCore) -> None:
    """Table cells' `style="text-align:x"` becomes a class (see ALIGN_CLASSES)."""
    for token in state.tokens:
        if token.type not in ("th_open", "td_open"):
            continue
        style = str(token.attrs.pop("style", "") or "")
        align = ALIGN_CLASSES.get(style.removeprefix("text-align:"))
        if align:
            token.attrSet("class", align)


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    options = {"html": False, "highlight": _highlight}
    parser = MarkdownIt("commonmark", options).enable(["table", "strikethrough"])
    parser.add_render_rule("image", _image_as_link)
    parser.core.ruler.push("align_classes", _align_classes)
    return parser


def _keep_class(element: str, attribute: str, value: str) -> str | None:
    """Keep Pygments' short token classes on spans and language hints on code; drop the rest."""
    if attribute == "class":
        if element == "span":
            kept = [c for c in value.split() if len(c) <= 3 and c.isalnum()]
        elif element in ("code", "pre"):
            kept = [c for c in value.split() if c == "highlight" or c.startswith(CLASS_PREFIXES)]
        elif element in ("th", "td"):
            kept = [c for c in value.split() if c in ALIGN_CLASSES.values()]
        else:
            kept = []
        return " ".join(kept) or None
    return value


def render_markdown(text: str) -> SafeString:
    """Sanitised HTML for untrusted markdown `text` (an LLM answer)."""
    html = _parser().render(text or "")
    attributes = {
        **ATTRIBUTES,
        "span": {"class"},
        "code": {"class"},
        "pre": {"class"},
    }
    cleaned = nh3.clean(
        html,
        tags=TAGS,
        attributes=attributes,
        attribute_filter=_keep_class,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(cleaned)  # noqa: S308 (nh3 output: only the tags and attributes above)


@register.filter(name="markdown", is_safe=True)
def markdown_filter(text: str) -> SafeString:
    return render_markdown(text)
