"""The feeds section: RSS 2.0 and Atom (feedgen) and JSON Feed 1.1, site-wide and per category.

Subscribers only trust a feed that never shows an item twice, so each item's id is a tag URI
(RFC 4151) built from the site's fixed tagging entity and the round or slug: it survives edits,
IRCC corrections, re-imports and builds under another base_url. Every date in a feed comes
from the content (the channel's lastBuildDate/updated is its newest item's), so a rebuild with
no content change writes byte-identical feeds. Item HTML passes `feed_html`, which makes every
link absolute and keeps only the HTML 4 elements and attributes feed readers and the W3C Feed
Validation Service accept.
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from eesite import __version__
from eesite.cache import MADE, digest
from eesite.model import Entry, Group, Site

if TYPE_CHECKING:  # render.py imports this module to list it in SECTIONS
    from feedgen.feed import FeedGenerator

    from eesite.render import Page, Renderer

# (format, file name, media type, label); a feed lives at <base>/<file name>.
FORMATS: tuple[tuple[str, str, str, str], ...] = (
    ("rss", "feed.xml", "application/rss+xml", "RSS"),
    ("atom", "atom.xml", "application/atom+xml", "Atom"),
    ("json", "feed.json", "application/feed+json", "JSON Feed"),
)
FILE = {fmt: name for fmt, name, _, _ in FORMATS}
MEDIA = {fmt: media for fmt, _, media, _ in FORMATS}
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)  # the date of a feed with no item


@dataclass(frozen=True)
class FeedLink:
    """One feed file as a page links it: `<link rel="alternate" type=... title=... href=...>`."""

    scope: str  # "all" or the category slug
    format: str
    type: str
    label: str
    title: str
    path: str  # site path, for links in the page body
    href: str  # absolute URL, for <link> and for readers to copy


@dataclass(frozen=True)
class Feed:
    """One feed, in every format: the whole site's latest posts, or one category's draws."""

    key: str  # "all" or a category slug
    title: str
    description: str
    base: str  # site path of the folder holding its files: "/" or "/categories/stem/"
    page: str  # site path of the HTML page it follows
    entries: tuple[Entry, ...]  # newest first, at most feed_length
    group: Group | None = None  # the category's, for category feeds

    def links(self, site: Site) -> tuple[FeedLink, ...]:
        return _links(site, self.key, self.title, self.base)


def _links(site: Site, scope: str, title: str, base: str) -> tuple[FeedLink, ...]:
    return tuple(FeedLink(scope, fmt, media, label, f"{title} ({label})", base + name,
                          site.settings.absolute(base + name))
                 for fmt, name, media, label in FORMATS)


@dataclass(frozen=True)
class FeedRow:
    """What /feeds/ shows of a feed: plain values, so that the page counts these, not the
    feed's entries (as `Feed`s it was made again on every front-matter edit)."""

    description: str
    page: str
    title: str  # the category's, for a category feed
    rounds: int  # in the category (0 for the site-wide feed)
    links: tuple[FeedLink, ...]


@dataclass(frozen=True)
class Item:
    """What every format says about one post."""

    id: str
    url: str  # absolute
    title: str
    published: datetime
    updated: datetime
    summary: str  # plain text
    content: str | None  # HTML with absolute URLs; None when feed_full_content is off
    categories: tuple[tuple[str, str, str | None], ...]  # (term, label, scheme URL)


# ---- which feeds ---------------------------------------------------------------------------

def _category_title(site: Site, group: Group) -> str:
    return f"{site.settings.title}: {group.title}"


def all_feeds(site: Site) -> tuple[Feed, ...]:
    """The site-wide feed of the latest posts, then one feed per category of its draws."""
    s = site.settings
    feeds = [Feed("all", s.title, s.description, "/", "/", site.entries[:s.feed_length])]
    for group in site.categories:
        entries = sorted(group.entries, key=lambda e: (e.post.date, e.post.source), reverse=True)
        feeds.append(Feed(group.key, _category_title(site, group), group.category.blurb,
                          group.url, group.url, tuple(entries[:s.feed_length]), group))
    return tuple(feeds)


def feed_links(site: Site, category: str = "") -> tuple[FeedLink, ...]:
    """The feeds a page links in its head: the site's, then its category's if it has one."""
    links = _links(site, "all", site.settings.title, "/")
    for group in site.categories:
        if group.key == category.strip():
            links += _links(site, group.key, _category_title(site, group), group.url)
    return links


# ---- item ids, dates and HTML -------------------------------------------------------------

def item_id(site: Site, entry: Entry) -> str:
    """tag:<entity>:draws/<round> or tag:<entity>:posts/<slug>, independent of title, figures,
    dates and base_url, so no edit or rebuild makes a reader show the item twice."""
    key = f"draws/{entry.draw.round}" if entry.draw else f"{entry.post.kind}s/{entry.post.slug}"
    return f"tag:{site.settings.tagging_entity}:{key}"


def facts(entry: Entry) -> str:
    """"500 invitations · CRS 486 · STEM": what a subscriber wants to see without clicking."""
    d = entry.draw
    return f"{d.invitations:,} invitations · CRS {d.crs_cutoff} · {entry.category.label}"


def distinct_updates(entries: tuple[Entry, ...]) -> dict[str, datetime]:
    """Each entry's updated date, a second earlier where an entry before it has the same one.

    Atom readers (and the W3C validator) expect distinct atom:updated values; IRCC's record
    has rounds with identical timestamps (91a and 91b). Moving the later one back, never
    forward, keeps the value stable when the feed grows.
    """
    seen: set[datetime] = set()
    out = {}
    for entry in entries:
        when = entry.post.updated or entry.post.date
        while when in seen:
            when -= timedelta(seconds=1)
        seen.add(when)
        out[entry.url] = when
    return out


# Elements and attributes of HTML 4 that feed readers render and the W3C Feed Validation
# Service accepts (its HTMLValidator lists); anything else is unwrapped or dropped.
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


ELEMENTS = _words(
    "a abbr acronym b blockquote br caption cite code col colgroup dd del dfn div dl dt em h1 h2 "
    "h3 h4 h5 h6 hr i img ins kbd li ol p pre q s samp small span strike strong sub sup table "
    "tbody td tfoot th thead tr tt u ul var")
ATTRIBUTES = _words(
    "abbr align alt border cellpadding cellspacing cite class colspan datetime dir headers height "
    "href hreflang id lang rel rowspan scope span src start summary title type valign width")
DROPPED_WITH_CONTENT = _words("script style template iframe object svg math noscript head title")
URL_ATTRIBUTES = frozenset({"href", "src", "cite"})
SAFE_STYLE = re.compile(r"^\s*text-align:\s*(left|right|center);?\s*$")  # Markdown table columns


class _FeedHTML(HTMLParser):
    def __init__(self, base: str):
        super().__init__(convert_charrefs=True)
        self.base = base
        self.out: list[str] = []
        self.text: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROPPED_WITH_CONTENT:
            self.skipping += 1
        if self.skipping or tag not in ELEMENTS:
            return
        kept = []
        for name, value in attrs:
            value = value or ""
            if name in URL_ATTRIBUTES:
                value = urljoin(self.base, value.strip())
            if name in ATTRIBUTES or (name == "style" and SAFE_STYLE.match(value)):
                kept.append(f' {name}="{html.escape(value)}"')
        self.out.append(f"<{tag}{''.join(kept)}>")

    def handle_endtag(self, tag: str) -> None:
        if tag in DROPPED_WITH_CONTENT:
            self.skipping = max(0, self.skipping - 1)
        elif not self.skipping and tag in ELEMENTS and tag not in ("br", "hr", "img", "col"):
            self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(html.escape(data, quote=False))
            self.text.append(data)


def feed_html(fragment: str, base: str) -> str:
    """`fragment` with every href/src/cite resolved against `base` (the item's absolute URL)
    and only elements and attributes that feed readers accept; comments are dropped."""
    parser = _FeedHTML(base)
    parser.feed(fragment)
    parser.close()
    return "".join(parser.out).strip()


def plain_text(fragment: str, limit: int = 300) -> str:
    """The text of an HTML fragment, cut at a word before `limit` characters."""
    parser = _FeedHTML("")
    parser.feed(fragment)
    parser.close()
    text = " ".join("".join(parser.text).split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


# ---- formats -------------------------------------------------------------------------------

def _generator(site: Site, feed: Feed, fmt: str, items: list[Item], updated: datetime
               ) -> FeedGenerator:
    from feedgen.feed import FeedGenerator  # (lxml, dateutil: only when a feed is made)

    s = site.settings
    fg = FeedGenerator()
    fg.id(f"tag:{s.tagging_entity}:feeds/{feed.key}")
    fg.title(feed.title)
    fg.description(feed.description)  # RSS description, Atom subtitle
    fg.author({"name": s.title, "uri": s.absolute("/")})
    fg.language(s.language)
    fg.rights(f"Draw figures: Immigration, Refugees and Citizenship Canada (IRCC). "
              f"{s.title} is not IRCC.")
    fg.generator("eesite", __version__)
    # feedgen takes RSS <link> from the last call: self first, then the page it follows.
    fg.link(href=s.absolute(feed.base + FILE[fmt]), rel="self", type=MEDIA[fmt])
    fg.link(href=s.absolute(feed.page), rel="alternate", type="text/html")
    fg.lastBuildDate(updated)  # feedgen's default is the build time: never byte-identical
    fg.updated(updated)
    for item in items:
        fe = fg.add_entry(order="append")
        fe.id(item.id)
        fe.guid(item.id, permalink=False)
        fe.title(item.title)
        fe.link(href=item.url, rel="alternate", type="text/html")
        fe.published(item.published)
        fe.updated(item.updated)
        for term, label, scheme in item.categories:
            fe.category(term=term, label=label, scheme=scheme)
        # Readers take RSS description as HTML, and the validator flags "</b>" in an Atom
        # type="text" summary: both get the plain summary escaped once more, as HTML.
        if fmt == "rss":
            fe.description(html.escape(item.summary))
        else:
            fe.summary(html.escape(item.summary), type="html")
        if item.content is not None:
            fe.content(item.content, type="html")  # RSS content:encoded; never CDATA in Atom
    return fg


def rss(site: Site, feed: Feed, items: list[Item], updated: datetime) -> bytes:
    return _generator(site, feed, "rss", items, updated).rss_str(pretty=True)


def atom(site: Site, feed: Feed, items: list[Item], updated: datetime) -> bytes:
    return _generator(site, feed, "atom", items, updated).atom_str(pretty=True)


def json_feed(site: Site, feed: Feed, items: list[Item], updated: datetime) -> bytes:
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1), which feedgen does not write."""
    s = site.settings
    data = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": feed.title,
        "home_page_url": s.absolute(feed.page),
        "feed_url": s.absolute(feed.base + FILE["json"]),
        "description": feed.description,
        "language": s.language,
        "authors": [{"name": s.title, "url": s.absolute("/")}],
        "items": [
            {
                "id": item.id,
                "url": item.url,
                "title": item.title,
                **({"content_html": item.content} if item.content is not None
                   else {"content_text": item.summary}),
                "summary": item.summary,
                "date_published": item.published.isoformat(),
                "date_modified": item.updated.isoformat(),
                "tags": [label for _, label, _ in item.categories],
            }
            for item in items
        ],
    }
    return (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


WRITERS = {"rss": rss, "atom": atom, "json": json_feed}


@functools.cache
def _writer_stamp() -> tuple:
    """The installed feedgen and lxml (which writes its XML), by the names of their
    dist-info folders, which carry the versions: an upgrade may change the bytes written, so
    kept feeds count it. Found without importing either (lxml: ~30 ms) or
    importlib.metadata (25 ms); a package installed another way counts by its files' stamp."""
    from importlib.util import find_spec

    out = []
    for name in ("feedgen", "lxml"):
        spec = find_spec(name)
        folder = next(iter(spec.submodule_search_locations or ()), None) if spec else None
        if folder is None:
            out.append((name, None))
            continue
        parent = os.path.dirname(folder)
        try:
            found = tuple(sorted(n for n in os.listdir(parent) if n.startswith(f"{name}-")
                                 and n.endswith((".dist-info", ".egg-info"))))
        except OSError:
            found = ()
        if not found:
            try:
                st = os.stat(os.path.join(folder, "__init__.py"))
                found = (folder, st.st_size, st.st_mtime_ns)
            except OSError:
                found = (folder,)
        out.append((name, found))
    return tuple(out)


# ---- the section ---------------------------------------------------------------------------

class _Items:
    """Builds each entry's Item once, however many feeds it is in.

    With a cache, an item's HTML is kept in it under the digest of what it is made from (its
    entry, the round before in its category, its Markdown, `feed_item.html` with what it
    imports, its URL), so a feed whose items are all unchanged is kept without rendering any
    (`inputs`); rendering records what the template read, and an item that read more (a
    `site` value, another entry, a call of `feed_links`) makes its feeds ones that are made
    every build."""

    def __init__(self, r: Renderer):
        self.r = r
        self.content: dict[str, str | None] = {}
        self.keys: dict[str, str] = {}  # entry URL -> the key of its HTML
        self.inexact: set[str] = set()  # entry URLs whose HTML read more than its key says
        self._templates: str | None = None

    def key(self, entry: Entry) -> str:
        known = self.keys.get(entry.url)
        if known is None:
            r = self.r
            if self._templates is None:
                self._templates = "\0".join(f"{t}:{r.keys.template(t)}" for t in
                                            r.env.with_imports(("feed_item.html",)))
            before = entry.previous_same
            known = self.keys[entry.url] = MADE + digest("\0".join((
                "feed item", r.keys.entry(entry), r.keys.entry(before) if before else "",
                r.body_key(entry.post.source), self._templates,
                r.site.settings.absolute(entry.url))))
        return known

    def html(self, entry: Entry) -> str | None:
        if entry.url not in self.content:
            self.content[entry.url] = self._html(entry)
        return self.content[entry.url]

    def stored(self, entry: Entry) -> bool:
        """Is the item's HTML in the cache under its key (so it was exact when made)? Asked of
        the index, not read: a feed whose items are all stored is kept without reading the
        HTML store's shards for them."""
        key = self.key(entry)
        if key in self.r.html:
            self.r.memos.add(key)
            return True
        return False

    def _html(self, entry: Entry) -> str:
        r = self.r
        key = self.key(entry) if r.keys is not None else None
        if key is not None and (found := r.html.get(key)) is not None:
            r.memos.add(key)
            return found
        fragment, exact = self._render(entry)
        base = r.site.settings.absolute(entry.url)
        if key is None or not exact:
            self.inexact.add(entry.url)
            return r.memo(feed_html, fragment, base)
        r.memos.add(key)
        found = r.html[key] = feed_html(fragment, base)
        return found

    def _render(self, entry: Entry) -> tuple[str, bool]:
        """feed_item.html for `entry`, and whether it read only what the item's key holds."""
        from eesite.incremental import Reads
        from eesite.templating import template_problem

        env, reads = self.r.env, Reads()
        outer, env.reads = env.reads, reads
        try:
            fragment = env.get_template("feed_item.html").render(
                entry=entry, content=self.r.markdown(entry))
        except Exception as err:  # noqa: BLE001 - reported like any template error
            self.r.problems.add(template_problem(err, self.r.templates))
            return "", False
        finally:
            env.reads = outer
        before = entry.previous_same
        exact = not reads.values and not reads.unknown and reads.entries <= {
            entry.url, before.url if before else entry.url} and reads.templates <= set(
            env.with_imports(("feed_item.html",)))
        return fragment, exact

    def inputs(self, feed: Feed, dates: dict[str, datetime], newest: datetime) -> object:
        """What a feed's files are made from, or None when an item's HTML read more."""
        rows = []
        for e in feed.entries:
            if not self.stored(e):
                self.html(e)  # (made now)
            if e.url in self.inexact:
                return None
            rows.append((self.keys[e.url], self.r.keys.entry(e), dates[e.url]))
        return (feed.key, feed.title, feed.description, feed.base, feed.page, newest,
                tuple(rows), _writer_stamp())

    def item(self, entry: Entry, updated: datetime) -> Item:
        site = self.r.site
        s = site.settings
        full = self.html(entry)
        if entry.draw:
            summary = facts(entry)
            cat = entry.category
            categories = ((cat.slug, cat.label, s.absolute(f"/categories/{cat.slug}/")),)
        else:
            summary = entry.post.summary or plain_text(full or "")
            categories = ()
        categories += tuple((t, t, s.absolute(f"/tags/{t}/")) for t in entry.post.tags)
        return Item(item_id(site, entry), s.absolute(entry.url), entry.post.title,
                    entry.post.date, updated, summary, full if s.feed_full_content else None,
                    categories)


def feed_pages(r: Renderer) -> Iterator[Page | None]:
    """Every feed in every format, and the /feeds/ page that lists them."""
    site = r.site
    items = _Items(r)
    feeds = all_feeds(site)
    for feed in feeds:
        dates = distinct_updates(feed.entries)
        newest = max(dates.values(), default=site.updated or EPOCH)
        origin = f"feeds ({feed.key})"
        entries = functools.cache(lambda f=feed, d=dates: [items.item(e, d[e.url]) for e in f.entries])
        inputs = functools.cache(lambda f=feed, d=dates, n=newest: items.inputs(f, d, n))
        for fmt, name in FILE.items():
            yield r.file((feed.base + name).lstrip("/"), origin,
                         lambda w=WRITERS[fmt], f=feed, e=entries, n=newest: w(site, f, e(), n),
                         texts=[e.post.source for e in feed.entries],
                         inputs=inputs)
    yield r.page("/feeds/", "feeds.html", "templates/feeds.html", site.updated,
                 feeds=tuple(FeedRow(f.description, f.page, f.group.title if f.group else f.title,
                                     len(f.group.entries) if f.group else 0, f.links(site))
                             for f in feeds))
