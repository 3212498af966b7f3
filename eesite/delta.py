"""Prose edits: make again only the pages that show a changed text.

When every post's front matter and every template, data file and setting is as at the last
build, and no post was added or removed, the new model equals the last one but for its texts
(model.Site.texts). A page can then differ only if its trace (incremental.py) records reading
one of the changed texts: the post's own page and the feeds that carry it. A section with
`for_texts(renderer, sources)` makes just the pages of those texts; one with `reads_texts =
False` is not run; any other runs with only its dirty pages rendered (the rest are kept). Every
other file stays as it is in output/. A page that shows a changed text but was not made again,
or any other kind of change, sends the build down the full incremental path.

A Session holds what the check needs. `eesite serve` and `eesite watch` keep one in memory with
the last model itself, so a prose edit costs no model build at all; `eesite build` keeps the
same facts (without the model) in the cache's `session` store.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from types import MappingProxyType

from eesite.cache import Cache
from eesite.content import Post
from eesite.errors import BuildError
from eesite.keys import Keys
from eesite.load import Source, is_post_file, stamp_of
from eesite.model import Site
from eesite.render import Renderer, Section


@dataclass
class Session:
    """The facts of the last good build that decide whether a change is prose only."""

    metas: Mapping[str, str] | None = None  # source → front matter digest
    digests: Mapping[str, str] | None = None  # source → file digest
    others: Mapping[str, tuple | None] | None = None  # stamps of every input but the posts
    span: tuple = (None, None)  # state.published_span of the last build
    options: tuple = ()  # drafts, future, output folder of the last build
    files: int = 0  # how many files the last build left in output/ (its index, whole)
    site: Site | None = None  # live only: the last model
    stamps: Mapping[str, tuple | None] | None = None  # live only: every source's stamp
    sources: list[Source] | None = None  # live only: the post files found
    keys: Keys | None = None  # live only: hashes of the model's values (valid while it is)
    readers: dict[str, set[str]] | None = None  # text source → the pages that show it

    STORED = ("metas", "digests", "others", "span", "options", "files")

    def remember(self, posts: Mapping[str, tuple], others: Mapping | None, span: tuple,
                 options: tuple, site: Site | None = None,
                 sources: list[Source] | None = None) -> None:
        """Keep a full build (`posts`: the cache's file path → (stamp, digest, Post, meta))."""
        self.options = options
        self.metas = {rel: hit[3] for rel, hit in posts.items() if hit}
        self.digests = {rel: hit[1] for rel, hit in posts.items() if hit}
        self.others, self.span, self.site, self.sources = others, span, site, sources
        self.keys = self.readers = None  # a new model: the old hashes and readers do not hold

    @classmethod
    def restore(cls, cache: Cache) -> Session:
        """The facts `eesite build` left in the cache (empty when there are none)."""
        stored = cache.session
        return cls(**{name: stored[name] for name in cls.STORED if name in stored})

    def store(self, cache: Cache) -> None:
        cache.session = {name: getattr(self, name) for name in self.STORED}
        cache.changed.add("session")

    def restamp(self, root: Path, touched: frozenset[str] | None
                ) -> dict[str, tuple | None] | None:
        """The stamps of the last build with the `touched` post files taken again, or None when
        a file other than a post was touched, or nothing is known (stat every file then)."""
        if touched is None or self.stamps is None or self.others is None or None in \
                self.others.values() or not all(is_post_file(root, path) for path in touched):
            return None  # (a stamp not trusted last time is taken again by a full stat)
        stamps, seen = dict(self.stamps), time.time_ns()
        for path in touched:
            try:
                st = os.stat(path)
            except OSError:
                stamps.pop(path, None)
                continue
            if stat.S_ISREG(st.st_mode):
                stamps[path] = stamp_of(st, seen)
        return stamps

    def sources_after(self, touched: frozenset[str] | None) -> list[Source] | None:
        """The post files of the last build when `touched` created or deleted none of them."""
        if touched is None or self.sources is None or self.stamps is None:
            return None
        known = {source.path for source in self.sources}
        if all(path in known and os.path.isfile(path) for path in touched):
            return self.sources
        return None

    def changed_texts(self, posts: Mapping[str, tuple], others: Mapping | None,
                      now: datetime, options: tuple) -> frozenset[str] | None:
        """The sources whose text alone changed, or None when anything else did."""
        start, end = self.span
        if (self.metas is None or self.digests is None or options != self.options
                or others is None or None in others.values() or others != self.others
                or (start is not None and now < start) or (end is not None and now >= end)
                or len(posts) != len(self.metas)):
            return None
        changed = []
        for rel, hit in posts.items():
            if hit is None or self.metas.get(rel) != hit[3]:
                return None
            if self.digests[rel] != hit[1]:
                changed.append(rel)
        return frozenset(changed)


def rebuild_texts(session: Session, posts: tuple[Post, ...], known: Mapping[str, tuple],
                  others: Mapping | None, now: datetime, options: tuple,
                  model: Callable[[], Site],
                  templates: Path, output: Path, cache: Cache, sections: tuple[Section, ...]
                  ) -> tuple[Site, dict[str, bytes]] | None:
    """The new model and the files that show a changed text, made again (path → bytes; only
    those whose bytes changed), or None when the change is more than prose. Updates the cache's
    page traces and the session. Raises BuildError on template errors."""
    changed = session.changed_texts(known, others, now, options)
    if changed is None:
        return None
    if session.site is not None:  # live: the last model, with the new texts
        old = session.site.texts
        texts = {p.source: p.body for p in posts if p.source in old}
        site = replace(session.site, texts=MappingProxyType(texts))
    else:
        site = model()
    shown = changed & site.texts.keys()
    renderer = Renderer(site, templates, cache, output, session.metas, lazy_html=True)
    if session.keys is not None and session.site is not None:
        renderer.keys = session.keys  # the model is the last one: its hashes still hold
    if session.readers is None:
        session.readers = _readers(cache.pages)
    renderer.only = set().union(*(session.readers.get(source, ()) for source in shown))
    made: dict[str, bytes] = {}  # pages whose bytes changed
    produced: set[str] = set()  # every page the sections gave back, made or kept
    for section in sections:
        only_texts = getattr(section, "for_texts", None)
        if only_texts is not None:  # the section can make just the pages of these texts
            pages = only_texts(renderer, shown)
        elif getattr(section, "reads_texts", True):
            pages = section(renderer)  # every page, but only those in `only` are rendered
        else:
            continue
        for page in pages:
            if page is None:
                continue
            produced.add(page.path)
            if not page.kept and cache.output.get(page.path, ("",))[0] != \
                    renderer.traces[page.path].output:
                made[page.path] = page.data
    if renderer.problems:
        raise BuildError(renderer.problems)
    if not renderer.only <= produced or not made.keys() <= cache.output.keys():
        return None  # a page that shows a changed text was not made again, or a new page
    cache.pages.update(renderer.traces)
    cache.changed.add("pages")
    if renderer.rendered and "html" in cache.loaded:  # the new texts' HTML (a full build
        html = renderer.html.made  # prunes the old)
        cache.keep_html(cache.html.keys() | html.keys(), html)
    session.digests = {rel: hit[1] for rel, hit in known.items() if hit}
    if session.site is not None:
        session.site, session.keys = site, renderer.keys
    return site, made


def _readers(traces: Mapping) -> dict[str, set[str]]:
    """Which pages show each text, from the page traces."""
    readers: dict[str, set[str]] = {}
    for path, trace in traces.items():
        for source in trace.texts:
            readers.setdefault(source, set()).add(path)
    return readers
