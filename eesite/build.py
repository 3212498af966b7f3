"""The whole pipeline on one screen: load → model → render → write.

Each stage is a function of the one before; nothing is written until every stage has
succeeded, so a failed build leaves output/ exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from eesite.errors import BuildError
from eesite.load import load_content
from eesite.model import Site, build_site
from eesite.occupations import load_occupations, with_draws
from eesite.render import render_site
from eesite.settings import Settings
from eesite.write import WriteReport, write_site


@dataclass(frozen=True)
class Options:
    """What a build is asked to do (the command-line flags)."""

    source: Path
    output: Path
    drafts: bool = False
    future: bool = False
    force: bool = False
    now: datetime | None = None  # None: the current time; tests pin it


def make_site(options: Options, settings: Settings) -> tuple[Site, dict[str, bytes]]:
    """Load, model and render: everything but writing. Raises BuildError with every problem."""
    problems, loaded = [], []
    for load in (lambda: load_content(options.source, settings),
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
    site = replace(site, occupations=with_draws(lists, site.draws))
    return site, render_site(site, options.source / "templates")


def build(options: Options, settings: Settings) -> tuple[Site, WriteReport]:
    site, files = make_site(options, settings)
    return site, write_site(files, options.output, options.source, force=options.force)
