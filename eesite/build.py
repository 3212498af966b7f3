"""The whole pipeline on one screen: load → model → render → write.

Each stage is a function of the one before; nothing is written until every stage has
succeeded, so a failed build leaves output/ exactly as it was. A build keeps its cache in
`.eesite-cache/` (see cache.py): parsed posts, Markdown HTML, page traces and output digests,
so a second build only redoes what changed.
"""

from __future__ import annotations

import functools
import gc
import os
import shutil
import sys
import threading
from collections.abc import Callable, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from eesite.cache import Cache
from eesite.content import Post
from eesite.delta import Session, rebuild_texts
from eesite.errors import BuildError
from eesite.load import find_sources, is_post_file, load_content
from eesite.model import Site, build_site
from eesite.occupations import OccupationIndex, load_occupations, with_draws
from eesite.pool import ahead, collector_paused, cores
from eesite.render import (
    CHECK_IN_WORKERS,
    SECTIONS,
    Page,
    post_pages_now,
    render,
    render_site,
    url_to_path,
)
from eesite.settings import Settings
from eesite.state import (
    Summary,
    output_intact,
    published_span,
    record,
    source_stamps,
    unchanged,
)
from eesite.write import (
    IN_PLACE_LIMIT,
    Kept,
    SpareListing,
    Staged,
    WriteReport,
    list_spare,
    output_lock,
    rewrite,
    safe_join,
    staging_folder,
    write_site,
)


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
    return model_of(*load_inputs(options, settings, cache, jobs), options, settings)


def load_inputs(options: Options, settings: Settings, cache: Cache | None = None,
                jobs: int = 1, stamps: dict | None = None, sources: list | None = None
                ) -> tuple[tuple[Post, ...], OccupationIndex]:
    """The posts and the occupation lists; the problems of both in one BuildError."""
    problems, loaded = [], []
    for load in (lambda: load_content(options.source, settings, cache, jobs, stamps, sources),
                 lambda: load_occupations(options.source)):
        try:
            loaded.append(load())
        except BuildError as err:  # report content and data problems of one run together
            problems.extend(err.problems)
    if problems:
        raise BuildError(problems)
    return loaded[0], loaded[1]


def model_of(posts: tuple[Post, ...], lists: OccupationIndex, options: Options,
             settings: Settings) -> Site:
    now = options.now or datetime.now(timezone.utc)
    site = build_site(posts, settings, now, drafts=options.drafts, future=options.future)
    return replace(site, occupations=with_draws(lists, site.draws))


def _waiting(output: Path) -> None:
    print(f"waiting: another eesite process is writing {output}", file=sys.stderr, flush=True)


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
          persist: bool = True, session: Session | None = None,
          touched: frozenset[str] | None = None, trust_output: bool = False,
          first: Callable[[Mapping[str, tuple]], None] | None = None
          ) -> tuple[Summary, WriteReport]:
    """Build and write; reuses `cache` (kept in memory by `eesite serve`) or the one on disk,
    and saves it unless `persist` is false (serve saves it when it stops). When no input
    changed since the last build and output/ is as it left it, nothing is done (state.py);
    with a `session` (serve, watch) an edit of prose alone re-renders only where it shows
    (delta.py); `touched` (watchdog's list of changed files) spares it stat'ing every file, and
    `trust_output` the check that output/ is as the last build left it (the caller checks).
    With `first` (serve), the pages of the edited posts are written before the rest of a full
    rebuild, and `first` is told their index entries (`_write_first`)."""
    now = options.now or datetime.now(timezone.utc)
    key = (options.drafts, options.future, str(options.output))
    if cache is None and options.cache:
        cache = Cache.open(options.source, settings)
    found = functools.cache(lambda: source_stamps(options.source))  # taken once a build
    if cache is not None and (session is None or session.site is not None) and not touched:
        # (files named by watchdog changed: their stamps cannot all be as recorded, and
        # checking them all costs a stat of every source, 0.1 s at 10,000 posts)
        done = unchanged(cache.state, found, key, now, cache.output, options.output)
        if done is not None:
            return done, WriteReport(0, done.files, 0, cache.output)
    with output_lock(options.output, lambda: _waiting(options.output)), _few_collections(), \
            ExitStack() as lasting, ExitStack() as early:
        if first:  # serve: no collection before the edited page is out (the heap holds the
            early.enter_context(collector_paused())  # cache: a pass costs 50-100 ms)
        root, live = options.source, session is not None
        hinted = session.restamp(root, touched) if live else None
        stamps = hinted or (found() if cache is not None else None)
        jobs = cores()
        options = replace(options, now=now)
        sources = (session.sources_after(touched) or list(find_sources(root))) if live else None
        intact = (lambda: True) if trust_output or cache is None else \
            _checking(output_intact, cache.output, options.output)
        posts, lists = load_inputs(options, settings, cache, jobs, stamps, sources)
        templates = root / "templates"
        others = None
        if cache is not None:
            session = session or Session.restore(cache)
            others = session.others if hinted else {
                path: stamp for path, stamp in stamps.items() if not is_post_file(root, path)}
        delta = None
        as_left = bool(cache is not None and cache.output and len(cache.output) == session.files
                       and intact())  # output/ as the last build left it (or trusted to be)
        if as_left:
            delta = rebuild_texts(session, posts, cache.posts, others, now, key,
                                  lambda: model_of(posts, lists, options, settings), templates,
                                  options.output, cache, SECTIONS)
        if delta is not None:  # prose only: the few files that show it (delta.py)
            site, made = delta
            span = session.span
            report = _write_prose(made, options, cache, live)
        else:
            if as_left and not options.live and jobs > 1 and len(posts) >= CHECK_IN_WORKERS:
                # a spare to update: listed on the other core while this one makes the model
                spare = lasting.enter_context(ahead(list_spare, options.output))
            else:
                spare = None
            site = model_of(posts, lists, options, settings)
            first_pages = _write_first(site, session.site, options, cache, touched, first) \
                if first and hinted and session.site is not None else {}
            early.close()  # the collector back on for the rest of the build
            try:
                report = _render_and_write(  # (trusted, not stat'ed: the renderer checks)
                    site, options, cache, jobs, checked=as_left and not trust_output,
                    spare=spare)
            except BaseException:
                if first_pages:  # the last good site stays whole
                    cache.output = {**cache.output,
                                    **rewrite(options.output, first_pages, cache.output)}
                raise
            if first_pages:  # written already: the full write found them unchanged
                report = replace(report, written=report.written + len(first_pages),
                                 unchanged=report.unchanged - len(first_pages))
            span = published_span(posts, now, options.drafts, options.future)
            if session is not None:
                session.remember(cache.posts, others, span, key, site if live else None,
                                 sources)
        summary = Summary(len(site.draws), len(site.articles), len(report.index))
        if cache is not None:
            if live:
                session.stamps = stamps  # the next restamp starts from these
            session.files = len(report.index)
            session.store(cache)
            if report.index != cache.output:
                cache.output = dict(report.index)
                cache.changed.add("output")
            # stamps from watchdog's hints are not recorded for the no-change shortcut
            cache.state = record(key, None if hinted else stamps, span, summary, options.output)
            cache.changed.add("state")
            if persist:
                cache.save()
    return summary, report


FIRST_LIMIT = 3  # serve: the pages of at most this many edited posts go ahead of the rest


def _write_first(site: Site, previous: Site, options: Options, cache: Cache,
                 touched: frozenset[str], told: Callable[[Mapping[str, tuple]], None]
                 ) -> dict[str, bytes]:
    """`eesite serve`: the pages of the edited posts, written in place ahead of a full rebuild
    (seconds at 10,000 posts), so that the editor's page is served as soon as it is made; the
    server, `told` which files are done, serves and reloads them while the rest is built
    (Hugo renders the pages open in a browser first for the same reason). Returns their old
    bytes, put back if the rest of the build fails: a failed build leaves the last good site
    whole. Only a page at the path the same post had in the last good model (`previous`)
    goes ahead: a new post, or a new slug, which may take another page's path (the full
    build refuses two items at one URL), waits for the full build."""
    sources = frozenset(os.path.relpath(path, options.source).replace(os.sep, "/")
                        for path in touched)
    if not 0 < len(sources) <= FIRST_LIMIT:
        return {}
    made = post_pages_now(site, options.source / "templates", cache, sources)
    was = {url_to_path(e.url) for e in (*previous.entries, *previous.pages)
           if e.post.source in sources}
    if not made or made.keys() != was or not was <= cache.output.keys():
        return {}
    try:
        old = {rel: safe_join(options.output, rel).read_bytes() for rel in made}
    except (OSError, ValueError):  # gone from output/ (the full build puts it back)
        return {}
    written = rewrite(options.output, made, cache.output)
    if written:
        cache.output = {**cache.output, **written}
        cache.changed.add("output")  # the full build finds these files as they are now
        told(written)
    return {rel: old[rel] for rel in written}


def _checking(check: Callable[..., bool], *args) -> Callable[[], bool]:
    """`check(*args)` run in a thread (stat calls release the GIL) while the build loads; the
    returned function waits for its answer."""
    answer: list[bool] = []
    thread = threading.Thread(target=lambda: answer.append(check(*args)), daemon=True)
    thread.start()
    return lambda: thread.join() or bool(answer and answer[0])


@contextmanager
def _staging(output: Path):
    """The staging folder beside output/ (render may write pages into it, write_site swaps it
    in); removed whatever happens, so nothing of a failed build stays."""
    staging = staging_folder(output)
    shutil.rmtree(staging, ignore_errors=True)  # a leftover of an interrupted build
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _render_and_write(site: Site, options: Options, cache: Cache | None, jobs: int,
                      checked: bool = False, spare: Callable[[], SpareListing | None] | None = None
                      ) -> WriteReport:
    """The full way: every page rendered or kept by its trace (incremental.py, keys.py), then written.
    `checked`: output/ was found as the last build left it (no stat per kept page). `spare`:
    the spare's listing, being made by another process (`pool.ahead`); else it is made while
    the workers render (live preview writes a few files in place, no spare: not listed)."""
    listed: list = []
    with _staging(options.output) as staging:
        pages = render(site, options.source / "templates", cache=cache, output=options.output,
                       post_digests={rel: hit[3] for rel, hit in cache.posts.items() if hit}
                       if cache else None, jobs=jobs, staging=staging, output_checked=checked,
                       meanwhile=None if options.live or spare else
                       lambda: listed.append(list_spare(options.output)))
        if spare is not None:
            listed.append(spare())
        return write_site(_files(pages), options.output, options.source, force=options.force,
                          in_place_limit=IN_PLACE_LIMIT if options.live else 0,
                          index=cache.output if cache else None,
                          spare=listed[0] if listed else None)


def _write_prose(made: dict[str, bytes], options: Options, cache: Cache, live: bool
                 ) -> WriteReport:
    """The files a prose edit changed: in place when live, or when there is one (a single
    rename is atomic); else swapped in with the rest of the site like any build."""
    if live or len(made) <= 1:
        written = rewrite(options.output, made, cache.output)
        return WriteReport(len(written), len(cache.output) - len(written), 0,
                           {**cache.output, **written})
    files = {rel: Kept(known[0]) for rel, known in cache.output.items()}
    with _staging(options.output):
        return write_site({**files, **made}, options.output, options.source,
                          force=options.force, index=cache.output)


def _files(pages: list[Page]) -> dict[str, bytes | Kept | Staged]:
    return {p.path: Kept(p.kept) if p.kept else p.staged or p.data for p in pages}
