"""Feeds: RSS 2.0, Atom and JSON Feed, site-wide and per category, valid, stable and escaped."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import feedparser
import pytest

from eesite.build import Options, make_site
from eesite.feeds import feed_html, plain_text
from eesite.settings import load_settings
from tests import feedrules
from tests.conftest import NOW, ROOT, draw_text, post_text, snapshot

FEED_FILES = ("feed.xml", "atom.xml", "feed.json")


def parsedate(value: str) -> datetime:
    """RFC 822 (RSS) or RFC 3339 (Atom, JSON Feed), as an aware datetime."""
    return datetime.fromisoformat(value) if value[:4].isdigit() else parsedate_to_datetime(value)


def feed_paths(files: dict[str, bytes]) -> list[str]:
    return sorted(p for p in files if p.rsplit("/", 1)[-1] in FEED_FILES)


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    """The real bundled site (435 rounds, 4 articles), rendered in memory."""
    settings = load_settings(ROOT)
    options = Options(ROOT, tmp_path_factory.mktemp("out"), now=NOW)
    site, files = make_site(options, settings)
    return site, files


def parsed(data: bytes):
    """feedparser's reading of an RSS or Atom feed; JSON Feed (which feedparser 6 does not
    read) as a feedparser-like dict, so that tests compare the three formats alike."""
    if data.startswith(b"{"):
        items = json.loads(data)["items"]
        return feedparser.FeedParserDict(entries=[feedparser.FeedParserDict(
            id=i["id"], link=i["url"], title=i["title"], summary=i["summary"],
            published=i["date_published"], published_parsed=i["date_published"],
            content=[feedparser.FeedParserDict(value=i.get("content_html", i.get("content_text")))])
            for i in items])
    feed = feedparser.parse(data)
    assert not feed.bozo, feed.get("bozo_exception")
    return feed


def ids(data: bytes) -> list[str]:
    return [e.id for e in parsed(data).entries]


def test_every_bundled_feed_follows_the_validator_rules(bundled):
    site, files = bundled
    paths = feed_paths(files)
    assert len(paths) == 3 * (1 + len(site.categories)) == 48
    found = [p for path in paths
             for p in feedrules.problems(path, files[path], site.settings.base_url, NOW)]
    assert found == []


def test_site_feed_holds_the_latest_posts_newest_first(bundled):
    site, files = bundled
    for name in FEED_FILES:
        feed = parsed(files[name])
        assert len(feed.entries) == site.settings.feed_length == 50
        published = [parsedate(e.published) for e in feed.entries]
        assert published == sorted(published, reverse=True)
        assert feed.entries[0].link == "https://eedraws.example.org/posts/occupation-lists-2023-2026/"
        assert feed.entries[3].link == "https://eedraws.example.org/draws/434/"
        assert all(e.link.startswith("https://eedraws.example.org/") for e in feed.entries)
    assert ids(files["feed.xml"]) == ids(files["atom.xml"]) == ids(files["feed.json"])
    assert ids(files["feed.xml"])[3] == "tag:eedraws.example.org,2015:draws/434"


def test_draw_items_carry_facts_dates_and_absolute_content(bundled):
    _, files = bundled
    rss = parsed(files["feed.xml"]).entries[3]
    atom = parsed(files["atom.xml"]).entries[3]
    assert rss.summary == atom.summary == "300 invitations · CRS 470 · Transport"
    assert rss.published == "Fri, 07 Aug 2026 10:08:20 +0000"
    assert atom.published == "2026-08-07T10:08:20+00:00" and atom.updated
    assert [t.term for t in atom.tags] == ["transport"] and rss.tags[0].term == "Transport"
    content = atom.content[0].value
    assert "Invitations: <strong>300</strong>" in content and "CRS cut-off: <strong>470</strong>" in content
    assert 'href="https://eedraws.example.org/draws/' in content  # the last transport round
    assert "invitations.html?q=434" in content  # IRCC's record, credited
    hrefs = re.findall(r'(?:href|src)="([^"]*)"', content + rss.content[0].value)
    assert hrefs and all(h.startswith(("https://", "http://")) for h in hrefs)
    article = parsed(files["atom.xml"]).entries[2]  # "Category-based ... the numbers"
    assert 'href="/' not in article.content[0].value
    assert 'href="https://eedraws.example.org/draws/252/"' in article.content[0].value


def test_category_feeds_hold_only_their_category(bundled):
    site, files = bundled
    for group in site.categories:
        expected = sorted(group.entries, key=lambda e: e.post.date, reverse=True)[:50]
        for name in ("feed.xml", "atom.xml"):
            feed = parsed(files[f"categories/{group.key}/{name}"])
            assert [e.link for e in feed.entries] == [site.settings.absolute(e.url) for e in expected]
        atom = parsed(files[f"categories/{group.key}/atom.xml"])
        assert {t.term for e in atom.entries for t in e.tags} == {group.key}
        data = json.loads(files[f"categories/{group.key}/feed.json"])
        assert {tuple(i["tags"]) for i in data["items"]} == {(group.category.label,)}
    assert len(parsed(files["categories/stem/atom.xml"]).entries) == 3
    assert len(parsed(files["categories/general/atom.xml"]).entries) == 50


def test_pages_link_their_feeds(bundled):
    site, files = bundled
    alternate = re.compile(r'<link rel="alternate" type="([^"]+)" title="[^"]+" href="([^"]+)">')
    home = alternate.findall(files["index.html"].decode())
    assert home == [("application/rss+xml", "https://eedraws.example.org/feed.xml"),
                    ("application/atom+xml", "https://eedraws.example.org/atom.xml"),
                    ("application/feed+json", "https://eedraws.example.org/feed.json")]
    stem = [href for _, href in home] + [
        f"https://eedraws.example.org/categories/stem/{name}" for name in FEED_FILES]
    for page in ("categories/stem/index.html", "draws/254/index.html"):
        assert [href for _, href in alternate.findall(files[page].decode())] == stem
    for path, data in files.items():
        if path.endswith(".html"):
            links = alternate.findall(data.decode())
            assert links[:3] == home, path
            for _, href in links:
                assert href.removeprefix("https://eedraws.example.org/") in files, (path, href)
    feeds_page = files["feeds/index.html"].decode()
    for path in feed_paths(files):
        assert f'href="/{path}"' in feeds_page
    assert '<a href="/feeds/">' in files["index.html"].decode()


def test_escaping_of_titles_and_content(site):
    title = 'Compétence linguistique en français: A & B <goodbye> "quoted" it\'s'
    site.write("content/posts/fr.md", post_text(
        title.replace('"', '\\"'), extra='summary: "Résumé & <b>not bold</b>"\n',
        body="Élan & <em>accent</em> [a round](/draws/254/ \"t\") ![chart](../../static/c.png)\n\n"
             "<section><time datetime=\"2026-01-01\">jan</time><script>alert(1)</script></section>"
             "<p onclick=\"x()\" role=\"note\" style=\"color: red\">para</p>"))
    assert site.run("build") == 0
    for name in ("feed.xml", "atom.xml", "feed.json"):
        raw = (site.output / name).read_bytes()
        assert "Compétence linguistique en français".encode() in raw
        entry = parsed(raw).entries[0]
        assert entry.title == title
        content = entry.content[0].value
        assert "Élan &amp; <em>accent</em>" in content
        assert '<a href="https://example.org/draws/254/" title="t">a round</a>' in content
        assert 'src="https://example.org/static/c.png"' in content
        assert "alert" not in content and "<section" not in content and "<time" not in content
        assert "jan" in content and "<p>para</p>" in content
        problems = feedrules.problems(name, raw, "https://example.org", NOW)
        assert problems == []
    rss = (site.output / "feed.xml").read_text(encoding="utf-8")
    assert ("<title>Compétence linguistique en français: A &amp; B &lt;goodbye&gt; "
            "\"quoted\" it's</title>") in rss
    # RSS description is HTML to readers: the plain summary is escaped once more (Atom: type html)
    summary = "Résumé &amp;amp; &amp;lt;b&amp;gt;not bold&amp;lt;/b&amp;gt;"
    assert f"<description>{summary}</description>" in rss
    assert f'<summary type="html">{summary}</summary>' in (site.output / "atom.xml").read_text()
    assert json.loads((site.output / "feed.json").read_text())["items"][0]["summary"] == \
        "Résumé & <b>not bold</b>"  # JSON Feed's summary is plain text


def test_guid_survives_edits_reimport_and_another_base_url(site):
    site.write("content/draws/0254-2023-07-05-stem.md", draw_text("254"))
    site.write("content/posts/hello.md", post_text("Hello"))
    assert site.run("build") == 0
    before = {name: ids((site.output / name).read_bytes()) for name in FEED_FILES}
    assert before["atom.xml"] == ["tag:example.org,2015:posts/hello", "tag:example.org,2015:draws/254"]
    # IRCC corrects figures and the date; the editor retitles both and rewrites the prose
    site.write("content/draws/0254-2023-07-05-stem.md", draw_text(
        "254", crs=490, invitations=700, draw_date="2023-07-06", body="New prose.",
        extra="updated: 2023-08-01T10:00:00+00:00\n").replace('"Draw #254"', '"Round 254, corrected"'))
    site.write("content/posts/hello.md", post_text("Hello again", body="Other text."))
    assert site.run("build", "--base-url", "https://mirror.example.net/") == 0
    after = {name: ids((site.output / name).read_bytes()) for name in FEED_FILES}
    assert after == before
    atom = parsed((site.output / "atom.xml").read_bytes())
    draw = atom.entries[1]
    assert draw.link == "https://mirror.example.net/draws/254/"
    assert draw.title == "Round 254, corrected" and draw.summary == "700 invitations · CRS 490 · STEM"
    assert draw.updated == "2023-08-01T10:00:00+00:00"
    assert atom.feed.updated == atom.entries[0].updated == "2026-01-02T09:00:00-05:00"


def test_no_change_rebuild_writes_byte_identical_feeds(site, capsys):
    site.write("content/draws/0253-2023-07-04-stem.md", draw_text("253", draw_date="2023-07-04"))
    site.write("content/draws/0254-2023-07-05-stem.md", draw_text("254"))
    site.write("content/posts/hello.md", post_text("Hello"))
    assert site.run("build") == 0
    before = snapshot(site.output)
    assert site.run("build") == 0
    after = snapshot(site.output)
    for path in feed_paths(after):
        assert after[path] == before[path], path  # bytes and mtime: not rewritten
    assert " 0 files written" in capsys.readouterr().out
    settings = load_settings(site.root)
    _, later = make_site(Options(site.root, site.output, now=NOW + timedelta(days=30)), settings)
    for path in feed_paths(later):
        assert later[path] == before[path][0], path
    rss = (site.output / "feed.xml").read_text(encoding="utf-8")
    assert "<lastBuildDate>Fri, 02 Jan 2026 09:00:00 -0500</lastBuildDate>" in rss  # newest item


def test_drafts_and_future_posts_never_appear(site):
    site.write("content/posts/draft.md", post_text("Draft", extra="draft: true\n"))
    site.write("content/posts/later.md", post_text("Later", date="2999-01-01T00:00:00+00:00"))
    site.write("content/draws/0254-2023-07-05-stem.md", draw_text("254", extra="draft: true\n"))
    site.write("content/posts/now.md", post_text("Now"))
    assert site.run("build") == 0
    for name in FEED_FILES:
        raw = (site.output / name).read_bytes()
        assert [e.title for e in parsed(raw).entries] == ["Now"]
        assert b"Draft" not in raw and b"Later" not in raw and b"254" not in raw
    assert not (site.output / "categories/stem").exists()


def test_summary_only_setting(site):
    site.write("pyproject.toml", (site.root / "pyproject.toml").read_text() + "feed_full_content = false\n")
    site.write("content/draws/0254-2023-07-05-stem.md", draw_text("254"))
    site.write("content/posts/hello.md", post_text("Hello", body="First paragraph.\n\nSecond."))
    assert site.run("build") == 0
    rss = (site.output / "feed.xml").read_text(encoding="utf-8")
    atom = (site.output / "atom.xml").read_text(encoding="utf-8")
    assert "content:encoded" not in rss and "<content" not in atom
    assert "<description>First paragraph. Second.</description>" in rss  # no summary: the text
    items = json.loads((site.output / "feed.json").read_text())["items"]
    assert [i.get("content_text") for i in items] == ["First paragraph. Second.",
                                                      "500 invitations · CRS 486 · STEM"]
    for name in FEED_FILES:
        assert feedrules.problems(name, (site.output / name).read_bytes(), "https://example.org", NOW) == []


def test_same_timestamp_rounds_get_distinct_atom_updated(site):
    for round_id, category in (("91a", "fst"), ("91b", "pnp")):
        site.write(f"content/draws/0091{round_id[-1]}-2018-05-30-{category}.md",
                   draw_text(round_id, category=category, draw_date="2018-05-30"))
    assert site.run("build") == 0
    raw = (site.output / "atom.xml").read_bytes()
    entries = parsed(raw).entries
    assert [e.id for e in entries] == ["tag:example.org,2015:draws/91b", "tag:example.org,2015:draws/91a"]
    assert [e.updated for e in entries] == ["2018-05-30T14:00:00+00:00", "2018-05-30T13:59:59+00:00"]
    assert [e.published for e in entries] == ["2018-05-30T14:00:00+00:00"] * 2  # the record's
    assert feedrules.problems("atom.xml", raw, "https://example.org", NOW) == []


def test_tag_authority_setting_is_checked(site, capsys):
    site.write("pyproject.toml", (site.root / "pyproject.toml").read_text()
               + 'tag_authority = "Example.org"\n')
    assert site.run("check") == 1
    assert 'tag_authority: expected a lowercase domain and a date, such as "example.org,2026"' \
        in capsys.readouterr().err


def test_feed_html_makes_links_absolute_and_keeps_only_reader_safe_html():
    base = "https://example.org/posts/a/"
    assert feed_html('<p><a href="/x/">x</a> <a href="#n">n</a> <a href="y/">y</a> '
                     '<a href="mailto:a@b.c">m</a> <img src="i.png" alt="A &amp; B" srcset="j.png 2x">'
                     '</p>', base) == (
        '<p><a href="https://example.org/x/">x</a> <a href="https://example.org/posts/a/#n">n</a> '
        '<a href="https://example.org/posts/a/y/">y</a> <a href="mailto:a@b.c">m</a> '
        '<img src="https://example.org/posts/a/i.png" alt="A &amp; B"></p>')
    assert feed_html('<figure><img src="/a.png"><figcaption>Cap &lt;1&gt;</figcaption></figure>'
                     '<style>p{}</style><!-- note --><td style="text-align: right;">1</td>'
                     '<span style="position: fixed">s</span>', base) == (
        '<img src="https://example.org/a.png">Cap &lt;1&gt;<td style="text-align: right;">1</td>'
        '<span>s</span>')
    assert plain_text("<p>One &amp; <b>two</b></p>\n<p>three</p>", limit=12) == "One & two …"


def test_rule_checks_catch_what_the_validator_flags(bundled):
    """The rules are not vacuous: each known mistake in a real feed is reported."""
    site, files = bundled
    rss, atom = files["categories/stem/feed.xml"], files["categories/stem/atom.xml"]
    url = site.settings.base_url

    def found(path: str, data: bytes) -> str:
        return "\n".join(feedrules.problems(path, data, url, NOW))

    assert "SelfDoesntMatchLocation" in found("categories/pnp/feed.xml", rss)
    assert "MissingAtomSelfLink" in found("categories/stem/feed.xml", re.sub(
        rb'<atom:link [^>]*rel="self"[^>]*/>', b"", rss))
    assert "ContainsRelRef" in found("categories/stem/feed.xml", rss.replace(
        b"https://eedraws.example.org/draws/274/", b"/draws/274/"))
    assert "InvalidRFC2822Date" in found("categories/stem/feed.xml", rss.replace(
        b"Thu, 11 Apr 2024 13:23:42 +0000", b"2024-04-11T13:23:42Z"))
    assert "IncorrectDOW" in found("categories/stem/feed.xml", rss.replace(b"Thu, 11 Apr", b"Fri, 11 Apr"))
    assert "InvalidPermalink" in found("categories/stem/feed.xml", rss.replace(
        b'isPermaLink="false"', b'isPermaLink="true"'))
    assert "DuplicateUpdated" in found("categories/stem/atom.xml", atom.replace(
        b"2023-12-08T03:02:52+00:00", b"2024-04-11T13:23:42+00:00"))
    assert "ImplausibleDate" in found("categories/stem/atom.xml", atom.replace(
        b"2024-04-11T13:23:42+00:00", b"2099-04-11T13:23:42+00:00"))
    assert "SecurityRisk/NotHtml: <time>" in found("categories/stem/atom.xml", atom.replace(
        b"&lt;strong&gt;Round 293", b"&lt;time&gt;Round 293&lt;/time&gt;"))
