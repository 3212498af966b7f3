"""Occupation lists: the data files, the draw → list rule and the pages, on the bundled site."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date
from pathlib import Path

import lxml.html
import pytest

from eesite.build import Options, make_site
from eesite.categories import BY_SLUG, category_of
from eesite.occupations import DATA_DIR, apply_rule, load_occupations
from eesite.settings import load_settings
from tests.conftest import NOW, ROOT, snapshot

DATA = ROOT / DATA_DIR


def csv_rows(year: int) -> list[dict[str, str]]:
    with open(DATA / f"occupations_{year}.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    """The bundled site's model and files, built once (nothing written)."""
    options = Options(ROOT, tmp_path_factory.mktemp("out") / "output", now=NOW)
    return make_site(options, load_settings(ROOT))


def page(bundled, path: str) -> str:
    return bundled[1][path].decode("utf-8")


def text_of(html: str) -> str:
    """The visible text of a page or fragment, whitespace collapsed."""
    return " ".join(lxml.html.fromstring(html).text_content().split())


# ---- data ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("year", [2023, 2025, 2026])
def test_counts_per_category_equal_the_data_files(bundled, year):
    site, _ = bundled
    expected = Counter(category_of(r["category"]) for r in csv_rows(year))
    got = {lst.category.slug: len(lst.codes) for lst in site.occupations.lists
           if lst.edition.year == year}
    assert got == dict(expected)
    for slug, n in expected.items():
        html = text_of(page(bundled, f"occupations/{slug}/index.html"))
        assert f"{year} {BY_SLUG[slug].label} list: {n} occupations" in html


def test_counts_named_in_the_issue(bundled):
    counts = {lst.key: len(lst.codes) for lst in bundled[0].occupations.lists}
    assert counts["stem", 2023] == 24
    assert counts["stem", 2025] == 11
    assert counts["education", 2025] == 5
    assert ("transport", 2025) not in counts and counts["transport", 2026] == 4


def test_every_code_in_the_data_has_its_page(bundled):
    codes = {(r["noc_code"], r["title"]) for y in (2023, 2025, 2026) for r in csv_rows(y)}
    assert len({c for c, _ in codes}) == len(bundled[0].occupations.occupations) == 130
    index = page(bundled, "occupations/index.html")
    for code, title in codes:
        html = page(bundled, f"occupations/{code}/index.html")
        assert f"<h1>{code} {title}</h1>" in html.replace("&#39;", "'")
        assert f'href="/occupations/{code}/"' in index


def test_provisional_lists_and_french_are_said_on_the_pages(bundled):
    provisional = {lst.key for lst in bundled[0].occupations.lists if lst.provisional}
    assert provisional == {("healthcare", 2026), ("stem", 2026), ("education", 2026)}
    for slug in ("healthcare", "stem", "education"):
        html = text_of(page(bundled, f"occupations/{slug}/index.html"))
        assert "Provisional: this list rests on a single unofficial copy" in html
    assert "no occupation list" in text_of(page(bundled, "occupations/index.html"))
    assert "French-language proficiency has no occupation list" in \
        text_of(page(bundled, "categories/french/index.html"))
    assert "None: French-language rounds have no occupation list" in \
        text_of(page(bundled, "draws/394/index.html"))


# ---- which list each draw used ------------------------------------------------------------------

def test_every_category_draw_links_to_a_list_that_existed_on_its_date(bundled):
    site, files = bundled
    category_draws = [e for e in site.draws if e.category.kind == "category" and e.category.slug != "french"]
    assert len(category_draws) == 38
    for entry in category_draws:
        applied = site.occupations.applied[entry.url]
        lst = applied.list
        assert lst is not None, entry.url
        assert lst.category.slug == entry.draw.category
        assert lst.edition.announced <= entry.draw.draw_date
        assert lst.edition.until is None or entry.draw.draw_date <= lst.edition.until
        html = page(bundled, entry.url.strip("/") + "/index.html")
        assert f'href="{lst.url}"' in html, entry.url
        target = page(bundled, f"occupations/{lst.category.slug}/index.html")
        assert f'id="list-{lst.edition.year}"' in target


def test_list_versions_follow_the_draw_names(bundled):
    site, _ = bundled
    years = {e.draw.round: site.occupations.applied[e.url].list.edition.year
             for e in site.draws if e.url in site.occupations.applied}
    assert years["254"] == 2023  # STEM occupations (Version 1), 2023-07-05
    assert years["327"] == 2023  # Healthcare (Version 1), 2024: the renewed 2023 list
    assert years["344"] == 2025  # Education occupations (Version 1), 2025
    assert years["345"] == 2025  # Healthcare and social services (Version 2)
    assert years["397"] == 2026  # Physicians, 2026-Version 1
    applied = site.occupations.applied
    doubtful = sorted(e.draw.round for e in site.draws
                      if e.url in applied and not applied[e.url].label_agrees)
    assert doubtful == ["398", "408", "422", "434"]  # "2026-Version 3"/"2026-Version 2"
    assert "the sources show one Healthcare list" in page(bundled, "draws/398/index.html")


def test_rule_on_edges_of_the_editions():
    index = load_occupations(ROOT)
    assert apply_rule(index, "cec", date(2024, 1, 1), None) is None
    assert apply_rule(index, "french", date(2024, 1, 1), "Version 1") is None
    before = apply_rule(index, "stem", date(2023, 5, 30), "Version 1")
    assert before.list is None and "predates" in before.notes[0]
    assert apply_rule(index, "stem", date(2023, 5, 31), "Version 1").list.edition.year == 2023
    assert apply_rule(index, "stem", date(2025, 2, 26), "Version 1").list.edition.year == 2023
    assert apply_rule(index, "stem", date(2025, 2, 27), "Version 2").list.edition.year == 2025
    gone = apply_rule(index, "transport", date(2025, 6, 1), "Version 2")
    assert gone.list is None and "no Transport list" in gone.notes[0]
    wrong = apply_rule(index, "healthcare", date(2025, 6, 1), "2026-Version 1")
    assert wrong.list.edition.year == 2025 and not wrong.label_agrees
    assert "does not match the 2025 lists" in wrong.notes[0]


# ---- pages --------------------------------------------------------------------------------------

def test_category_page_current_version_first_with_changes(bundled):
    html = page(bundled, "occupations/stem/index.html")
    positions = [html.index(f'id="list-{y}"') for y in (2026, 2025, 2023)]
    assert positions == sorted(positions)
    section = text_of("<div>" + html[positions[1]:positions[2]] + "</div>")
    assert "Compared with the 2023 STEM list: 6 added, 19 removed" in section
    assert "21231 Software engineers and designers" in section  # among the removed


def test_occupation_page_lists_its_lists_and_every_draw(bundled):
    site, _ = bundled
    nurse = text_of(page(bundled, "occupations/31301/index.html"))
    healthcare = [e for e in site.draws if e.draw.category == "healthcare"]
    assert f"{len(healthcare)} rounds, newest first" in nurse
    for e in healthcare:
        assert f"round {e.draw.round} " in nurse
        assert f"{e.draw.invitations:,}" in nurse and str(e.draw.crs_cutoff) in nurse
    software = text_of(page(bundled, "occupations/21231/index.html"))
    assert "2023 STEM list (in force from May 31, 2023 to February 26, 2025): included" in software
    assert "2025 STEM list" in software and "not included — removed in this version" in software
    assert "Not on any current list" in software
    assert "3 rounds, newest first" in software  # STEM rounds 254, 274, 293


def test_changes_page_and_links_from_draw_categories(bundled):
    changes = text_of(page(bundled, "occupations/changes/index.html"))
    assert "2026: category dropped. The 2026 lists have no Agriculture list" in changes
    assert "2026 Transport list: 4 occupations" in changes
    assert "(the category had no list in between)" in changes
    stem = page(bundled, "categories/stem/index.html")
    assert 'href="/occupations/stem/"' in stem
    assert 'href="/occupations/"' in page(bundled, "index.html")  # the menu


# ---- validation ---------------------------------------------------------------------------------

BAD_CSV = """\
category,noc_code,title,teer
STEM occupations,21231,Software engineers and designers,1
STEM occupations,2123,Too short,1
STEM occupations,21232,Software developers and programmers,3
STEM occupations,21231,Software engineers and designers,1
Plumbing occupations,72300,Plumbers,2
French-language proficiency,41220,Secondary school teachers,1
"""
META = """\
editions:
  - year: 2023
    file: occupations_2023.csv
    announced: 2023-05-31
    draw_label: "Version N"
    lists:
      stem: {confidence: high}
"""
# an unknown key under a list: line 7 of META with this replacement
META_TYPO = META.replace("{confidence: high}", "{confidence: high, provisonal: true}")


def test_bad_rows_name_file_and_line_and_nothing_is_written(site, capsys):
    from tests.conftest import draw_text
    site.write("content/draws/0254-2023-07-05-stem.md", draw_text("254"))
    site.write("content/data/occupations/lists.yaml", META)
    site.write("content/data/occupations/occupations_2023.csv", BAD_CSV.splitlines(True)[0]
               + BAD_CSV.splitlines(True)[1])
    assert site.run("build") == 0
    assert "2023 STEM list: 1 occupations" in text_of(site.page("occupations/stem/index.html"))
    before = snapshot(site.output)
    site.write("content/data/occupations/occupations_2023.csv", BAD_CSV)
    capsys.readouterr()
    assert site.run("build") == 1
    err = capsys.readouterr().err
    rel = "content/data/occupations/occupations_2023.csv"
    assert f'{rel}:3: noc_code: expected a five-digit NOC 2021 code, got "2123"' in err
    assert f"{rel}:4: teer: expected 1 (the second digit of NOC 21232), got 3" in err
    assert (f"{rel}:5: noc_code: duplicate row: 21231 is already listed under STEM occupations "
            "on line 2") in err
    assert f'{rel}:6: category: unknown category "Plumbing occupations"' in err
    assert f'{rel}:7: category: "French-language proficiency" has no occupation list' in err
    assert "error: 5 problems found; nothing was written" in err
    assert snapshot(site.output) == before


def test_bad_metadata_and_stray_files_are_errors(site, capsys):
    site.write("content/data/occupations/lists.yaml", META.replace("confidence: high", "confidence: sure")
               + "    colour: blue\n")
    site.write("content/data/occupations/occupations_2023.csv", BAD_CSV.splitlines(True)[0]
               + BAD_CSV.splitlines(True)[1])
    site.write("content/data/occupations/occupations_2027.csv", BAD_CSV.splitlines(True)[0])
    assert site.run("check") == 1
    err = capsys.readouterr().err
    assert "content/data/occupations/lists.yaml:7: stem: expected the confidence of the 2023 STEM list" in err
    assert 'lists.yaml:8: colour: unknown key' in err
    assert "occupations_2027.csv: not named by any edition in content/data/occupations/lists.yaml" in err
    site.write("content/data/occupations/lists.yaml", META_TYPO)
    site.write("content/data/occupations/occupations_2027.csv", "")
    (site.root / "content/data/occupations/occupations_2027.csv").unlink()
    assert site.run("check") == 1
    assert 'lists.yaml:7: provisonal: unknown key (did you mean "provisional"?)' in capsys.readouterr().err


def test_a_site_without_occupation_data_has_no_occupation_pages(site):
    from tests.conftest import draw_text
    site.write("content/draws/0254-2023-07-05-stem.md", draw_text("254"))
    assert site.run("build") == 0
    assert not (site.output / "occupations").exists()
    assert 'href="/occupations/"' not in site.page("index.html")


def test_bundled_data_validates_with_crlf_and_bom(tmp_path):
    """The same rows saved on Windows (BOM, CRLF) load to the same index."""
    target = tmp_path / DATA_DIR
    target.mkdir(parents=True)
    for path in DATA.iterdir():
        data = path.read_bytes()
        if path.suffix == ".csv":
            data = b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n")
        (target / path.name).write_bytes(data)
    assert load_occupations(tmp_path).lists == load_occupations(ROOT).lists


def test_data_files_are_where_the_readme_says():
    assert {p.name for p in DATA.iterdir()} >= {"lists.yaml", "OCCUPATIONS_SOURCES.md",
                                                "occupations_2023.csv", "occupations_2025.csv",
                                                "occupations_2026.csv"}
    assert Path(ROOT / "templates/static/occupations.js").stat().st_size < 4000  # keep it small
