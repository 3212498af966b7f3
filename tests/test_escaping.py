"""Escaping: strings from front matter and from IRCC's feed are text, never markup.

A title with <script> must show as text on every page that prints it, in attributes (meta,
Open Graph), in JSON-LD, and in every XML file; nothing in the output may run a script or
break out of an attribute. The checks parse the output rather than grep it.
"""

from __future__ import annotations

import json
from pathlib import Path

import jinja2
import markupsafe
import pytest
from lxml import etree, html
from markupsafe import Markup

from eesite.cli import main
from eesite.escaping import CompiledTemplates, OutputEscaping, escape_output
from tests.conftest import SiteDir, draw_text, post_text
from tests.test_ircc import feed_text, record

ATTACK = '<script>alert("x")</script> & "quotes" \'too\' <img src=x onerror=alert(1)>'
YAML_ATTACK = json.dumps(ATTACK)  # a YAML double-quoted string


def scripts_and_handlers(tree) -> list[str]:
    """Every element that could run code: scripts other than JSON-LD and the theme's own
    files in /static/, on* attributes."""
    found = [etree.tostring(s, encoding="unicode")[:80] for s in tree.iter("script")
             if s.get("type") != "application/ld+json"
             and not (s.get("src", "").startswith("/static/") and not (s.text or "").strip())]
    found += [f"{el.tag} {name}" for el in tree.iter() if isinstance(el.tag, str)
              for name in el.attrib if name.lower().startswith("on")]
    found += [el.tag for el in tree.iter("img")]  # the theme has no images; an injected one
    return found


def check_output(output: Path) -> dict[str, int]:
    """Parse every HTML, XML and JSON file; count the pages that show the attack as text."""
    shown = {"html": 0, "attribute": 0, "json-ld": 0}
    for path in sorted(output.rglob("*")):
        if path.suffix == ".html":
            tree = html.parse(str(path))
            assert scripts_and_handlers(tree) == [], path
            text = tree.getroot().text_content()
            shown["html"] += ATTACK in text
            shown["attribute"] += any(ATTACK in v for el in tree.iter() if isinstance(el.tag, str)
                                      for v in el.attrib.values())
            for block in tree.iter("script"):
                if block.get("type") != "application/ld+json":
                    continue
                raw = block.text or ""
                assert "</" not in raw and "<script" not in raw.lower(), path
                data = json.loads(raw)
                shown["json-ld"] += ATTACK in (data.get("headline"), data.get("description"))
        elif path.suffix == ".xml":
            etree.parse(str(path))  # well-formed, or lxml raises
            assert b"<script" not in path.read_bytes()
        elif path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
    return shown


def test_front_matter_strings_are_text_everywhere(site: SiteDir):
    site.write("content/posts/attack.md", post_text(
        "placeholder", extra=f"summary: {YAML_ATTACK}\ntags: [analysis]\n",
        body="Prose.").replace('"placeholder"', YAML_ATTACK))
    site.write("content/draws/0254-2023-07-05-stem.md", draw_text(extra=(
        f"data_notes:\n  - {YAML_ATTACK}\n"
        f"corrections:\n  - {{date: 2023-07-06, field: crs_cutoff, old: {YAML_ATTACK}, new: 486}}\n"
    )).replace('"Federal Skilled Worker Program"', YAML_ATTACK))
    assert site.run("build", "--base-url", "https://example.org/a?b=1&c=<2>") == 0
    shown = check_output(site.output)
    # the article page, its teaser on the home, tag and archive listings; the draw page
    assert shown["html"] >= 4 and shown["attribute"] >= 1 and shown["json-ld"] >= 1
    page = html.parse(str(site.output / "posts/attack/index.html"))
    assert page.findtext(".//h1") == ATTACK  # shown as the text it is
    assert page.find(".//meta[@name='description']").get("content") == ATTACK
    loc = etree.parse(str(site.output / "sitemap.xml")).findtext(
        ".//{http://www.sitemaps.org/schemas/sitemap/0.9}loc")
    assert loc.startswith("https://example.org/a?b=1&c=<2>/")  # escaped in XML, read back


def test_imported_feed_strings_are_text_everywhere(site: SiteDir, tmp_path: Path):
    feed = tmp_path / "feed.json"
    feed.write_text(feed_text(record(
        drawText2=ATTACK,
        drawNumberURL="<a href='/en/rounds.html?a=1&b=\"><script>alert(1)</script>'>254</a>",
    )), encoding="utf-8")
    assert main(["import", str(feed), "--source", str(site.root)]) == 0
    assert site.run("build") == 0
    shown = check_output(site.output)
    assert shown["html"] >= 1
    page = html.parse(str(site.output / "draws/254/index.html"))
    assert ATTACK in page.getroot().text_content()
    links = [a.get("href") for a in page.iter("a") if "?a=1" in (a.get("href") or "")]
    assert links == ['https://www.canada.ca/en/rounds.html?a=1&b="><script>alert(1)</script>']
    data = json.loads((site.output / "draws.json").read_text(encoding="utf-8"))
    assert data["draws"][0]["programs"] == ATTACK


@pytest.mark.parametrize("planted", ["<script>alert(1)</script>", "<p onclick=x>x</p>",
                                     "<img src=x>"])
def test_the_check_finds_markup_that_could_run(tmp_path: Path, planted: str):
    (tmp_path / "index.html").write_text(f"<!DOCTYPE html><html><body>{planted}</body></html>")
    with pytest.raises(AssertionError):
        check_output(tmp_path)


# ---- `{{ x }}` escaped as text (eesite/escaping.py) ---------------------------------------------

class Html:
    def __html__(self) -> str:
        return "<b>already safe</b>"


class Text(str):
    pass


OUTPUT_VALUES = [ATTACK, "", "plain", Markup("<i>safe</i>"), Text("<u>sub</u>"), 455, -1.5,
                 None, True, Html(), ("<a>", 1), {"k": "<v>"}]


@pytest.mark.parametrize("value", OUTPUT_VALUES, ids=repr)
def test_escape_output_gives_markupsafes_characters_as_text(value):
    got = escape_output(value)
    assert isinstance(got, str) and str(got) == str(markupsafe.escape(value))


TEMPLATES = {
    "macros.html": "{% macro m(x, y='<d>') %}<p>{{ x }}{{ y }}{{ caller() if caller }}</p>"
                   "{% endmacro %}",
    "base.html": "<title>{% block title %}{{ t }}{% endblock %}</title>"
                 "{% set head %}{{ self.title() }}|{{ t }}{% endset %}{{ head }}{{ head | length }}"
                 "{% block body %}{% endblock %}",
    "page.html": """{% extends "base.html" %}{% from "macros.html" import m %}
{% block body %}{{ m(t) }}{{ m(t, t ~ "&") }}{% call m(v) %}{{ t }}{% endcall %}
{% for x in xs %}{{ x }}{{ loop.index }}{% if x is string %}{{ x | upper }}{% endif %}{% endfor %}
{% filter lower %}{{ t }}<B>{% endfilter %}{{ safe | safe }}{{ safe }}{{ t | e }}{{ n }}
{% autoescape false %}{{ t }}{% endautoescape %}{% set s = t ~ safe %}{{ s }}{{ s | length }}
{{ [t, safe] | join(", ") }}{{ "%s!" | format(t) }}{% include "macros.html" %}{% endblock %}""",
}


def test_templates_give_the_same_page_as_with_jinjas_own_escaping(tmp_path: Path):
    """Every way a value reaches a page (blocks, macros, call blocks, set and filter blocks,
    loops, `self`, filters, autoescape switched off): the same page as plain Jinja makes."""
    for name, text in TEMPLATES.items():
        (tmp_path / name).write_text(text)
    context = {"t": ATTACK, "v": Text("<v>"), "safe": Markup("<em>ok</em>"), "n": 7,
               "xs": [ATTACK, 3, Markup("<s>"), Html()]}

    def page(generator) -> str:
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(tmp_path), autoescape=True,
                                 extensions=["jinja2.ext.do"])
        if generator:
            env.code_generator_class = generator
        return env.get_template("page.html").render(context)

    ours = page(OutputEscaping)
    assert ours == page(None)
    assert "&lt;script&gt;" in ours and "<em>ok</em>" in ours and "<b>already safe</b>" in ours


def test_templates_compiled_by_another_eesite_are_compiled_again(tmp_path: Path):
    """Compiled templates are kept between builds (.eesite-cache/jinja); one compiled by
    another code generator (plain Jinja here) is compiled again, not run."""
    (tmp_path / "t.html").write_text("{{ x }}")
    compiled = tmp_path / "compiled"
    compiled.mkdir()

    def template(cache, generator=None):
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(tmp_path), autoescape=True,
                                 bytecode_cache=cache)
        if generator:
            env.code_generator_class = generator
        return env.get_template("t.html")

    plain = template(jinja2.FileSystemBytecodeCache(str(compiled)))
    assert "escape_output" not in plain.root_render_func.__globals__
    assert len(list(compiled.iterdir())) == 1
    ours = template(CompiledTemplates(str(compiled)), OutputEscaping)
    assert "escape_output" in ours.root_render_func.__globals__
    again = template(CompiledTemplates(str(compiled)))  # from the cache: no generator needed
    assert "escape_output" in again.root_render_func.__globals__
    assert again.render(x="<") == "&lt;"
