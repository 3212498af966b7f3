"""Live rebuilds of a prose edit: re-render only the pages that show the changed text.

`eesite serve` and `eesite watch` keep a Session between rebuilds: the last Site and the list of
files it made. When every post's front matter, every template, data file and setting is as
before, the new model is the old one with other texts (model.Site.texts), so a page can differ
only if its trace records reading one of the changed texts: the post's own page and the feeds
that carry it. A section with `for_texts(renderer, sources)` makes just the pages of those texts;
one with `reads_texts = False` is not run at all; any other runs with only its dirty pages
rendered. Every other file is carried over after a check of its trace: a carried file that
shows a changed text, or has no trace, sends the rebuild back to the full incremental build.
Any other change (a front matter field, a template, a new or deleted post) takes that build too.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from types import MappingProxyType

from eesite.cache import Cache
from eesite.content import Post
from eesite.errors import BuildError
from eesite.incremental import Keys
from eesite.load import Source, is_post_file, stamp_of
from eesite.model import Site
from eesite.render import Page, Renderer, Section
from eesite.write import WriteReport, rewrite


class NotEligible(Exception):
    """The change is more than prose: build the full way."""


@dataclass
class Session:
    """What a live rebuild remembers of the last good one (in memory only)."""

    site: Site | None = None
    metas: Mapping[str, str] = field(default_factory=dict)  # source → front matter digest
    others: Mapping[str, tuple] | None = None  # stamps of every input that is not a post
    span: tuple = (None, None)  # published_span of the last build
    pages: list[Page] = field(default_factory=list)  # every file made, without its bytes
    stamps: Mapping[str, tuple | None] | None = None  # of every source file (state.py)
    sources: list[Source] | None = None  # the post files found (load.find_sources)
    keys: Keys | None = None  # hashes of the model's values: still right while it is unchanged
    readers: dict[str, set[str]] | None = None  # text source → the pages that show it

    def remember(self, site: Site, metas: Mapping[str, str], others: Mapping | None,
                 span: tuple, pages: Iterable[Page], index: Mapping[str, tuple],
                 stamps: Mapping[str, tuple | None] | None, sources: list[Source] | None
                 ) -> None:
        """Keep a successful build: its model, inputs and files (by the digests written)."""
        self.keys = self.readers = None  # a new model: the old hashes and readers do not hold
        self.site, self.metas, self.others, self.span = site, dict(metas), others, span
        self.stamps, self.sources = stamps, sources
        self.pages = [p if not p.data else replace(p, data=b"", kept=index[p.path][0])
                      for p in pages]

    def restamp(self, root: Path, touched: frozenset[str] | None
                 ) -> dict[str, tuple | None] | None:
        """The stamps of the last build with the `touched` post files taken again, or None when
        a file other than a post was touched, or nothing is known (stat every file then)."""
        if touched is None or self.stamps is None or not all(
                is_post_file(root, path) for path in touched):
            return None
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

    def texts_only(self, posts: tuple[Post, ...], metas: Mapping[str, str],
                   others: Mapping | None, now: datetime) -> tuple[Site, frozenset[str]]:
        """The new Site and the sources whose text changed, or NotEligible."""
        start, end = self.span
        if (self.site is None or others is None or None in others.values()
                or others != self.others or metas != self.metas
                or (start is not None and now < start) or (end is not None and now >= end)):
            raise NotEligible
        old = self.site.texts
        texts = {p.source: p.body for p in posts if p.source in old}
        changed = frozenset(s for s, text in texts.items() if old[s] != text)
        return replace(self.site, texts=MappingProxyType(texts)), changed


def rebuild_texts(session: Session, posts: tuple[Post, ...], metas: Mapping[str, str],
                  others: Mapping | None, now: datetime, templates: Path, output: Path,
                  cache: Cache, sections: tuple[Section, ...]) -> WriteReport | None:
    """Make again and write the files that show a changed text; None when the change is more
    than prose (the caller then builds the full way). Raises BuildError on template errors."""
    try:
        site, changed = session.texts_only(posts, metas, others, now)
    except NotEligible:
        return None
    renderer = Renderer(site, templates, cache, output, metas)
    if session.keys is not None:  # the model is the last one: its hashes still hold
        renderer.keys = session.keys
    session.keys = renderer.keys
    if session.readers is None:
        session.readers = _readers(cache.pages)
    renderer.only = set().union(*(session.readers.get(source, ()) for source in changed))
    made: dict[str, Page] = {}
    for section in sections:
        only_texts = getattr(section, "for_texts", None)
        if only_texts is not None:  # the section can make just the pages of these texts
            pages = only_texts(renderer, changed)
        elif getattr(section, "reads_texts", True):
            pages = section(renderer)  # every page, but only those in `only` are rendered
        else:
            continue
        made.update((page.path, page) for page in pages if page is not None)
    if renderer.problems:
        raise BuildError(renderer.problems)
    if not renderer.only <= made.keys() or not made.keys() <= cache.output.keys():
        return None  # a page that shows a changed text was not made again, or a new page
    stamps = rewrite(output, {path: page.data for path, page in made.items() if not page.kept},
                     cache.output)
    index = {**cache.output, **stamps}
    cache.pages.update(renderer.traces)
    cache.changed.add("pages")
    if renderer.rendered:
        cache.html = renderer.html  # the new texts' HTML (a full build prunes the old)
        cache.changed.add("html")
    session.site = site
    session.pages = [replace(made[p.path], data=b"", kept=index[p.path][0]) if p.path in made
                     else p for p in session.pages]
    return WriteReport(len(stamps), len(session.pages) - len(stamps), 0, index)


def _readers(traces: Mapping) -> dict[str, set[str]]:
    """Which pages show each text, from the page traces."""
    readers: dict[str, set[str]] = {}
    for path, trace in traces.items():
        for source in trace.texts:
            readers.setdefault(source, set()).add(path)
    return readers
