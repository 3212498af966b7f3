"""The importer: draw posts created from the feed, kept in step with IRCC's corrections."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from eesite.errors import BuildError
from eesite.importer import format_report, import_feed, new_front_matter, split_front_matter
from eesite.ircc import load_feed

REAL_FEED = Path(__file__).resolve().parent.parent / "content/data/ircc/ee_rounds_123_en.json"
NOW = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
LATER = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)

SPEC_ORDER = [
    "title", "date", "summary", "tags", "round", "draw_date", "draw_name", "category",
    "list_version", "programs", "invitations", "crs_cutoff", "round_time", "tie_break",
    "distribution", "ircc_url", "data_notes", "corrections", "updated",
]


def front(path: Path) -> dict[str, Any]:
    parts = split_front_matter(path.read_bytes().decode())
    assert parts is not None
    return yaml.load(parts[0], Loader=yaml.CSafeLoader)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def feed_copy(tmp_path: Path, name: str, **changes: dict[str, str]) -> Path:
    """A copy of the real feed with some records' fields changed: changes[round] = {...}."""
    data = json.loads(REAL_FEED.read_text())
    for rec in data["rounds"]:
        rec.update(changes.get(f"r{rec['drawNumber']}", {}))
    path = tmp_path / name
    path.write_text(json.dumps(data, indent=2))
    return path


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real feed imported once into an empty folder (read-only for the tests using it)."""
    draws = tmp_path_factory.mktemp("site") / "content" / "draws"
    report = import_feed(REAL_FEED, draws, NOW)
    assert len(report.created) == 435 and not report.updated and not report.unchanged
    return draws


def test_creates_one_file_per_round(imported: Path) -> None:
    names = sorted(p.name for p in imported.iterdir())
    assert len(names) == 435
    assert names[0] == "0001-2015-01-31-general.md"
    assert "0091a-2018-05-30-fst.md" in names and "0091b-2018-05-30-pnp.md" in names
    assert "0254-2023-07-05-stem.md" in names
    assert names[-1] == "0434-2026-08-07-transport.md"
    assert not [n for n in names if not n.endswith(".md")]  # no temp files left


def test_new_post_matches_the_spec(imported: Path) -> None:
    path = imported / "0254-2023-07-05-stem.md"
    text = path.read_text()
    assert text.startswith("---\n") and text.endswith("\n---\n")  # empty body
    assert 'round: "254"\n' in text
    assert "date: 2023-07-05T13:38:22+00:00\n" in text
    assert '    "total": 214529\n' in text and '    "601-1200": ' in text
    assert "&id" not in text and "*id" not in text  # no YAML aliases
    meta = front(path)
    assert list(meta) == [k for k in SPEC_ORDER if k in meta]
    assert meta["title"] == "Express Entry draw #254: 500 invitations (STEM), CRS 486"
    assert meta["summary"] == "500 invitations · CRS 486 · STEM occupations (Version 1)"
    assert meta["tags"] == []
    assert meta["round"] == "254"
    assert meta["date"] == meta["round_time"] == datetime(2023, 7, 5, 13, 38, 22, tzinfo=UTC)
    assert meta["draw_date"] == date(2023, 7, 5) and type(meta["draw_date"]) is date
    assert meta["tie_break"] == datetime(2022, 11, 23, 0, 1, 29, tzinfo=UTC)
    assert (meta["category"], meta["list_version"]) == ("stem", "Version 1")
    assert (meta["invitations"], meta["crs_cutoff"]) == (500, 486)
    assert meta["distribution"]["as_of"] == date(2023, 7, 4)
    assert len(meta["distribution"]["bands"]) == 18
    assert meta["ircc_url"].startswith("https://www.canada.ca/")
    assert not {"data_notes", "corrections", "updated"} & set(meta)


def test_optional_keys_omitted(imported: Path) -> None:
    meta = front(imported / "0001-2015-01-31-general.md")
    assert not {"list_version", "tie_break", "distribution", "data_notes"} & set(meta)
    assert meta["title"] == "Express Entry draw #1: 779 invitations (General), CRS 886"
    meta = front(next(imported.glob("0357-2025-07-22-*.md")))
    assert "round_time" not in meta
    assert meta["date"] == datetime(2025, 7, 22, 12, 0, tzinfo=UTC)
    assert "round date is used" in meta["data_notes"][0]
    meta = front(next(imported.glob("0091a-*.md")))
    assert meta["round"] == "91a" and meta["title"].startswith("Express Entry draw #91a: 500 ")


def test_every_file_loads_back(imported: Path) -> None:
    rounds = {r.round: r for r in load_feed(REAL_FEED)}
    for path in imported.iterdir():
        meta = front(path)
        assert meta == new_front_matter(rounds[meta["round"]])
        assert isinstance(meta["round"], str)
        assert isinstance(meta["date"], datetime) and meta["date"].tzinfo is not None
        assert type(meta["draw_date"]) is date


def test_reimport_changes_nothing(tmp_path: Path) -> None:
    draws = tmp_path / "draws"
    import_feed(REAL_FEED, draws, NOW)
    before = snapshot(draws)
    report = import_feed(REAL_FEED, draws, LATER)
    assert snapshot(draws) == before
    assert (report.created, report.updated, report.changes) == ((), (), ())
    assert len(report.unchanged) == 435
    assert format_report(report) == "unchanged: 435 posts"


def test_output_is_deterministic(tmp_path: Path, imported: Path) -> None:
    other = tmp_path / "again"
    import_feed(REAL_FEED, other, NOW)
    assert {k: v[0] for k, v in snapshot(other).items()} == {
        k: v[0] for k, v in snapshot(imported).items()}


def test_correction_updates_front_matter_only(tmp_path: Path) -> None:
    draws = tmp_path / "draws"
    first = feed_copy(tmp_path, "first.json", r238={"drawCRS": "507"})
    import_feed(first, draws, NOW)
    old_path = draws / "0238-2023-01-18-general.md"
    assert front(old_path)["crs_cutoff"] == 507
    # The editor writes prose (CRLF, odd spacing), adds keys and tags, and renames the file.
    body = "\r\nIRCC invited 5,500 candidates.\r\n\r\n---\r\nNot front matter.  \r\n"
    meta_text = old_path.read_text().removesuffix("---\n")
    meta_text = meta_text.replace("tags: []", 'tags: ["cut-off"]')
    meta_text += 'hero: "img/238.jpg"\ndraft: false\n'
    path = draws / "cut-off-drops.md"
    old_path.unlink()
    path.write_bytes((meta_text + "---\n").encode() + body.encode())
    others = {k: v for k, v in snapshot(draws).items() if k != path.name}

    report = import_feed(REAL_FEED, draws, LATER)

    assert report.updated == ("238",) and not report.created
    assert report.changes == ("round 238: crs_cutoff 507 → 490",)
    assert {k: v for k, v in snapshot(draws).items() if k != path.name} == others
    assert not (draws / "0238-2023-01-18-general.md").exists()
    raw = path.read_bytes()
    assert raw.endswith(b"\n---\n" + body.encode())
    meta = front(path)
    assert meta["crs_cutoff"] == 490
    assert meta["title"] == "Express Entry draw #238: 5,500 invitations (General), CRS 490"
    assert meta["summary"] == "5,500 invitations · CRS 490 · No Program Specified"
    assert meta["tags"] == ["cut-off"]
    assert meta["corrections"] == [
        {"date": date(2026, 12, 1), "field": "crs_cutoff", "old": 507, "new": 490}]
    assert meta["updated"] == datetime(2026, 12, 1, 9, 30, 15, tzinfo=UTC)
    assert list(meta)[-2:] == ["hero", "draft"] and meta["hero"] == "img/238.jpg"
    assert list(meta)[:-2] == [k for k in SPEC_ORDER if k in meta]
    out = format_report(report)
    assert "updated 1 post" in out and "crs_cutoff 507 → 490" in out and "434 posts" in out

    # Importing again is a no-op; a further correction appends to the history.
    before = snapshot(draws)
    assert import_feed(REAL_FEED, draws, LATER).updated == ()
    assert snapshot(draws) == before
    import_feed(feed_copy(tmp_path, "third.json", r238={"drawSize": "5,600"}), draws, NOW)
    meta = front(path)
    assert [c["field"] for c in meta["corrections"]] == ["crs_cutoff", "invitations"]
    assert meta["corrections"][1]["old"] == 5500 and meta["corrections"][1]["new"] == 5600
    assert path.read_bytes().endswith(body.encode())


def test_customised_title_is_kept_and_time_corrections_use_iso(tmp_path: Path) -> None:
    draws = tmp_path / "draws"
    import_feed(REAL_FEED, draws, NOW)
    path = next(draws.glob("0254-*.md"))
    path.write_text(path.read_text().replace(
        'title: "Express Entry draw #254: 500 invitations (STEM), CRS 486"',
        'title: "First STEM draw"') + "Body.\n")
    changed = feed_copy(tmp_path, "f.json", r254={
        "drawCRS": "480", "drawDateTime": "July 05, 2023 14:00:00 UTC"})
    report = import_feed(changed, draws, LATER)
    assert report.changes == ("round 254: crs_cutoff 486 → 480",
                              "round 254: round_time 2023-07-05T13:38:22+00:00 → "
                              "2023-07-05T14:00:00+00:00")
    meta = front(path)
    assert meta["title"] == "First STEM draw"
    assert meta["summary"] == "500 invitations · CRS 480 · STEM occupations (Version 1)"
    assert meta["date"] == meta["round_time"] == datetime(2023, 7, 5, 14, tzinfo=UTC)
    assert meta["corrections"][1] == {"date": date(2026, 12, 1), "field": "round_time",
                                      "old": "2023-07-05T13:38:22+00:00",
                                      "new": "2023-07-05T14:00:00+00:00"}
    assert path.read_text().endswith("---\nBody.\n")


def test_non_headline_change_has_no_correction(tmp_path: Path) -> None:
    draws = tmp_path / "draws"
    import_feed(REAL_FEED, draws, NOW)
    changed = feed_copy(tmp_path, "f.json", r272={"drawName": " General  "},
                        r434={"dd1": "501"})
    path = next(draws.glob("0271-*.md"))
    import_feed(feed_copy(tmp_path, "g.json", r271={"drawName": "Healthcare Occupations (Version 1)"}),
                draws, NOW)
    assert front(path)["draw_name"] == "Healthcare Occupations (Version 1)"
    assert "corrections" not in front(path) and "updated" not in front(path)
    report = import_feed(changed, draws, LATER)
    assert set(report.updated) == {"271", "434"}
    assert "round 434: distribution updated" in report.changes
    meta = front(next(draws.glob("0434-*.md")))
    assert meta["distribution"]["bands"]["601-1200"] == 501
    assert "corrections" not in meta and "updated" not in meta
    meta = front(path)
    assert meta["draw_name"] == "Healthcare occupations (Version 1)"
    assert meta["summary"].endswith("· Healthcare occupations (Version 1)")
    assert "corrections" not in meta and "updated" not in meta


def test_renamed_file_is_matched_by_round(tmp_path: Path) -> None:
    draws = tmp_path / "draws"
    import_feed(REAL_FEED, draws, NOW)
    (draws / "0091b-2018-05-30-pnp.md").rename(draws / "pnp-special.md")
    report = import_feed(REAL_FEED, draws, NOW)
    assert report.created == () and len(report.unchanged) == 435
    assert not (draws / "0091b-2018-05-30-pnp.md").exists()


def test_bad_posts_stop_the_import_before_writing(tmp_path: Path) -> None:
    draws = tmp_path / "draws"
    draws.mkdir()
    (draws / "a.md").write_text("---\ntitle: [unclosed\nround: \"1\"\n---\n")
    (draws / "b.md").write_text("no front matter here\n")
    (draws / "c.md").write_text('---\ntitle: "x"\n---\n')
    (draws / "d.md").write_text('---\nround: "2"\n---\n')
    (draws / "e.md").write_text("---\nround: 2\n---\n")
    with pytest.raises(BuildError) as info:
        import_feed(REAL_FEED, draws, NOW)
    by_file = {Path(p.path).name: p for p in info.value.problems}
    assert set(by_file) == {"a.md", "b.md", "c.md", "e.md"}
    assert by_file["a.md"].line >= 2 and "YAML" in by_file["a.md"].message
    assert by_file["c.md"].field == "round"
    assert "d.md" in by_file["e.md"].message
    assert sorted(p.name for p in draws.iterdir()) == ["a.md", "b.md", "c.md", "d.md", "e.md"]


def test_bad_feed_writes_nothing(tmp_path: Path) -> None:
    feed = tmp_path / "feed.json"
    shutil.copy(REAL_FEED, feed)
    feed.write_text(feed.read_text().replace('"drawCRS": "470"', '"drawCRS": "4七0"', 1))
    with pytest.raises(BuildError) as info:
        import_feed(feed, tmp_path / "draws", NOW)
    assert info.value.problems[0].field == "drawCRS"
    assert not (tmp_path / "draws").exists()


def test_format_report_lists_created_rounds(tmp_path: Path) -> None:
    draws = tmp_path / "draws"
    import_feed(REAL_FEED, draws, NOW)
    for name in ("0433-2026-08-06-french.md", "0434-2026-08-07-transport.md"):
        (draws / name).unlink()
    report = import_feed(REAL_FEED, draws, NOW)
    assert report.created == ("433", "434")
    assert format_report(report) == "created 2 posts: rounds 433, 434\nunchanged: 433 posts"


def test_unreadable_existing_posts_are_problems_not_crashes(tmp_path):
    """The importer reads posts with the build's loader: what the build reports, it reports."""
    draws = tmp_path / "draws"
    draws.mkdir()
    (draws / "a.md").write_text('---\nround: "1"\ndraw_date: 2023-02-29\n---\n', encoding="utf-8")
    (draws / "b.md").write_text('---\nround: "2"\nx: ' + "[" * 20000 + "\n---\n", encoding="utf-8")
    with pytest.raises(BuildError) as err:
        import_feed(REAL_FEED, draws, datetime(2026, 11, 23, tzinfo=UTC))
    found = [str(p) for p in err.value.problems]
    assert any(p.startswith(f"{draws / 'a.md'}:3: ") and "day is out of range" in p for p in found)
    assert any(p.startswith(f"{draws / 'b.md'}:") for p in found)
    assert sorted(p.name for p in draws.iterdir()) == ["a.md", "b.md"]  # nothing written
