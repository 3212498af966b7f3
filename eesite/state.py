"""The no-change shortcut: a build whose inputs are exactly those of the last one does nothing.

A build is a pure function of the source files (content/, templates/, pyproject.toml), the
settings and options, eesite's version (all in the cache key) and the moment it runs, which
only decides which dated posts are published. After each successful build the cache's `state`
store records the stamp (size, mtime, ctime, inode) of every source file and the span of
moments in which the same posts are published. The next build takes the stamps again (a walk and a stat
per file, no reading); when they are equal, the moment is in that span and every file eesite
wrote is still in output/ as it left it, there is nothing to do, and the site model is never
built. A stamp taken within two seconds of a file's change is not trusted (see load.RACY_NS),
so a file saved twice in one clock tick is never missed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from eesite.content import Post
from eesite.load import stamp_of
from eesite.model import is_published
from eesite.write import MANIFEST

WATCHED = ("content", "templates")  # folders whose every file is an input (plus pyproject.toml)


@dataclass(frozen=True)
class Summary:
    """What the last build made, for the one-line report of a build that had nothing to do."""

    draws: int
    articles: int
    files: int


def source_stamps(root: Path) -> dict[str, tuple[int, ...] | None]:
    """The stamp of every input file by its path; None for one too fresh to trust."""
    seen = time.time_ns()
    paths = [str(root / "pyproject.toml")] if (root / "pyproject.toml").is_file() else []
    seen_dirs: set[tuple[int, int]] = set()
    for folder in WATCHED:  # into linked folders too, as the loaders go (each folder once)
        for dirpath, dirnames, filenames in os.walk(root / folder, followlinks=True):
            try:
                st = os.stat(dirpath)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in seen_dirs:
                dirnames[:] = []
                continue
            seen_dirs.add((st.st_dev, st.st_ino))
            dirnames.sort()
            paths += [os.path.join(dirpath, name) for name in filenames]
    stamps: dict[str, tuple[int, ...] | None] = {}
    for path in paths:
        try:
            stamps[path] = stamp_of(os.stat(path), seen)
        except OSError:
            stamps[path] = None
    return stamps


def published_span(posts: list[Post], now: datetime, drafts: bool, future: bool
                   ) -> tuple[datetime | None, datetime | None]:
    """[start, end): the moments at which exactly the posts published `now` are published."""
    if future:
        return None, None
    start = max((p.date for p in posts if is_published(p, now, drafts, future)), default=None)
    later = [p.date for p in posts if (drafts or not p.draft) and p.date > now]
    return start, min(later, default=None)


def record(options_key: tuple, stamps: dict | None, span: tuple, summary: Summary,
           output: Path) -> dict:
    """The state to keep after a successful build (empty when a stamp was not trustworthy)."""
    if stamps is None or None in stamps.values():
        return {}
    try:
        manifest = os.stat(output / MANIFEST)
    except OSError:
        return {}
    return {"options": options_key, "stamps": stamps, "span": span,
            "manifest": (manifest.st_size, manifest.st_mtime_ns),
            "summary": summary}


def unchanged(state: dict, stamps: Callable[[], dict], options_key: tuple, now: datetime,
              index: dict, output: Path) -> Summary | None:
    """The last build's summary when this build would make exactly what is in output/.
    `stamps()`: the sources' stamps now (the build goes on with them when this says no)."""
    if not state or state.get("options") != options_key:
        return None
    start, end = state["span"]
    if (start is not None and now < start) or (end is not None and now >= end):
        return None
    if stamps() != state["stamps"]:
        return None
    try:
        manifest = os.stat(output / MANIFEST)
    except OSError:
        return None
    if (manifest.st_size, manifest.st_mtime_ns) != state["manifest"]:
        return None
    if len(index) != state["summary"].files:  # the index store was lost or damaged
        return None
    return state["summary"] if output_intact(index, output) else None


def output_intact(index: Mapping[str, tuple[str, int, int]], output: Path) -> bool:
    """Is every file eesite wrote still in output/ as it left it (size and mtime)?"""
    base, stat = str(output) + os.sep, os.stat  # a plain loop: 21,000 files at 10,000 posts
    try:
        for rel, known in index.items():
            st = stat(base + rel)
            if st.st_mtime_ns != known[2] or st.st_size != known[1]:
                return False
    except OSError:
        return False
    return True
