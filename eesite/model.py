"""Stage 2, model: one immutable Site built from the loaded Posts.

Everything the templates need is grouped, sorted and counted here, once, so that templates
stay cheap (no template loops over every post on every page) and the render stage is a pure
function of this model.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import ClassVar

from eesite.analytics import Analytics, analyze
from eesite.categories import BY_SLUG, CATEGORIES, Category
from eesite.content import Draw, Post
from eesite.occupations import EMPTY, OccupationIndex
from eesite.settings import Settings


@dataclass(frozen=True)
class Entry:
    """A published post with its URL and, for draws, the draws it is compared with."""

    post: Post
    url: str  # site path, e.g. "/draws/254/"
    previous: Entry | None = None  # the round before, of any category
    previous_same: Entry | None = None  # the round before in the same category

    @functools.cached_property  # read half a million times by the analytics of 10,000 draws
    def draw(self) -> Draw | None:
        return self.post.draw

    @property
    def category(self) -> Category | None:
        return BY_SLUG[self.post.draw.category] if self.post.draw else None


@dataclass(frozen=True)
class Group:
    """Entries under one heading: a category's draws or a tag's posts, newest first, shown in
    `listings` of a page each (the first at `url`, then `url`page/N/)."""

    key: str
    title: str
    url: str
    entries: tuple[Entry, ...]
    category: Category | None = None
    listings: tuple[Listing, ...] = ()

    # each of its pages counts what it read of the group (its counts, its cut-off range), so
    # that a changed round remakes the page listing it, not every page of the group
    read_in_part: ClassVar[bool] = True

    @property
    def invitations(self) -> int:
        return sum(e.draw.invitations for e in self.entries if e.draw)

    @property
    def cutoffs(self) -> tuple[int, int] | None:
        scores = [e.draw.crs_cutoff for e in self.entries if e.draw]
        return (min(scores), max(scores)) if scores else None

    @property
    def newest_round(self) -> tuple[str, date] | None:
        """(URL, draw date) of its newest round: what a page naming it shows. Read from the
        round itself, they counted the whole round, so any edit of the newest round made
        every page of the category and the categories page again."""
        e = next((e for e in self.entries if e.draw), None)
        return (e.url, e.draw.draw_date) if e else None


@dataclass(frozen=True)
class Listing:
    """One page of a paginated list: the home page and its /page/N/ followers, the archive
    (/draws/, /draws/page/N/)."""

    url: str
    number: int
    count: int  # how many pages in all
    entries: tuple[Entry, ...]
    previous_url: str | None
    next_url: str | None

    @property
    def page_part(self) -> str:
        """", page 2 of 5" for a title or caption; "" when the list has one page."""
        return f", page {self.number} of {self.count}" if self.count > 1 else ""


@dataclass(frozen=True)
class Site:
    settings: Settings
    entries: tuple[Entry, ...]  # every published post, newest first
    draws: tuple[Entry, ...]  # newest first
    articles: tuple[Entry, ...]  # newest first
    pages: tuple[Entry, ...]
    categories: tuple[Group, ...]  # in CATEGORIES order, only those with draws
    tags: tuple[Group, ...]  # alphabetical
    home: tuple[Listing, ...]
    archive: tuple[Listing, ...]  # every round, newest first, `rounds_per_page` a page
    updated: datetime | None  # newest date on the site: what sitemap and feeds call "now"
    next_draws: Mapping[str, Entry]  # draw URL -> the round after it
    analytics: Analytics = field(default_factory=Analytics)  # trend pages, year-to-date counters
    occupations: OccupationIndex = EMPTY  # category occupation lists, linked to the draws
    # The Markdown of every post by its source file. The posts in `entries` carry their front
    # matter only (body ""): a text is shown on its own page and in feeds, so an edit of the
    # prose alone replaces this mapping and leaves every entry, group and count as it was.
    texts: Mapping[str, str] = field(default_factory=dict)

    def next_draw(self, entry: Entry) -> Entry | None:
        return self.next_draws.get(entry.url)

    def complete(self) -> Site:
        """The model with every part worked out that is otherwise worked out on first use
        (the analytics): call it before forking workers, which then share those parts."""
        self.analytics.complete()
        return self

    @property
    def latest_draw(self) -> Entry | None:
        return self.draws[0] if self.draws else None


def url_of(post: Post) -> str:
    prefix = {"draw": "/draws/", "post": "/posts/", "page": "/"}[post.kind]
    return f"{prefix}{post.slug}/"


def is_published(post: Post, now: datetime, drafts: bool, future: bool) -> bool:
    return (drafts or not post.draft) and (future or post.date <= now)


def _newest_first(entries: list[Entry]) -> tuple[Entry, ...]:
    return tuple(sorted(entries, key=lambda e: (e.post.date, e.post.source), reverse=True))


def link_draws(posts: list[Post]) -> list[Entry]:
    """Draw entries in round order, each linked to the round before overall and in its category."""
    entries: list[Entry] = []
    last: Entry | None = None
    last_in: dict[str, Entry] = {}
    for post in sorted(posts, key=lambda p: p.draw.sort_key):
        entry = Entry(post, url_of(post), previous=last, previous_same=last_in.get(post.draw.category))
        entries.append(entry)
        last = last_in[post.draw.category] = entry
    return entries


def paginate(entries: tuple[Entry, ...], per_page: int, first: str = "/"
             ) -> tuple[Listing, ...]:
    """`entries` split into pages: the first at `first`, the others at `first`page/N/."""
    chunks = [entries[i:i + per_page] for i in range(0, len(entries), per_page)] or [()]
    urls = [first] + [f"{first}page/{n}/" for n in range(2, len(chunks) + 1)]
    return tuple(
        Listing(urls[i], i + 1, len(chunks), chunk,
                urls[i - 1] if i else None, urls[i + 1] if i + 1 < len(chunks) else None)
        for i, chunk in enumerate(chunks)
    )


def _group(key: str, title: str, url: str, entries: list[Entry], per_page: int,
           category: Category | None = None) -> Group:
    found = tuple(entries)
    return Group(key, title, url, found, category, paginate(found, per_page, url))


def build_site(posts: tuple[Post, ...], settings: Settings, now: datetime, *,
               drafts: bool = False, future: bool = False) -> Site:
    """The Site for these posts as of `now`, leaving out drafts and future posts unless asked."""
    shown = [p for p in posts if is_published(p, now, drafts, future)]
    texts = MappingProxyType({p.source: p.body for p in shown})
    shown = [p.without_body() if p.body else p for p in shown]
    draws = link_draws([p for p in shown if p.kind == "draw"])
    others = [Entry(p, url_of(p)) for p in shown if p.kind != "draw"]
    entries = _newest_first(draws + [e for e in others if e.post.kind == "post"])
    by_draw_date = tuple(sorted(draws, key=lambda e: e.draw.sort_key, reverse=True))

    by_category: dict[str, list[Entry]] = defaultdict(list)
    for entry in by_draw_date:
        by_category[entry.draw.category].append(entry)
    categories = tuple(_group(c.slug, c.title, f"/categories/{c.slug}/", by_category[c.slug],
                              settings.rounds_per_page, c)
                       for c in CATEGORIES if by_category[c.slug])
    by_tag: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        for tag in entry.post.tags:
            by_tag[tag].append(entry)
    tags = tuple(_group(t, t, f"/tags/{t}/", by_tag[t], settings.posts_per_page)
                 for t in sorted(by_tag))

    dates = [d for p in shown for d in (p.date, p.updated) if d]
    return Site(
        settings=settings,
        entries=entries,
        draws=by_draw_date,
        articles=tuple(e for e in entries if e.post.kind == "post"),
        pages=tuple(sorted((e for e in others if e.post.kind == "page"), key=lambda e: e.url)),
        categories=categories,
        tags=tags,
        home=paginate(entries, settings.posts_per_page),
        archive=paginate(by_draw_date, settings.rounds_per_page, "/draws/"),
        updated=max(dates) if dates else None,
        next_draws=MappingProxyType({a.url: b for a, b in zip(draws, draws[1:], strict=False)}),
        analytics=analyze(by_draw_date),
        texts=texts,
    )
