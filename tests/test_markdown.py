"""The `markdown` filter: tables, lists, highlighted code; raw HTML and unsafe links never pass."""

from __future__ import annotations

from django.template import Context, Template

from llm_metadata.templatetags.markdown import render_markdown


def test_it_renders_tables_with_alignment_as_classes_not_inline_styles() -> None:
    """The Content-Security-Policy refuses style attributes: alignment is a Bootstrap class."""
    html = render_markdown("| a | b | c |\n|:--|:-:|--:|\n| 1 | 2 | 3 |")
    assert "<table>" in html and '<th class="text-start">a</th>' in html
    assert '<td class="text-center">2</td>' in html and '<td class="text-end">3</td>' in html
    assert "style" not in html


def test_it_renders_lists_emphasis_and_strikethrough() -> None:
    html = render_markdown("- one\n- **two**\n\n3. three\n\n~~gone~~")
    assert "<ul>" in html and "<strong>two</strong>" in html
    assert '<ol start="3">' in html
    assert "<s>gone</s>" in html


def test_it_highlights_code_in_a_known_language() -> None:
    html = render_markdown("```python\ndef f():\n    return 1\n```")
    assert '<pre class="highlight"><code class="language-python">' in html
    assert '<span class="k">def</span>' in html


def test_it_escapes_code_in_an_unknown_language() -> None:
    html = render_markdown("```nosuchlang\n<b>x</b>\n```")
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert "<b>" not in html


def test_it_escapes_raw_html() -> None:
    html = render_markdown('<script>alert(1)</script>\n\n<img src=x onerror="alert(1)">')
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html


def test_it_drops_javascript_links_and_marks_others_nofollow() -> None:
    html = render_markdown("[bad](javascript:alert(1)) [good](https://example.com)")
    assert "javascript:" not in html.replace("[bad](javascript:alert(1))", "")
    assert 'href="https://example.com"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_it_turns_images_into_links() -> None:
    html = render_markdown("![chart](https://example.com/c.png)")
    assert "<img" not in html
    assert '<a href="https://example.com/c.png"' in html and "chart" in html


def test_it_keeps_only_known_classes() -> None:
    html = render_markdown('```html\n<div class="evil">\n```')
    assert 'class="evil"' not in html


def test_it_is_a_template_filter() -> None:
    rendered = Template("{% load markdown %}{{ text|markdown }}").render(
        Context({"text": "*hi* <b>"})
    )
    assert rendered.strip() == "<p><em>hi</em> &lt;b&gt;</p>"


def test_it_renders_nothing_for_empty_text() -> None:
    assert render_markdown("") == ""
