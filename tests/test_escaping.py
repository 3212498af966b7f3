"""Escaping: strings from front matter and from IRCC's feed are text, never markup.

A title with <script> must show as text on every page that prints it, in attributes (meta,
Open Graph), in JSON-LD, and in every XML file; nothing in the output may run a script or
break out of an attribute. The checks parse the output rather than grep it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree, html

from eesite.cli import main
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
