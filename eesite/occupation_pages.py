"""The occupations section: /occupations/ (filterable index), one page per category list, one
per NOC code, and a changes page — all from Site.occupations, grouped once in Python.

The index is one plain table that works without JavaScript; templates/static/occupations.js
only hides rows. Each row carries its search words and categories as data attributes computed
here, so the script stays a few lines of string matching.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eesite.categories import Category
from eesite.occupations import DATA_DIR, META_FILE, Applied, Occupation, OccupationIndex

if TYPE_CHECKING:
    from eesite.render import Page, Renderer

ORIGIN = (DATA_DIR / META_FILE).as_posix()
_AGREES = Applied(None)


def fold(text: str) -> str:
    """Lower-case words without accents, space-separated: what the filter matches against.

    The script folds the query the same way (NFD, strip marks, lower-case, split on anything
    that is not a letter or digit), so "Ingénieurs" and "ingenieurs" meet.
    """
    bare = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return " ".join(re.findall(r"[a-z0-9]+", bare.lower()))


@dataclass(frozen=True)
class IndexRow:
    """One occupation in the /occupations/ table, with what the filter needs."""

    occupation: Occupation
    lists: tuple[tuple[Category, tuple[int, ...], bool], ...]  # category, years, on current list
    search: str  # folded code and title
    categories: str  # space-separated slugs of every list that ever included it
    current: str  # space-separated slugs of the current lists that include it


def index_rows(index: OccupationIndex) -> tuple[IndexRow, ...]:
    rows = []
    for occ in index.occupations:
        lists = tuple(
            (m.category, tuple(lst.edition.year for lst, has in m.rows if has),
             any(has and lst.current for lst, has in m.rows))
            for m in index.memberships[occ.noc]
        )
        rows.append(IndexRow(
            occ, lists, fold(f"{occ.noc} {occ.title}"),
            " ".join(c.slug for c, _, _ in lists),
            " ".join(c.slug for c, _, now in lists if now)))
    return tuple(rows)


def occupation_pages(r: Renderer) -> Iterator[Page | None]:
    """/occupations/, /occupations/changes/, /occupations/<category>/, /occupations/<noc>/."""
    index = r.site.occupations
    if not index.lists:
        return
    updated = r.site.updated
    doubtful = tuple(e for e in r.site.draws if not index.applied.get(e.url, _AGREES).label_agrees)
    yield r.page("/occupations/", "occupations.html", ORIGIN, updated, rows=index_rows(index),
                 doubtful=doubtful)
    yield r.page("/occupations/changes/", "occupation_changes.html", ORIGIN, updated)
    for category in index.categories:
        yield r.page(f"/occupations/{category.slug}/", "occupation_category.html", ORIGIN, updated,
                     category=category, lists=index.by_category[category.slug])
    for occ in index.occupations:
        yield r.page(occ.url, "occupation.html", ORIGIN, updated, occupation=occ,
                     memberships=index.memberships[occ.noc],
                     current=tuple(lst for lst in index.in_lists(occ.noc) if lst.current),
                     draws=index.draws_by_code.get(occ.noc, ()))


occupation_pages.reads_texts = False  # delta.py carries its pages over when only prose changed
