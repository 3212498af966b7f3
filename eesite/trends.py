"""The trends section: charts, year pages, "Express Entry in numbers" and the pool pages.

A render section (see SECTIONS in render.py): it turns the figures in `site.analytics` into
chart markup (eesite.charts) and pages. Nothing here counts draws itself beyond shaping the
analytics for a chart, so every number has one source.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, NamedTuple

from eesite import charts
from eesite.analytics import Analytics, Month, Year
from eesite.categories import CATEGORIES
from eesite.charts import Bar, Point, Series
from eesite.model import Entry
from eesite.templating import long_date  # the templates' date format, for chart descriptions

if TYPE_CHECKING:
    from eesite.render import Page, Renderer

WINDOW = timedelta(days=365)  # "the last 12 months", counted back from the latest round


def crs_series(entries: Sequence[Entry], tooltips: bool = True) -> tuple[Series, ...]:
    """One series of CRS cut-offs per category present, in the site's category order, in one
    pass over the rounds (one pass per category and a tooltip text for each of 10,000 points
    that are drawn without one were 0.1 s of every build that changes a cut-off)."""
    points: dict[str, list[Point]] = {c.slug: [] for c in CATEGORIES}
    for e in entries:
        d = e.draw
        bucket = points.get(d.category)
        if bucket is not None:
            bucket.append(Point(d.draw_date, d.crs_cutoff, (
                f"Round {d.round}, {long_date(d.draw_date)}: {e.category.label}, "
                f"CRS {d.crs_cutoff}, {d.invitations:,} invitations") if tooltips else ""))
    return tuple(Series(c.slug, c.label, tuple(points[c.slug])) for c in CATEGORIES
                 if points[c.slug])


def _extreme_text(entries: Sequence[Entry]) -> str:
    low = min(reversed(entries), key=lambda e: e.draw.crs_cutoff)
    high = max(reversed(entries), key=lambda e: e.draw.crs_cutoff)
    return (f"Lowest cut-off {low.draw.crs_cutoff} (round {low.draw.round}, {low.category.label}, "
            f"{long_date(low.draw.draw_date)}); highest {high.draw.crs_cutoff} (round "
            f"{high.draw.round}, {high.category.label}, {long_date(high.draw.draw_date)}).")


@dataclass(frozen=True)
class Chart:
    """A chart for the `figure` macro, drawn on first use: `make` names one of this module's
    chart functions and `args` are what it draws from. A page's check hashes these fields, not
    the SVG (keys.py), so a page that is kept never draws its charts; the parts the
    function returns (svg, key, entries, ...) read as attributes or through `get`."""

    make: str
    args: tuple

    @functools.cached_property
    def parts(self) -> dict:
        try:
            return _MAKERS[self.make](*self.args)
        except AttributeError as err:  # else Python retries through __getattr__: "no svg"
            raise RuntimeError(f"drawing the chart {self.args[0]!r}: {err}") from err

    def get(self, name: str, default: object = None) -> object:
        return self.parts.get(name, default)

    def __getattr__(self, name: str) -> object:
        if name.startswith("_") or name == "parts":  # (pickling, copying: no parts drawn)
            raise AttributeError(name)
        try:
            return self.parts[name]
        except KeyError:
            raise AttributeError(name) from None


def chart(make: Callable[..., dict], *args: object) -> Chart:
    return Chart(make.__name__, args)


def crs_chart(chart_id: str, title: str, entries: Sequence[Entry], start: date, end: date,
              table: bool = True) -> dict:
    """A CRS cut-off chart with its key, for the `figure` macro; `entries` oldest first.
    `table`: its data table follows it (else, for more rounds than an archive page holds,
    the archive is its table)."""
    tooltips = len(entries) <= 200
    series = crs_series(entries, tooltips)
    desc = (f"Line chart of the CRS cut-off of {len(entries)} rounds from {long_date(start)} to "
            f"{long_date(end)}, one line and marker shape per category: "
            f"{', '.join(s.label for s in series)}. {_extreme_text(entries)} "
            + ("The table after the chart lists every round." if table else
               "The archive of every round, linked after the chart, lists them."))
    svg = charts.time_chart(chart_id, title, desc, series, start=start, end=end, crs=True,
                            tooltips=tooltips)
    return {"id": chart_id, "title": title, "svg": svg, "key": charts.legend(series), "crs": True,
            "entries": tuple(reversed(entries)), "table": table}


def month_chart(chart_id: str, title: str, months: Sequence[Month],
                partial: tuple[int, int] | None) -> dict:
    """Invitations per month as columns; `partial` (year, month), that of the latest round, is
    drawn as not over. (Only that month, not the date: a chart's inputs are its hash.)"""
    bars = [Bar(m.label, m.invitations, (m.year, m.month) == partial) for m in months]
    if len(months) > 24:
        labels = [(i, str(m.year)) for i, m in enumerate(months)
                  if m.month == 1 and m.year % (2 if len(months) > 96 else 1) == 0]
    else:
        labels = [(i, m.short[:3]) for i, m in enumerate(months) if i % 2 == 0]
    busiest = max(months, key=lambda m: m.invitations)
    desc = (f"Column chart of invitations issued per month, {months[0].label} to "
            f"{months[-1].label}. The busiest month was {busiest.label} with "
            f"{busiest.invitations:,} invitations in {busiest.rounds} rounds. "
            f"{sum(1 for m in months if not m.rounds)} months had no round. "
            "The table after the chart lists every month.")
    return {"id": chart_id, "title": title, "months": tuple(reversed(months)),
            "svg": charts.column_chart(chart_id, title, desc, bars, "invitations", labels=labels)}


def year_chart(chart_id: str, title: str, totals: Sequence[tuple[int, int, bool]]) -> dict:
    """Bars of (year, invitations, complete), oldest first: plain values, so that the chart
    (and "in numbers") counts only these, not every round of every year."""
    bars = [Bar(str(year), invitations, not complete) for year, invitations, complete in totals]
    desc = ("Bar chart of invitations issued per year: "
            + "; ".join(f"{year}: {invitations:,}{' so far' if not complete else ''}"
                        for year, invitations, complete in totals) + ".")
    return {"id": chart_id, "title": title, "svg": charts.bar_chart(chart_id, title, desc, bars)}


class _Size(NamedTuple):
    as_of: date
    total: int


def pool_chart(chart_id: str, title: str, sizes: Sequence[tuple[date, int]]) -> dict:
    """The size of the pool from (as_of, total) pairs: plain values, so that the chart (and
    the pool page) do not depend on the rounds' other facts."""
    snaps = [_Size(*size) for size in sizes]
    series = (Series("general", "Candidates in the pool", tuple(
        Point(s.as_of, s.total, f"{long_date(s.as_of)}: {s.total:,} candidates") for s in snaps)),)
    low, high = min(snaps, key=lambda s: s.total), max(snaps, key=lambda s: s.total)
    desc = (f"Line chart of the number of candidates in the Express Entry pool in "
            f"{len(snaps)} snapshots published by IRCC from {long_date(snaps[0].as_of)} to "
            f"{long_date(snaps[-1].as_of)}: {snaps[0].total:,} at the start, "
            f"{snaps[-1].total:,} in the latest; smallest {low.total:,} "
            f"({long_date(low.as_of)}), largest {high.total:,} ({long_date(high.as_of)}).")
    svg = charts.time_chart(chart_id, title, desc, series, start=snaps[0].as_of,
                            end=snaps[-1].as_of, zero=True, marker_size=2.5)
    return {"id": chart_id, "title": title, "svg": svg}


_MAKERS = {f.__name__: f for f in (crs_chart, month_chart, year_chart, pool_chart)}


def pool_history(a: Analytics) -> tuple[tuple, ...]:
    """The pool page's table, newest first, as plain values: (url, as_of, total, flagged, the
    total before or None, ((url, round), ...)). Made once here (no template call per row), and
    free of the rounds' other facts, so that a changed cut-off leaves the page as it is: it
    counts whole, hashed by one `repr` (keys.py)."""
    rows, before = [], None
    for s in a.snapshots:
        rows.append((s.url, s.as_of, s.total, bool(s.distribution.mismatches()), before,
                     tuple((e.url, e.draw.round) for e in s.entries)))
        before = s.total
    return tuple(reversed(rows))


def year_rows(years: tuple[Year, ...]) -> tuple[tuple, ...]:
    """The invitations-per-year table, newest first, as plain values: (url, year, complete,
    through, rounds, invitations, the year before's invitations or None, the same period's
    the year before or None). Handed to the table's macro, the years counted whole, every
    round's facts with them: "in numbers" was made again on any edit of any round."""
    rows = []
    for y in reversed(years):
        before = y.previous.invitations if y.previous and y.complete else None
        same = (y.same_period_before.invitations if before is None and y.same_period_before
                else None)
        rows.append((y.url, y.year, y.complete, y.through, y.rounds, y.invitations, before,
                     same))
    return tuple(rows)


def trend_pages(r: Renderer) -> Iterator[Page | None]:
    """/numbers/, /charts/, /<year>/ for every year with rounds, /pool/ and a page per snapshot."""
    from eesite.render import ELSEWHERE, Later

    site, a = r.site, r.site.analytics
    if not a.years:
        return
    chrono = tuple(reversed(site.draws))
    first, latest = chrono[0].draw.draw_date, chrono[-1].draw.draw_date
    recent = tuple(e for e in chrono if e.draw.draw_date > latest - WINDOW)
    when = site.latest_draw.post.date
    year_links = tuple((y.url, y.year) for y in a.years)

    def nav(current: str | None) -> dict:
        """The navigation, `current` marked (a snapshot page has none): made once a build."""
        return {"subnav": r.fragment("trends_macros.html", "subnav", current, year_links)}

    per_year = chart(year_chart, "per-year", "Invitations per year",
                     tuple((y.year, y.invitations, y.complete) for y in a.years))
    years = year_rows(a.years)
    yield r.page("/numbers/", "numbers.html", "eesite/trends.py", when, a=a, **nav("/numbers/"),
                 per_year=per_year, years=years)
    yield r.page("/charts/", "charts.html", "eesite/trends.py", when, a=a, **nav("/charts/"),
                 recent=chart(crs_chart, "crs-recent", "CRS cut-off, last 12 months", recent,
                              latest - WINDOW, latest),
                 alltime=chart(crs_chart, "crs-all", "CRS cut-off, all rounds", chrono, first,
                               latest, len(chrono) <= site.settings.rounds_per_page),
                 per_month=chart(month_chart, "per-month", "Invitations per month", a.months,
                                 (latest.year, latest.month)),
                 per_year=per_year, years=years)
    for i, y in enumerate(a.years):
        start, end = date(y.year, 1, 1), (date(y.year, 12, 31) if y.complete else y.through)
        yield r.page(y.url, "year.html", "eesite/trends.py", y.entries[-1].post.date, y=y,
                     **nav(y.url),
                     older=a.years[i - 1] if i else None,
                     newer=a.years[i + 1] if i + 1 < len(a.years) else None,
                     crs=chart(crs_chart, f"crs-{y.year}", f"CRS cut-off in {y.year}", y.entries,
                               start, end),
                     per_month=chart(month_chart, f"months-{y.year}",
                                     f"Invitations per month, {y.year}", y.months,
                                     (latest.year, latest.month) if latest.year == y.year
                                     else None))
    if a.snapshots:
        yield r.page("/pool/", "pool.html", "eesite/trends.py", when, a=a, **nav("/pool/"),
                     size=chart(pool_chart, "pool-size", "Candidates in the pool",
                                tuple((s.as_of, s.total) for s in a.snapshots)),
                     history=Later(pool_history, (a,)))
        for i, s in enumerate(a.snapshots):
            if not r.claim():
                yield ELSEWHERE
                continue
            yield r.page(s.url, "snapshot.html", "eesite/trends.py", s.entries[-1].post.date,
                         s=s, **nav(None), older=a.snapshots[i - 1] if i else None,
                         newer=a.snapshots[i + 1] if i + 1 < len(a.snapshots) else None)



trend_pages.reads_texts = False  # delta.py carries its pages over when only prose changed
