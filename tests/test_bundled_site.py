"""The bundled site is the real record: every round of IRCC's feed, checked page by page.

Expectations come straight from the feed JSON (parsed here, independently of eesite.ircc).
"""

from __future__ import annotations

import html
import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from eesite.build import Options, build
from eesite.importer import import_feed
from eesite.settings import load_settings
from tests.conftest import ROOT

FEED = ROOT / "content" / "data" / "ircc" / "ee_rounds_123_en.json"
ROUNDS = json.loads(FEED.read_text(encoding="utf-8"))["rounds"]


def number(text: str) -> int:
    return int(text.replace(",", ""))


@pytest.fixture(scope="module")
def bundled(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundled") / "output"
    settings = load_settings(ROOT)
    build(Options(source=ROOT, output=out, now=datetime(2026, 11, 23, tzinfo=UTC)), settings)
    return out


def test_feed_has_all_435_records():
    assert len(ROUNDS) == 435
    assert {r["drawNumber"] for r in ROUNDS} >= {"1", "91a", "91b", "434"}


def test_bundled_content_is_in_step_with_the_feed(tmp_path):
    draws = tmp_path / "draws"
    shutil.copytree(ROOT / "content" / "draws", draws)
    report = import_feed(FEED, draws, datetime(2026, 11, 23, tzinfo=UTC))
    assert report.created == () and report.updated == ()
    assert len(report.unchanged) == 435


@pytest.mark.parametrize("record", ROUNDS, ids=[r["drawNumber"] for r in ROUNDS])
def test_every_round_page_carries_the_feed_figures(bundled, record):
    page = html.unescape((bundled / "draws" / record["drawNumber"] / "index.html").read_text())
    facts = re.search(r'<dl class="facts">(.*?)</dl>', page, re.S).group(1)
    invitations = re.search(r"<dt>Invitations</dt><dd>([\d,]+)</dd>", facts).group(1)
    cutoff = re.search(r"<dt>CRS cut-off</dt><dd>(\d+)</dd>", facts).group(1)
    assert number(invitations) == number(record["drawSize"])
    assert int(cutoff) == number(record["drawCRS"])
    assert record["drawName"].strip() in facts
    assert record["drawDateFull"].replace(" 0", " ") in facts or record["drawDateFull"] in facts
    n = re.escape(record["drawNumber"])  # the link to IRCC's page for this round (two URL forms)
    assert re.search(rf"express-entry-rounds/(invitations\.html\?q={n}\"|invitations-{n}\.html)", page)
    if record["drawCutOff"].strip():
        assert "only those who submitted their Express Entry profile before" in page
    else:
        assert "did not publish a tie-breaking time" in page
    assert ("The pool on" in page) == (record["dd18"] != "0")


def test_draws_json_matches_the_feed(bundled):
    data = json.loads((bundled / "draws.json").read_text())
    assert data["count"] == 435 and "IRCC" in data["source"]
    by_round = {d["round"]: d for d in data["draws"]}
    for record in ROUNDS:
        d = by_round[record["drawNumber"]]
        assert d["draw_date"] == record["drawDate"]
        assert d["invitations"] == number(record["drawSize"])
        assert d["crs_cutoff"] == number(record["drawCRS"])
        assert d["draw_name"] == record["drawName"].strip()
        assert (d["tie_break"] is None) == (not record["drawCutOff"].strip())
        assert d["url"] == f"https://eedraws.example.org/draws/{record['drawNumber']}/"
    assert [d["round"] for d in data["draws"]][:3] == ["434", "433", "432"]


def test_known_facts_and_anomalies_on_the_pages(bundled):
    one = (bundled / "draws/1/index.html").read_text()
    assert "<dd>779</dd>" in one and "<dd>886</dd>" in one and "January 31, 2015" in one
    assert "This was the first round of invitations under Express Entry." in one
    assert "Federal Skilled Trades" in (bundled / "draws/91a/index.html").read_text()
    assert "<dd>902</dd>" in (bundled / "draws/91b/index.html").read_text()
    assert "without a year" in (bundled / "draws/208/index.html").read_text()
    assert "July 12, 2025" in (bundled / "draws/357/index.html").read_text()
    r247 = (bundled / "draws/247/index.html").read_text()
    assert "does not equal the sum of its parts (55,687)" in r247 and "55,867" in r247


def test_archive_lists_every_round_in_one_table(bundled):
    page = (bundled / "draws/index.html").read_text()
    assert page.count("<table") == 1
    rows = re.findall(r'<th scope="row"><a href="/draws/([0-9ab]+)/">', page)
    assert len(rows) == 435 and rows[0] == "434" and rows[-1] == "1"


def test_every_page_credits_ircc_and_says_it_is_not_ircc(bundled):
    for page in bundled.rglob("*.html"):
        text = page.read_text()
        assert "Immigration, Refugees and Citizenship Canada (IRCC)" in text, page
        assert "It is not IRCC" in text, page


def test_news_article_metadata_on_posts(bundled):
    page = (bundled / "posts/express-entry-2025-in-review/index.html").read_text()
    data = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)[1])
    assert data["@type"] == "NewsArticle" and data["headline"].startswith("Express Entry")
    assert data["url"] == "https://eedraws.example.org/posts/express-entry-2025-in-review/"
    assert '<meta property="og:type" content="article">' in page


def test_sitemap_is_valid_and_absolute(bundled):
    schema = etree.XMLSchema(etree.parse(str(ROOT / "tests" / "schemas" / "sitemap.xsd")))
    doc = etree.parse(str(bundled / "sitemap.xml"))
    schema.assertValid(doc)
    locs = [e.text for e in doc.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert len(locs) == len(set(locs)) > 435
    for loc in locs:
        assert loc.startswith("https://eedraws.example.org/")
        rel = loc.removeprefix("https://eedraws.example.org/")
        assert (bundled / rel / "index.html").is_file() or (bundled / rel).is_file(), loc
    assert not {"https://eedraws.example.org/404/", "https://eedraws.example.org/404.html"} & set(locs)
    assert "Sitemap: https://eedraws.example.org/sitemap.xml" in (bundled / "robots.txt").read_text()


def test_no_change_rebuild_keeps_every_file(bundled):
    before = {p: p.stat().st_mtime_ns for p in bundled.rglob("*") if p.is_file()}
    settings = load_settings(ROOT)
    _, report = build(Options(source=ROOT, output=bundled, now=datetime(2026, 11, 23, tzinfo=UTC)),
                      settings)
    assert report.written == 0 and report.removed == 0
    assert {p: p.stat().st_mtime_ns for p in bundled.rglob("*") if p.is_file()} == before
