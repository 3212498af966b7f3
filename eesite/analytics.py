"""Draw analytics: year pages, records, the pool over time, year-to-date counters.

Every figure is computed here, once per build, from the draws in the Site model, so the
numbers on the trend pages can never drift from the draw posts (nothing is typed in). The
results are frozen dataclasses; templates only format them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from eesite.categories import CATEGORIES
from eesite.content import SUBTOTALS, Distribution

if TYPE_CHECKING:  # model imports this module; Entry is only needed for the type hints
    from eesite.model import Entry

KINDS: tuple[tuple[str, str], ...] = (
    ("general", "General rounds"),
    ("program", "Program rounds"),
    ("category", "Category-based rounds"),
)
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
MAX_TIES = 3  # tied records list this many draws, newest first, and say how many there are


def year_url(year: int) -> str:
    return f"/{year}/"


def snapshot_url(day: date) -> str:
    return f"/pool/{day.isoformat()}/"


@dataclass(frozen=True)
class Tally:
    """How many rounds and invitations in some period."""

    rounds: int
    invitations: int


@dataclass(frozen=True)
class GroupStats:
    """Rounds of one category or kind in some period, with its extreme cut-offs."""

    key: str
    label: str
    url: str | None
    rounds: int
    invitations: int
    lowest: Entry  # the round with the lowest cut-off (the latest one on a tie)
    highest: Entry


@dataclass(frozen=True)
class Month:
    year: int
    month: int
    rounds: int
    invitations: int

    @property
    def label(self) -> str:
        return f"{MONTHS[self.month - 1]} {self.year}"

    @property
    def short(self) -> str:
        return f"{MONTHS[self.month - 1][:3]} {self.year}"


@dataclass(frozen=True)
class Year:
    """One calendar year of rounds: what a year page shows."""

    year: int
    url: str
    entries: tuple[Entry, ...]  # oldest first
    invitations: int
    by_kind: tuple[GroupStats, ...]
    by_category: tuple[GroupStats, ...]
    months: tuple[Month, ...]  # January .. December, or to the month of the last draw
    through: date  # the last draw of the year on the site
    complete: bool  # False for the year of the latest draw: more may follow
    previous: Year | None  # the calendar year before, when it has draws
    same_period_before: Tally | None  # the year before up to the same day (incomplete years)

    # a page's check counts what it read, not the whole chain of years (incremental.py)
    read_in_part: ClassVar[bool] = True

    @property
    def rounds(self) -> int:
        return len(self.entries)

    @property
    def same_day_before(self) -> date:
        """The date a year before `through`, what `same_period_before` counts up to."""
        t = self.through
        return date(t.year - 1, t.month, min(t.day, 28 if t.month == 2 else 31))

    @property
    def newest_first(self) -> tuple[Entry, ...]:
        return tuple(reversed(self.entries))


@dataclass(frozen=True)
class YearToDate:
    """Where one draw stands in its year: "draw 42 of 2025, 113,998 invitations so far"."""

    year: int
    url: str
    ordinal: int  # 1 for the first round of the year
    invitations: int  # in the year, up to and including this round


@dataclass(frozen=True)
class Record:
    """One line of "Express Entry in numbers": a value and the draws it comes from.

    `items` holds single draws, or (before, after) pairs for drops and gaps; ties list up to
    MAX_TIES items, newest first, and `ties` says how many there are in all.
    """

    label: str
    value: int
    unit: str
    items: tuple[tuple[Entry, ...], ...]
    ties: int
    note: str = ""


class BandRow(NamedTuple):
    """One row of a pool distribution table, optionally against an earlier snapshot. A tuple:
    the distribution macro unpacks it in its loop, ~110 attribute reads less a table (each
    one goes through Jinja and the trace, ~0.5 µs: a tenth of a pool snapshot page)."""

    level: str  # "top" (a band of the total), "part" (inside a subtotal), "subtotal", "total"
    label: str  # "451–500", "Total"
    count: int
    before: int | None = None
    flagged: int | None = None  # the sum of its parts when the published subtotal differs


@dataclass(frozen=True)
class Snapshot:
    """One published CRS distribution of the pool (several rounds may share one)."""

    as_of: date
    url: str
    distribution: Distribution
    entries: tuple[Entry, ...]  # rounds IRCC published it with, oldest first

    # A page's check (keys.Keys) hashes a snapshot by its rounds alone: its date, URL
    # and figures are worked out from their posts (`_snapshots`), and hashing the 18 bands of
    # each of 10,000 snapshots was ~0.2 s of CPU in a front-matter edit's check.
    made_of: ClassVar[tuple[str, ...]] = ("entries",)

    @property
    def total(self) -> int:
        return self.distribution.total

    def rows(self, before: Snapshot | None = None) -> tuple[BandRow, ...]:
        return band_rows(self.distribution, before.distribution if before else None)


@dataclass(frozen=True)
class Comparison:
    """The pool at one snapshot against an earlier one."""

    label: str
    now: Snapshot
    before: Snapshot

    @property
    def rows(self) -> tuple[BandRow, ...]:
        return self.now.rows(self.before)

    @property
    def days(self) -> int:
        return (self.now.as_of - self.before.as_of).days


@dataclass(frozen=True)
class Analytics:
    """Everything the trend pages and the draw pages' counters need, from the rounds in
    `chrono` (oldest first), each part worked out on first use and kept: `eesite serve` makes
    the edited round's page before the rest of a rebuild, and that page reads only
    `year_to_date` (the other parts are ~0.15 s of the model at 10,000 rounds). `complete()`
    works out every part many pages read (`_PARTS`); render does, before forking workers
    that would each do it again."""

    chrono: tuple[Entry, ...] = ()

    read_in_part: ClassVar[bool] = True  # a page's check counts what it read (incremental.py)

    def complete(self) -> None:
        for name in _PARTS:
            getattr(self, name)

    @cached_property
    def _by_year(self) -> dict[int, list[Entry]]:
        by_year: dict[int, list[Entry]] = defaultdict(list)
        for e in self.chrono:
            by_year[e.draw.draw_date.year].append(e)
        return by_year

    @cached_property
    def years(self) -> tuple[Year, ...]:
        """Oldest first."""
        by_year, years = self._by_year, []
        latest_year = self.chrono[-1].draw.draw_date.year if self.chrono else None
        for year in sorted(by_year):
            previous = years[-1] if years and years[-1].year == year - 1 else None
            years.append(_year(year, by_year[year], previous, year != latest_year,
                               by_year.get(year - 1, [])))
        return tuple(years)

    @cached_property
    def year_to_date(self) -> Mapping[str, YearToDate]:
        """Each round's place in its year and the invitations of the year up to it."""
        ytd: dict[str, YearToDate] = {}
        for year in self._by_year:
            ytd.update(self._standings(year))
        return MappingProxyType(ytd)

    def standing(self, entry: Entry) -> YearToDate | None:
        """`year_to_date.get(entry.url)`, worked out for the round's year alone: the edited
        round's page that `eesite serve` makes ahead of the rest needs one round's (every
        round's took 25 ms of its ~0.2 s at 10,000 rounds)."""
        return self._standings(entry.draw.draw_date.year).get(entry.url) if entry.draw else None

    def _standings(self, year: int) -> dict[str, YearToDate]:
        """The `YearToDate` of each round of `year`, worked out once (`standing` and
        `year_to_date` share them: a build that does not fork asks for every round's)."""
        known = self._years_worked_out
        if year not in known:
            known[year] = _year_to_date(year, self._by_year.get(year, ()))
        return known[year]

    @cached_property
    def _years_worked_out(self) -> dict[int, dict[str, YearToDate]]:
        return {}

    @cached_property
    def months(self) -> tuple[Month, ...]:
        """Every month from the first round to the latest, oldest first."""
        if not self.chrono:
            return ()
        first, last = self.chrono[0].draw.draw_date, self.chrono[-1].draw.draw_date
        return _months(self.chrono, (first.year, first.month), (last.year, last.month))

    @cached_property
    def records(self) -> tuple[Record, ...]:
        return _records(self.chrono) if self.chrono else ()

    @cached_property
    def snapshots(self) -> tuple[Snapshot, ...]:
        """Oldest first."""
        return _snapshots(self.chrono)

    @cached_property
    def comparisons(self) -> tuple[Comparison, ...]:
        """The latest snapshot against earlier ones."""
        return _comparisons(self.snapshots)

    @cached_property
    def rounds(self) -> int:
        return len(self.chrono)

    @cached_property
    def invitations(self) -> int:
        return sum(e.draw.invitations for e in self.chrono)

    @cached_property
    def same_day_rounds(self) -> int:
        """Days with more than one round."""
        return sum(1 for n in Counter(e.draw.draw_date for e in self.chrono).values() if n > 1)


def _year_to_date(year: int, entries: Sequence[Entry]) -> dict[str, YearToDate]:
    """The `YearToDate` of each round of one year (`entries`: that year's, oldest first)."""
    ytd, running, url = {}, 0, year_url(year)
    for ordinal, e in enumerate(entries, 1):
        running += e.draw.invitations
        ytd[e.url] = YearToDate(year, url, ordinal, running)
    return ytd


# the parts many pages read, worked out before render forks (each worker would do it again)
_PARTS = ("years", "year_to_date", "months", "snapshots", "comparisons", "rounds")
# the parts only "in numbers" reads: worked out by the process that checks or makes it (the
# records, 0.05 s at 10,000 rounds, no longer wait in the parent while a core idles)
_ONE_PAGE = ("records", "invitations", "same_day_rounds")


# ---- computing -----------------------------------------------------------------------------

def _extremes(key: str, label: str, url: str | None, entries: list[Entry]) -> GroupStats:
    # max() keeps the first maximum: iterate newest first so ties name the latest round
    newest = entries[::-1]
    return GroupStats(
        key, label, url, len(entries), sum(e.draw.invitations for e in entries),
        lowest=min(newest, key=lambda e: e.draw.crs_cutoff),
        highest=max(newest, key=lambda e: e.draw.crs_cutoff),
    )


def _months(entries: Iterable[Entry], first: tuple[int, int], last: tuple[int, int]
            ) -> tuple[Month, ...]:
    """Every month from `first` to `last` inclusive, months without a round included."""
    counts: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    for e in entries:
        c = counts[(e.draw.draw_date.year, e.draw.draw_date.month)]
        c[0] += 1
        c[1] += e.draw.invitations
    out = []
    year, month = first
    while (year, month) <= last:
        rounds, invitations = counts.get((year, month), (0, 0))
        out.append(Month(year, month, rounds, invitations))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return tuple(out)


def _year(year: int, entries: list[Entry], previous: Year | None, complete: bool,
          before: list[Entry]) -> Year:
    through = entries[-1].draw.draw_date
    of_kind: dict[str, list[Entry]] = defaultdict(list)  # (one pass, not one per kind and
    of_category: dict[str, list[Entry]] = defaultdict(list)  # category: 55 years × 15)
    for e in entries:
        category = e.category
        of_kind[category.kind].append(e)
        of_category[category.slug].append(e)
    by_kind = tuple(_extremes(kind, label, None, of_kind[kind])
                    for kind, label in KINDS if of_kind.get(kind))
    by_category = tuple(_extremes(c.slug, c.label, f"/categories/{c.slug}/", of_category[c.slug])
                        for c in CATEGORIES if of_category.get(c.slug))
    same = None
    if not complete and before:
        earlier = [e for e in before
                   if (e.draw.draw_date.month, e.draw.draw_date.day) <= (through.month, through.day)]
        same = Tally(len(earlier), sum(e.draw.invitations for e in earlier))
    last_month = 12 if complete else through.month
    return Year(year, year_url(year), tuple(entries), sum(e.draw.invitations for e in entries),
                by_kind, by_category, _months(entries, (year, 1), (year, last_month)), through,
                complete, previous, same)


def _top(items: list[tuple[int, tuple[Entry, ...]]], pick: Callable[[Iterable[int]], int]
         ) -> tuple[int, tuple[tuple[Entry, ...], ...], int]:
    """The extreme value, the items that reach it (newest first, at most MAX_TIES), how many."""
    value = pick(v for v, _ in items)
    tied = [group for v, group in reversed(items) if v == value]
    return value, tuple(tied[:MAX_TIES]), len(tied)


def _records(chrono: tuple[Entry, ...]) -> tuple[Record, ...]:
    single = [(e.draw.crs_cutoff, (e,)) for e in chrono]
    general = [(e.draw.crs_cutoff, (e,)) for e in chrono if e.draw.category == "general"]
    size = [(e.draw.invitations, (e,)) for e in chrono]
    steps = [(e.draw.crs_cutoff - e.previous_same.draw.crs_cutoff, (e.previous_same, e))
             for e in chrono if e.previous_same]
    days: list[Entry] = []  # the first round of each draw day
    for e in chrono:
        if not days or days[-1].draw.draw_date != e.draw.draw_date:
            days.append(e)
    gaps = [((b.draw.draw_date - a.draw.draw_date).days, (a, b))
            for a, b in zip(days, days[1:], strict=False)]

    def record(label: str, unit: str, items: list, pick: Callable, note: str = "",
               sign: int = 1) -> Record | None:
        if not items:
            return None
        value, tied, count = _top(items, pick)
        return Record(label, sign * value, unit, tied, count, note)

    same = "between two consecutive rounds of the same category"
    rows = (
        record("Lowest CRS cut-off", "points", single, min),
        record("Highest CRS cut-off", "points", single, max),
        record("Lowest cut-off in a general round", "points", general, min),
        record("Highest cut-off in a general round", "points", general, max),
        record("Largest round", "invitations", size, max),
        record("Smallest round", "invitations", size, min),
        record("Largest drop in the cut-off", "points", steps, min,
               f"Measured {same}: rounds of different categories have different pools.", -1),
        record("Largest rise in the cut-off", "points", steps, max, f"Measured {same}."),
        record("Longest gap between rounds", "days", gaps, max),
        record("Shortest gap between rounds", "days", gaps, min,
               "Between draw days; rounds held on the same day are counted as one day."),
    )
    if rows[1] and rows[1].items[0][0].draw.category == "pnp":
        rows = (rows[0], replace(rows[1], note="A provincial nomination is worth 600 CRS points, "
                                 "so PNP rounds have the highest cut-offs."), *rows[2:])
    return tuple(r for r in rows if r)


def _snapshots(chrono: tuple[Entry, ...]) -> tuple[Snapshot, ...]:
    by_day: dict[date, list[Entry]] = defaultdict(list)
    first: dict[date, Distribution] = {}
    for e in chrono:
        dist = e.draw.distribution
        if dist:
            by_day[dist.as_of].append(e)
            first.setdefault(dist.as_of, dist)  # rounds sharing a date share the figures
    return tuple(Snapshot(day, snapshot_url(day), first[day], tuple(by_day[day]))
                 for day in sorted(by_day))


def _comparisons(snapshots: tuple[Snapshot, ...]) -> tuple[Comparison, ...]:
    """The latest snapshot against the one before and the one about a year earlier."""
    if len(snapshots) < 2:
        return ()
    latest = snapshots[-1]
    out = [Comparison("the previous snapshot", latest, snapshots[-2])]
    target = latest.as_of - timedelta(days=365)
    if snapshots[0].as_of <= target:
        year_ago = min(snapshots, key=lambda s: abs((s.as_of - target).days))
        if year_ago is not snapshots[-2]:
            out.append(Comparison("a year earlier", latest, year_ago))
    return tuple(out)


def _level(band: str) -> str:
    if band == "total":
        return "total"
    if band in SUBTOTALS:
        return "subtotal"
    return "top" if band in SUBTOTALS["total"] else "part"


def band_rows(dist: Distribution, before: Distribution | None = None) -> tuple[BandRow, ...]:
    """The 18 bands as table rows, subtotals that do not add up flagged (never corrected)."""
    flagged = {band: summed for band, _, summed in dist.mismatches()}
    earlier = dict(before.bands) if before else {}
    return tuple(BandRow(_level(band), "Total" if band == "total" else band.replace("-", "–"),
                         count, earlier.get(band), flagged.get(band)) for band, count in dist.bands)


def analyze(draws: tuple[Entry, ...]) -> Analytics:
    """The analytics of these draw entries (in any order); parts are worked out on first use."""
    return Analytics(tuple(sorted(draws, key=lambda e: e.draw.sort_key)))
