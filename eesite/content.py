"""The content types: what one Markdown file holds once its front matter is validated.

These are plain frozen dataclasses with no behaviour beyond a few derived facts, so every
later stage (model, render, feeds) can rely on the types instead of re-checking raw values.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime

# The 18 bands of IRCC's pool score distribution, in the feed's dd1..dd18 order.
# Subtotal bands: "451-500" = 491-500 .. 451-460, "401-450" = 441-450 .. 401-410.
BANDS: tuple[str, ...] = (
    "601-1200", "501-600", "451-500", "491-500", "481-490", "471-480", "461-470", "451-460",
    "401-450", "441-450", "431-440", "421-430", "411-420", "401-410", "351-400", "301-350",
    "0-300", "total",
)
_AT = {band: at for at, band in enumerate(BANDS)}
SUBTOTALS: dict[str, tuple[str, ...]] = {
    "451-500": BANDS[3:8],
    "401-450": BANDS[9:14],
    "total": ("601-1200", "501-600", "451-500", "401-450", "351-400", "301-350", "0-300"),
}


@dataclass(frozen=True)
class Distribution:
    """The pool's CRS score distribution as IRCC published it with a round."""

    as_of: date
    bands: tuple[tuple[str, int], ...]  # (band label, candidates) in BANDS order

    def get(self, band: str) -> int:
        at = _AT.get(band, -1)  # bands come in BANDS order (schema.py): no dict to build
        if 0 <= at < len(self.bands) and self.bands[at][0] == band:
            return self.bands[at][1]
        return dict(self.bands)[band]

    @property
    def total(self) -> int:
        return self.get("total")

    def mismatches(self) -> tuple[tuple[str, int, int], ...]:
        """(band, published, sum of its parts) for every subtotal that does not add up.

        Round 247 has one (an official typo); the page shows the published figure and says so.
        """
        values = dict(self.bands)
        out = []
        for band, parts in SUBTOTALS.items():  # (the pool page asks for each of 10,000)
            total = sum(map(values.__getitem__, parts))
            if total != values[band]:
                out.append((band, values[band], total))
        return tuple(out)


@dataclass(frozen=True)
class Correction:
    """A figure IRCC changed after publishing it, recorded by `eesite import`."""

    date: date
    field: str
    old: object
    new: object


@dataclass(frozen=True)
class Draw:
    """The facts of one round of invitations."""

    round: str
    draw_date: date
    draw_name: str
    category: str
    programs: str
    invitations: int
    crs_cutoff: int
    list_version: str | None = None
    round_time: datetime | None = None
    tie_break: datetime | None = None
    distribution: Distribution | None = None
    ircc_url: str | None = None
    data_notes: tuple[str, ...] = ()
    corrections: tuple[Correction, ...] = ()

    @functools.cached_property
    def sort_key(self) -> tuple:
        """Chronological order; "91a" before "91b" on the same day."""
        digits = "".join(ch for ch in self.round if ch.isdigit())
        return (self.draw_date, int(digits or 0), self.round)


@dataclass(frozen=True)
class Post:
    """One content file: a draw post, an article or a standalone page."""

    source: str  # path relative to the site root, e.g. "content/draws/0254-2023-07-05-stem.md"
    kind: str  # "draw", "post" or "page"
    slug: str
    title: str
    date: datetime
    body: str  # Markdown
    summary: str = ""
    tags: tuple[str, ...] = ()
    draft: bool = False
    updated: datetime | None = None
    draw: Draw | None = None

    def without_body(self) -> Post:
        """This post with an empty body (the model keeps texts apart, see model.Site.texts);
        a plain copy rather than dataclasses.replace, which costs 25 µs a post."""
        bare = object.__new__(Post)
        bare.__dict__.update(self.__dict__, body="")
        return bare
