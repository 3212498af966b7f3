"""The whole pipeline on one screen: load → model → render → write.

Each stage is a function of the one before; nothing is written until every stage has
succeeded, so a failed build leaves output/ exactly as it was. A build keeps its cache in
`.eesite-cache/` (see cache.py): parsed posts, Markdown HTML, page traces and output digests,
so a second build only redoes what changed.
"""

from __future__ import annotations

import gc
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from eesite.cache import Cache
from eesite.errors import BuildError
from eesite.load import load_content
from eesite.model import Site, build_site
from eesite.occupations import load_occupations, with_draws
from eesite.pool import cores
from eesite.render import Page, render, render_site
from eesite.settings import Settings
from eesite.write import IN_PLACE_LIMIT, Kept, Staged, WriteReport, staging_folder, write_site


@dataclass(frozen=True)
class Options:
    """What a build is asked to do (the command-line flags)."""

    source: Path
    output: Path
    drafts: bool = False
    future: bool = False
    force: bool = False
    now: datetime | None = None  # None: the current time; tests pin it
    cache: bool = True  # use and update .eesite-cache/
    live: bool = False  # serve/watch: small updates are written in place (see write.py)


def make_site(options: Options, settings: Settings) -> tuple[Site, dict[str, bytes]]:
    """Load, model and render, without cache: everything but writing. Raises BuildError."""
    site = load_site(options, settings)
    return site, render_site(site, options.source / "templates")


def load_site(options: Options, settings: Settings, cache: Cache | None = None,
              jobs: int = 1) -> Site:
    """Load content and data, then model them; every problem of both in one BuildError."""
    problems, loaded = [], []
    for load in (lambda: load_content(options.source, settings, cache, jobs),
                 lambda: load_occupations(options.source)):
        try:
            loaded.append(load())
        except BuildError as err:  # report content and data problems of one run together
            problems.extend(err.problems)
    if problems:
        raise BuildError(problems)
    posts, lists = loaded
    now = options.now or datetime.now(timezone.utc)
    site = build_site(posts, settings, now, drafts=options.drafts, future=options.future)
    return replace(site, occupations=with_draws(lists, site.draws))


@contextmanager
def _few_collections():
    """A build allocates millions of long-lived objects; the cyclic collector would rescan them
    over and over (a third of the run). Collect rarely while building."""
    old = gc.get_threshold()
    gc.set_threshold(200_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*old)


def build(options: Options, settings: Settings, cache: Cache | None = None,
          persist: bool = True) -> tuple[Site, WriteReport]:
    """Build and write; reuses `cache` (kept in memory by `eesite serve`) or the one on disk,
    and saves it unless `persist` is false (serve saves it when it stops)."""
    with _few_collections():
        if cache is None and options.cache:
            cache = Cache.open(options.source, settings)
        jobs = cores()
        site = load_site(options, settings, cache, jobs)
        digests = {rel: hit[0] for rel, hit in cache.posts.items() if hit} if cache else None
        staging = staging_folder(options.output)  # the render may write pages there
        shutil.rmtree(staging, ignore_errors=True)  # a leftover of an interrupted build
        try:
            pages = render(site, options.source / "templates", cache=cache,
                           output=options.output, post_digests=digests, jobs=jobs,
                           staging=staging)
            report = write_site(_files(pages), options.output, options.source,
                                force=options.force,
                                in_place_limit=IN_PLACE_LIMIT if options.live else 0,
                                index=cache.output if cache else None)
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # nothing of a failed build stays
        if cache is not None:
            if report.index != cache.output:
                cache.output = dict(report.index)
                cache.changed.add("output")
            if persist:
                cache.save()
    return site, report


def _files(pages: list[Page]) -> dict[str, bytes | Kept | Staged]:
    return {p.path: Kept(p.kept) if p.kept else p.staged or p.data for p in pages}
