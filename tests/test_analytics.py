"""Trend pages against IRCC's record: every expectation is computed here from the feed itself
(content/data/ircc/ee_rounds_123_en.json), never from eesite.analytics."""

from __future__ import annotations

import functools
import html
import json
import re
import threading
from collections import Counter, defaultdict
from datetime import date, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from lxml import html as lhtml

from eesite.build import Options, build
from eesite.charts import STYLES, nice_ticks
from eesite.settings import load_settings
from tests.conftest import NOW, ROOT, draw_text

FEED = ROOT / "content/data/ircc/ee_rounds_123_en.json"
BANDS = ["601-1200", "501-600", "451-500", "491-500", "481-490", "471-480", "461-470", "451-460",
         "401-450", "441-450", "431-440", "421-430", "411-420", "401-410", "351-400", "301-350",
         "0-300", "total"]


def number(text: str) -> int:
    return int(text.replace(",", ""))


def round_key(r: dict) -> tuple:
    return (r["drawDate"], int(re.sub(r"\D", "", r["drawNumber"])), r["drawNumber"])


@pytest.fixture(scope="module")
def rounds() -> list[dict]:
    """IRCC's rounds, oldest first."""
    return sorted(json.loads(FEED.read_text(encoding="utf-8"))["rounds"], key=round_key)


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    """The bundled site, built once with the real pipeline."""
    output = tmp_path_factory.mktemp("site") / "output"
    build(Options(source=ROOT, output=output, now=NOW), load_settings(ROOT))
    return output


def page(out: Path, url: str):
    return lhtml.fromstring((out / url.strip("/") / "index.html").read_text(encoding="utf-8"))


def text(node) -> str:
    return " ".join(node.text_content().split())


def test_year_totals_match_the_feed(out, rounds):
    per_year: dict[str, list[dict]] = defaultdict(list)
    for r in rounds:
        per_year[r["drawDate"][:4]].append(r)
    assert len(per_year["2025"]) == 58
    assert sum(number(r["drawSize"]) for r in per_year["2025"]) == 113_998
    for year, items in per_year.items():
        doc = page(out, f"/{year}/")
        invitations = sum(number(r["drawSize"]) for r in items)
        facts = {text(d.getprevious()): text(d) for d in doc.cssselect("dl.facts dd")}
        assert facts == {"Rounds": str(len(items)), "Invitations": f"{invitations:,}"}, year
        listed = [a.text for a in doc.cssselect("#rounds + .table-scroll table.draws tbody th a")]
        assert listed == [r["drawNumber"] for r in reversed(items)], year
        months = Counter()
        for r in items:
            months[int(r["drawDate"][5:7])] += number(r["drawSize"])
        table = doc.cssselect(f"#months-{year}-cap ~ details table tbody tr")
        shown = {text(tr[0]).split()[0]: number(text(tr[2])) for tr in table}
        assert sum(shown.values()) == invitations
        assert all(shown[date(2000, m, 1).strftime("%B")] == n for m, n in months.items())


def test_year_by_category_and_previous_year(out, rounds):
    in_2024 = [r for r in rounds if r["drawDate"].startswith("2024")]
    in_2025 = [r for r in rounds if r["drawDate"].startswith("2025")]
    doc = page(out, "/2025/")
    compare = {text(tr[0]): (text(tr[1]), text(tr[2])) for tr in doc.cssselect("table.compare tr")[1:]}
    assert compare["2024"] == (str(len(in_2024)), f"{sum(number(r['drawSize']) for r in in_2024):,}")
    assert compare["Change"][0] == f"+{len(in_2025) - len(in_2024)}"
    cec = [r for r in in_2025 if r["drawName"] == "Canadian Experience Class"]
    table = next(c.getparent() for c in doc.cssselect("table caption") if text(c) == "By category")
    row = next(tr for tr in table.cssselect("tbody tr") if text(tr[0]) == "CEC")
    assert text(row[1]) == str(len(cec))
    assert text(row[2]) == f"{sum(number(r['drawSize']) for r in cec):,}"
    assert text(row[3]).startswith(f"{min(number(r['drawCRS']) for r in cec)} #")
    assert text(row[4]).startswith(f"{max(number(r['drawCRS']) for r in cec)} #")


def test_round_one_and_year_to_date_counters(out, rounds):
    first = rounds[0]
    assert (first["drawNumber"], first["drawDate"], first["drawSize"], first["drawCRS"]) == (
        "1", "2015-01-31", "779", "886")
    ytd = text(page(out, "/draws/1/").cssselect("p.ytd")[0])
    assert ytd.startswith("Draw 1 of 2015, 779 invitations so far in 2015")
    last_2025 = [r for r in rounds if r["drawDate"].startswith("2025")][-1]
    ytd = page(out, f"/draws/{last_2025['drawNumber']}/").cssselect("p.ytd")[0]
    assert text(ytd).startswith("Draw 58 of 2025, 113,998 invitations so far in 2025")
    assert ytd.cssselect("a")[0].get("href") == "/2025/"
    # a draw in the middle: its ordinal and running total, from the feed
    mid = [r for r in rounds if r["drawDate"].startswith("2023")]
    so_far = sum(number(r["drawSize"]) for r in mid[:20])
    assert text(page(out, f"/draws/{mid[19]['drawNumber']}/").cssselect("p.ytd")[0]).startswith(
        f"Draw 20 of 2023, {so_far:,} invitations so far")
    chart = page(out, "/charts/").cssselect("svg#crs-all")[0]
    markers = chart.cssselect("[data-v]")
    assert len(markers) == len(rounds)
    assert markers[0].get("data-v") == "886"  # general is the first series; round 1 its first point


def test_records_match_the_feed(out, rounds):
    doc = page(out, "/numbers/")
    records = {text(tr[0]): tr for tr in doc.cssselect("table.records tbody tr")}

    def check(label: str, value: int, unit: str, round_id: str):
        row = records[label]
        assert text(row[1]) == f"{value:,} {unit}", label
        assert f"/draws/{round_id}/" in [a.get("href") for a in row[2].cssselect("a")], label

    crs = [(number(r["drawCRS"]), r["drawNumber"]) for r in rounds]
    size = [(number(r["drawSize"]), r["drawNumber"]) for r in rounds]
    check("Lowest CRS cut-off", min(crs)[0], "points", min(crs)[1])
    check("Highest CRS cut-off", max(crs)[0], "points", max(crs)[1])
    check("Largest round", max(size)[0], "invitations", max(size)[1])
    check("Smallest round", min(size)[0], "invitations", min(size)[1])
    days = sorted({date.fromisoformat(r["drawDate"]) for r in rounds})
    gaps = [((b - a).days, b) for a, b in zip(days, days[1:], strict=False)]
    longest = max(gaps)
    after = next(r["drawNumber"] for r in rounds if r["drawDate"] == longest[1].isoformat())
    check("Longest gap between rounds", longest[0], "days", after)
    assert text(records["Shortest gap between rounds"][1]) == f"{min(gaps)[0]} day"
    ties = sum(1 for g, _ in gaps if g == min(gaps)[0])
    assert f"({ties} in all" in text(records["Shortest gap between rounds"][2])
    # largest drop between consecutive rounds of one category (IRCC's wording of the name)
    last: dict[str, int] = {}
    drops = []
    for r in rounds:
        kind = re.sub(r"[^a-z]", "", r["drawName"].lower())[:20]  # drops IRCC's version suffixes
        kind = "general" if kind in ("noprogramspecified", "general") else kind
        if kind in last:
            drops.append((last[kind] - number(r["drawCRS"]), r["drawNumber"]))
        last[kind] = number(r["drawCRS"])
    check("Largest drop in the cut-off", max(drops)[0], "points", max(drops)[1])
    year_rows = {text(tr[0]).split()[0]: number(text(tr[2]))
                 for tr in doc.cssselect("#per-year-cap ~ details table tbody tr")}
    assert sum(year_rows.values()) == sum(n for n, _ in size)
    assert year_rows["2025"] == 113_998


def test_pool_snapshots_and_round_247_typo(out, rounds):
    published = [r for r in rounds if r["dd18"] != "0"]
    days = {r["drawDistributionAsOn"] for r in published}
    pool = page(out, "/pool/")
    rows = pool.cssselect("#pool-size-cap ~ details table tbody tr")
    assert len(rows) == len(days)
    latest = published[-1]
    assert text(rows[0][1]) == latest["dd18"]
    assert len(pool.cssselect("svg#pool-size [data-v]")) == len(days)
    r247 = next(r for r in rounds if r["drawNumber"] == "247")
    parts = sum(number(r247[f"dd{i}"]) for i in range(4, 9))
    assert (r247["dd3"], parts) == ("55,867", 55_687)
    snap = page(out, "/pool/2023-04-26/")
    cells = {text(tr[0]): text(tr[1]) for tr in snap.cssselect("table.distribution tbody tr")}
    assert cells["451–500"] == "55,867 †"  # as published, flagged
    assert cells["Total"] == r247["dd18"]
    assert cells["491–500"] == r247["dd4"]
    note = text(snap.cssselect("p.note")[0])
    assert "As published by IRCC" in note and "55,867" in note and "55,687" in note
    flagged = [text(tr[0]) for tr in rows if "†" in text(tr[1])]
    assert flagged == ["April 26, 2023"]  # the total of that snapshot is fine; the mark says "a subtotal"


def test_snapshot_change_against_the_one_before(out, rounds):
    published = [r for r in rounds if r["dd18"] != "0"]
    firsts: dict[str, dict] = {}
    for r in published:
        firsts.setdefault(r["drawDistributionAsOn"], r)
    snaps = sorted(firsts.values(), key=round_key)
    now, before = snaps[-1], snaps[-2]
    as_of = datetime.strptime(now["drawDistributionAsOn"], "%B %d, %Y").date()
    doc = page(out, f"/pool/{as_of.isoformat()}/")
    for tr, i in zip(doc.cssselect("table.distribution tbody tr"), range(1, 19), strict=True):
        a, b = number(now[f"dd{i}"]), number(before[f"dd{i}"])
        change = text(tr[3]).replace("−", "-").replace("±", "")
        assert (number(text(tr[1])), number(text(tr[2])), number(change)) == (a, b, a - b), BANDS[i - 1]


def test_charts_have_text_alternatives_and_distinct_styles(out, rounds):
    doc = page(out, "/charts/")
    svgs = doc.cssselect("svg.chart")
    assert {s.get("id") for s in svgs} == {"crs-recent", "crs-all", "per-month", "per-year"}
    for svg in svgs:
        assert svg.get("role") == "img" and svg.get("viewbox")
        title, desc = svg.get("aria-labelledby").split()
        assert svg.cssselect(f"#{title}")[0].tag == "title"
        assert len(text(svg.cssselect(f"#{desc}")[0])) > 60
        assert svg.getparent().cssselect("details table"), svg.get("id")  # the data beside it
    all_desc = text(doc.cssselect("#crs-all-d")[0])
    assert f"of {len(rounds)} rounds from January 31, 2015" in all_desc
    assert len({(s.colour, s.marker, s.dash) for s in STYLES.values()}) == len(STYLES)
    assert not any(s.colour.upper() == "#F0E442" for s in STYLES.values())  # yellow: too light
    key = [text(li) for li in doc.cssselect("figure:has(#crs-all) .chart-key li")]
    assert key[:3] == ["General", "CEC", "PNP"]
    # a point's tooltip on the last 12 months (few rounds); none on all 435 (too many)
    latest = max(rounds, key=round_key)
    tips = [text(t) for t in doc.cssselect("#crs-recent .series path title")]
    assert len(tips) == len(doc.cssselect("#crs-recent .series path[data-v]"))
    assert any(t.startswith(f"Round {latest['drawNumber']}, ") and
               f"CRS {number(latest['drawCRS'])}, " in t for t in tips)
    assert not doc.cssselect("#crs-all .series path title")


def test_nice_ticks():
    assert nice_ticks(75, 902) == (0, 200, 400, 600, 800, 1000)
    assert nice_ticks(0, 27_332) == (0, 10_000, 20_000, 30_000)
    assert nice_ticks(5, 5)[0] <= 5 <= nice_ticks(5, 5)[-1]


def test_small_site_year_in_progress(site):
    site.write("content/draws/0001-2024-03-01-stem.md", draw_text("1", draw_date="2024-03-01",
                                                                 invitations=1000, crs=480))
    site.write("content/draws/0002-2024-09-01-stem.md", draw_text("2", draw_date="2024-09-01",
                                                                 invitations=2000, crs=470))
    site.write("content/draws/0003-2025-04-01-stem.md", draw_text("3", draw_date="2025-04-01",
                                                                 invitations=500, crs=490))
    assert site.run("build") == 0
    doc = lhtml.fromstring(site.page("2025/index.html"))
    rows = {text(tr[0]): (text(tr[1]), text(tr[2])) for tr in doc.cssselect("table.compare tr")[1:]}
    assert rows["2024, to April 1, 2024"] == ("1", "1,000")  # the same period, not all of 2024
    assert rows["All of 2024"] == ("2", "3,000")
    assert rows["Change"] == ("±0", "−500")
    assert "Draw 2 of 2024, 3,000 invitations so far" in site.page("draws/2/index.html")
    assert not (site.output / "pool").exists()  # no distribution published: no pool pages


def test_site_without_draws_has_no_trend_pages(site):
    site.write("content/posts/a.md", '---\ntitle: "A"\ndate: 2026-01-02T09:00:00Z\n---\nText.\n')
    assert site.run("build") == 0
    assert not (site.output / "numbers").exists() and not (site.output / "charts").exists()


# ---- in a real browser ---------------------------------------------------------------------

class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(out):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(out)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.mark.parametrize("url", ["/charts/", "/2025/", "/numbers/", "/pool/", "/pool/2023-04-26/",
                                 "/draws/247/"])
def test_no_horizontal_scroll_at_375px(browser, server, url):
    pg = browser.new_page(viewport={"width": 375, "height": 800})
    pg.goto(server + url)
    assert pg.evaluate("document.documentElement.scrollWidth") <= 375
    rights = pg.evaluate("[...document.querySelectorAll('svg.chart')]"
                         ".map(s => s.getBoundingClientRect().right)")
    assert all(right <= 375 for right in rights)
    pg.close()


def test_your_crs_line(browser, server, rounds):
    pg = browser.new_page(viewport={"width": 375, "height": 800})
    pg.goto(server + "/charts/")
    assert pg.locator("form.my-crs").is_visible()  # revealed by the script
    pg.fill("#my-crs-input", "480")
    assert pg.locator("svg.chart .my-crs-line").count() == 2  # both cut-off charts
    met = sum(1 for r in rounds if number(r["drawCRS"]) <= 480)
    note = pg.locator("figure:has(#crs-all) .my-crs-note").inner_text()
    assert f"reached the cut-off of {met} of the {len(rounds)} rounds" in note
    pg.close()
    # without JavaScript the charts are all there and the form stays hidden
    ctx = browser.new_context(java_script_enabled=False, viewport={"width": 375, "height": 800})
    pg = ctx.new_page()
    pg.goto(server + "/charts/")
    assert pg.locator("svg.chart").count() == 4 and not pg.locator("form.my-crs").is_visible()
    ctx.close()


def test_unescaped_text_never_reaches_svg(out):
    raw = (out / "charts/index.html").read_text(encoding="utf-8")
    for desc in re.findall(r"<desc[^>]*>(.*?)</desc>", raw):
        assert "<" not in desc and html.unescape(desc)


def test_analytics_parts_are_worked_out_on_first_use_and_forked_workers_share_them(tmp_path):
    """`eesite serve` makes the edited round's page before the rest of a rebuild, and that
    page reads only `year_to_date`: the other parts (~0.15 s of the model at 10,000 rounds)
    wait for their first use. Before render forks its workers it works them all out
    (`Site.complete`), else each worker would, except the parts only "in numbers" reads
    (`_ONE_PAGE`, worked out where that page is); the values are the ones an eager pass
    gives."""
    from eesite.analytics import _ONE_PAGE, _PARTS, analyze
    from eesite.build import load_site
    from eesite.render import render

    site = load_site(Options(source=ROOT, output=tmp_path / "out", now=NOW), load_settings(ROOT))
    a = site.analytics
    assert a.year_to_date[site.draws[0].url].ordinal >= 1
    assert [name for name in _PARTS if name in vars(a)] == ["year_to_date"]
    render(site, ROOT / "templates", jobs=2)  # forks (435 rounds, no cache: all to render)
    assert [name for name in _PARTS if name in vars(a)] == list(_PARTS)
    fresh = load_site(Options(source=ROOT, output=tmp_path / "out", now=NOW),
                      load_settings(ROOT)).analytics
    fresh.complete()
    assert [name for name in _PARTS + _ONE_PAGE if name in vars(fresh)] == list(_PARTS)
    eager = analyze(site.draws)
    for name in _PARTS + _ONE_PAGE:
        assert getattr(a, name) == getattr(eager, name), name


def test_the_page_serve_makes_ahead_works_out_its_rounds_standing_alone(tmp_path):
    """The edited round's page that `eesite serve` writes ahead of the rest of a rebuild needs
    that round's place in its year, not every round's (25 ms of its ~0.2 s at 10,000 rounds):
    `Analytics.standing` works out the round's year alone, and gives what `year_to_date`
    gives, for every round, before and after that part is worked out."""
    from eesite.analytics import _PARTS
    from eesite.build import load_site
    from eesite.cache import Cache
    from eesite.render import post_pages_now

    options = Options(source=ROOT, output=tmp_path / "out", now=NOW)
    site = load_site(options, load_settings(ROOT))
    edited = site.draws[3]
    made = post_pages_now(site, ROOT / "templates", Cache(tmp_path, "key"),
                          frozenset([edited.post.source]))
    assert made.keys() == {edited.url.strip("/") + "/index.html"}
    assert [name for name in _PARTS if name in vars(site.analytics)] == []
    a = site.analytics
    alone = {e.url: a.standing(e) for e in site.draws}
    assert "year_to_date" not in vars(a)
    assert alone == dict(a.year_to_date) and len(alone) == len(site.draws)
    assert a.standing(edited) is a.year_to_date[edited.url]


def test_a_build_that_does_not_fork_works_out_each_years_standings_once(tmp_path, monkeypatch):
    """Below `CHECK_IN_WORKERS` nothing forks and nothing works out `year_to_date` ahead: every
    round's page asks `standing`, which must work out each year once, not once a page (it did:
    a cut-off edit at 1,000 posts 0.34 -> 0.51 s)."""
    from eesite import analytics
    from eesite.build import load_site
    from eesite.render import render

    calls = []
    real = analytics._year_to_date
    monkeypatch.setattr(analytics, "_year_to_date",
                        lambda year, entries: calls.append(year) or real(year, entries))
    site = load_site(Options(source=ROOT, output=tmp_path / "out", now=NOW), load_settings(ROOT))
    render(site, ROOT / "templates", jobs=1)
    years = {e.draw.draw_date.year for e in site.draws}
    assert sorted(calls) == sorted(years)


def test_the_pool_history_table_is_made_only_by_the_worker_that_makes_the_pool_page(
        tmp_path, monkeypatch):
    """Every worker walks every page; a context value wrapped in `render.Later` is worked out
    only for a page the process makes (the pool page's 10,000-row table cost each worker
    0.1 s): once, while that page is made, by the process that makes it (the parent is one
    of the workers, so it may be this one)."""
    import os

    from eesite import render as render_module
    from eesite import trends
    from eesite.build import load_site
    from eesite.render import render

    calls = tmp_path / "calls"
    usual, making = trends.pool_history, []

    def counted(a):
        with calls.open("a") as f:
            f.write(f"{os.getpid()} {making[-1] if making else 'outside'}\n")
        return usual(a)

    usual_page = render_module.Renderer.page

    def page(self, url, *args, **context):
        making.append(url)
        try:
            return usual_page(self, url, *args, **context)
        finally:
            making.pop()

    monkeypatch.setattr(trends, "pool_history", counted)
    monkeypatch.setattr(render_module.Renderer, "page", page)
    site = load_site(Options(source=ROOT, output=tmp_path / "out", now=NOW), load_settings(ROOT))
    pages = render(site, ROOT / "templates", jobs=2)
    made = [line.split() for line in calls.read_text().splitlines()]
    assert len(made) == 1 and made[0][1] == "/pool/"  # once, for the page that shows it
    assert any(p.path == "pool/index.html" and b"<table" in p.data for p in pages)


def test_a_worker_works_out_the_context_only_of_the_round_and_snapshot_pages_it_makes(
        tmp_path, monkeypatch):
    """Every worker walks every page; a round's or a snapshot's page takes its turn
    (`Renderer.claim`) before its context is worked out, so the other worker skips it at
    once (working out 20,000 contexts only to find half of them another's cost each worker
    ~0.05 s at 10,000 posts). Across the forked workers, `page` is asked for each such page
    exactly once, and every page is still made."""
    import os

    from eesite import render as render_module
    from eesite.build import load_site
    from eesite.render import render

    calls = tmp_path / "calls"
    usual = render_module.Renderer.page

    def counted(self, url, *args, **context):
        with calls.open("a") as f:
            f.write(f"{os.getpid()} {url}\n")
        return usual(self, url, *args, **context)

    monkeypatch.setattr(render_module.Renderer, "page", counted)
    site = load_site(Options(source=ROOT, output=tmp_path / "out", now=NOW), load_settings(ROOT))
    pages = render(site, ROOT / "templates", jobs=2)
    asked = [line.split() for line in calls.read_text().splitlines()]
    workers = {pid for pid, _ in asked}
    assert len(workers) == 2  # this process and a forked worker, each with its share
    wanted = {e.url for e in site.draws} | {s.url for s in site.analytics.snapshots}
    urls = [url for _, url in asked if url in wanted]
    assert sorted(urls) == sorted(wanted)  # each asked for once, by one worker
    made = {p.path for p in pages}
    assert {render_module.url_to_path(url) for url in wanted} <= made


def test_a_distribution_reads_its_bands_by_position_and_by_name():
    """Bands come in BANDS order (schema.py checks it), so `get` reads them by position; a
    distribution made otherwise still answers by name, and subtotals that do not add up are
    found either way."""
    from eesite.content import BANDS, Distribution

    counts = {band: 10 * n for n, band in enumerate(BANDS)}
    ordered = Distribution(date(2024, 1, 2), tuple(counts.items()))
    shuffled = Distribution(date(2024, 1, 2), tuple(reversed(counts.items())))
    for dist in (ordered, shuffled):
        assert [dist.get(band) for band in BANDS] == list(counts.values())
        assert dist.total == counts["total"]
        assert {band for band, _, _ in dist.mismatches()} == {"451-500", "401-450", "total"}
    with pytest.raises(KeyError):
        ordered.get("no such band")


def test_a_snapshot_is_made_of_its_rounds_alone(tmp_path):
    """A page's check hashes a snapshot by its rounds (`Snapshot.made_of`): that holds only
    while its date, URL and figures are worked out from those rounds alone. The real record:
    each snapshot, made again from nothing but its rounds, is the same."""
    from eesite.analytics import Snapshot, _snapshots
    from eesite.build import load_site

    site = load_site(Options(source=ROOT, output=tmp_path / "out", now=NOW), load_settings(ROOT))
    snapshots = site.analytics.snapshots
    assert len(snapshots) > 100 and Snapshot.made_of == ("entries",)
    shared = [s for s in snapshots if len(s.entries) > 1]  # rounds published with one pool
    assert shared
    for s in snapshots:
        assert _snapshots(s.entries) == (s,)
