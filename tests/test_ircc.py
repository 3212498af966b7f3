"""The IRCC feed parser: every timestamp spelling, every documented anomaly, every bad input."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from eesite.errors import BuildError
from eesite.ircc import BAND_LABELS, Round, load_feed, parse_feed

REAL_FEED = Path(__file__).resolve().parent.parent / "content/data/ircc/ee_rounds_123_en.json"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def record(number: str = "254", **overrides: str) -> dict[str, str]:
    """A valid feed record (round 254 as IRCC published it), with fields overridden."""
    rec = {
        "drawNumber": number,
        "drawNumberURL": f"<a href='/content/canadasite/en/x/invitations.html?q={number}'>"
                         f"{number}</a>",
        "drawDate": "2023-07-05",
        "drawDateFull": "July 5, 2023",
        "drawName": "STEM occupations (Version 1)",
        "drawSize": "500",
        "drawCRS": "486",
        "mitext": "<a href='/x'>Invitations</a>",
        "DrawText1": "<a href='/x'>See full text of Ministerial Instruction</a>",
        "drawText2": "Federal Skilled Worker Program, Canadian Experience Class and "
                     "Federal Skilled Trades Program",
        "drawDateTime": "July 05, 2023 13:38:22 UTC",
        "drawCutOff": "November 23, 2022 00:01:29 UTC",
        "drawDistributionAsOn": "July 4, 2023",
    }
    rec.update({f"dd{i}": "0" for i in range(1, 19)})
    rec.update(overrides)
    return rec


def feed_text(*records: dict[str, Any]) -> str:
    return json.dumps({"classes": "wb-tables", "rounds": list(records)}, indent=2)


def parse_one(**overrides: str) -> Round:
    (rnd,) = parse_feed(feed_text(record(**overrides)), "feed.json")
    return rnd


def problems_of(text: str | bytes) -> list:
    with pytest.raises(BuildError) as info:
        parse_feed(text, "feed.json")
    return list(info.value.problems)


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


@pytest.fixture(scope="module")
def real() -> dict[str, Round]:
    rounds = load_feed(REAL_FEED)
    return {r.round: r for r in rounds}


# --- timestamps ----------------------------------------------------------------------------

TIMESTAMPS = [
    ("July 05, 2023 13:38:22 UTC", utc(2023, 7, 5, 13, 38, 22)),
    ("May 26, 2017, at 16:35:48 UTC", utc(2017, 5, 26, 16, 35, 48)),
    ("March 23,2023 12:27:59 UTC", utc(2023, 3, 23, 12, 27, 59)),
    ("May 31, 2024 at12:48:30 UTC", utc(2024, 5, 31, 12, 48, 30)),
    ("October 25, 2023 at 15:48:39 AM UTC", utc(2023, 10, 25, 15, 48, 39)),
    ("June 22, 2021 at 20:19:59 PM UTC", utc(2021, 6, 22, 20, 19, 59)),
    ("September 30, 2023 at 04:22:17 AM UTC", utc(2023, 9, 30, 4, 22, 17)),
    ("June 22, 2021 at 08:19:59 PM UTC", utc(2021, 6, 22, 20, 19, 59)),
    ("June 22, 2021 at 12:05:00 AM UTC", utc(2021, 6, 22, 0, 5, 0)),
    ("August 15, 2024 at 2024-08-15 15:11:54 UTC", utc(2024, 8, 15, 15, 11, 54)),
    ("July 3rd 2026 at 21:35:13 UTC", utc(2026, 7, 3, 21, 35, 13)),
    ("March 02. 2024 at 01:58:34 UTC", utc(2024, 3, 2, 1, 58, 34)),
    ("May 26 2025 at 12:28:38 UTC", utc(2025, 5, 26, 12, 28, 38)),
    ("February 02 2022 at 14:16:27 UTC", utc(2022, 2, 2, 14, 16, 27)),
    ("April 13, 2026  at 23:10:05 UTC", utc(2026, 4, 13, 23, 10, 5)),
    ("May 21, 2026 at  12:14:09 UTC", utc(2026, 5, 21, 12, 14, 9)),
    (" January 17, 2018 at 12:33:00 UTC", utc(2018, 1, 17, 12, 33, 0)),
    ("July 04, 2023 at 19:36:18 UTC ", utc(2023, 7, 4, 19, 36, 18)),
    ("March 05, 2025 at 05:10:48", utc(2025, 3, 5, 5, 10, 48)),
    ("September 05, 2025 at 0:59:13 UTC", utc(2025, 9, 5, 0, 59, 13)),
    ("October 18, 2025 at  7:18:52 UTC", utc(2025, 10, 18, 7, 18, 52)),
    ("August 7, 2026 at 10:08:20 UTC", utc(2026, 8, 7, 10, 8, 20)),
]


@pytest.mark.parametrize(("text", "expected"), TIMESTAMPS)
def test_tie_break_timestamp_variants(text: str, expected: datetime) -> None:
    rnd = parse_one(drawDate="2026-12-31", drawCutOff=text,
                    drawDateTime="December 31, 2026 at 10:00:00 UTC")
    assert rnd.tie_break == expected
    assert rnd.tie_break.tzinfo is not None and rnd.tie_break.utcoffset() == timedelta(0)
    assert rnd.data_notes == ()


@pytest.mark.parametrize(("text", "expected"), TIMESTAMPS)
def test_round_time_timestamp_variants(text: str, expected: datetime) -> None:
    rnd = parse_one(drawDate=expected.date().isoformat(), drawDateTime=text,
                    drawCutOff="January 1, 2015 at 00:00:00 UTC")
    assert rnd.round_time == expected
    assert rnd.data_notes == ()


@pytest.mark.parametrize("text", [
    "Octember 5, 2023 at 10:00:00 UTC",
    "February 30, 2023 at 10:00:00 UTC",
    "July 5, 2023 at 25:00:00 UTC",
    "July 5, 2023",
    "August 15, 2024 at 2024-08-16 15:11:54 UTC",  # contradicts itself
    "5 July 2023 10:00:00",
    "July 5, 2023 at 10:00:00 EST",
    "",
])
def test_unreadable_round_time_is_a_problem(text: str) -> None:
    text_feed = feed_text(record(drawDateTime=text))
    (problem,) = problems_of(text_feed)
    assert problem.field == "drawDateTime"
    assert problem.line == line_of(text_feed, '"drawNumber"')
    assert "round 254" in problem.message and repr(text)[1:-1] in problem.message


def test_year_missing_is_inferred_and_noted() -> None:
    rnd = parse_one(drawDate="2021-10-27", drawDateTime="October 27, 2021 at 13:32:26 UTC",
                    drawCutOff="October 7 at 16:38:21 UTC")
    assert rnd.tie_break == utc(2021, 10, 7, 16, 38, 21)
    (note,) = rnd.data_notes
    assert '"October 7 at 16:38:21 UTC"' in note and "2021 is inferred" in note
    # A month/day later in the year than the round must come from the year before.
    rnd = parse_one(drawDate="2021-10-27", drawDateTime="October 27, 2021 at 13:32:26 UTC",
                    drawCutOff="December 1 at 01:00:00 UTC")
    assert rnd.tie_break == utc(2020, 12, 1, 1, 0, 0)
    assert "2020 is inferred" in rnd.data_notes[0]


def test_round_time_on_another_day_is_dropped_with_note() -> None:
    rnd = parse_one(drawDate="2025-07-22", drawDateTime="July 12, 2025 at 16:27:45 UTC")
    assert rnd.round_time is None
    (note,) = rnd.data_notes
    assert '"July 12, 2025 at 16:27:45 UTC"' in note and "round date is used" in note
    # The next UTC day is normal (evening rounds in Eastern time): kept, no note.
    rnd = parse_one(drawDate="2015-04-10", drawDateTime="April 11, 2015 at 00:30:00 UTC",
                    drawCutOff="")
    assert rnd.round_time == utc(2015, 4, 11, 0, 30, 0) and rnd.data_notes == ()


def test_tie_break_after_the_round_is_kept_with_note() -> None:
    # Round 335 once read "November 14, 2025" for a January 2025 round.
    rnd = parse_one(drawDate="2025-01-07", drawDateTime="January 7, 2025 at 16:06:45 UTC",
                    drawCutOff="November 14, 2025 at 02:52:14 UTC")
    assert rnd.tie_break == utc(2025, 11, 14, 2, 52, 14)
    assert "after the round" in rnd.data_notes[0]


# --- other fields --------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("5,000", 5000), ("5 000", 5000), ("5\u00a0000", 5000), (" 300 ", 300), ("1,234,567", 1234567),
])
def test_numbers(text: str, expected: int) -> None:
    assert parse_one(drawSize=text).invitations == expected


def test_distribution_bands_in_order() -> None:
    counts = {f"dd{i}": f"{i * 1000:,}" for i in range(1, 19)}
    rnd = parse_one(**counts, drawDistributionAsOn="August 3, 2026")
    assert rnd.distribution is not None
    assert rnd.distribution.as_of == date(2026, 8, 3)
    assert [label for label, _ in rnd.distribution.bands] == list(BAND_LABELS)
    assert rnd.distribution.bands[0] == ("601-1200", 1000)
    assert rnd.distribution.bands[-1] == ("total", 18000)
    assert parse_one().distribution is None  # all zeros


def test_url_and_names() -> None:
    rnd = parse_one(drawName="  Transport Occupations, 2026-Version 2 ")
    assert rnd.ircc_url == "https://www.canada.ca/content/canadasite/en/x/invitations.html?q=254"
    assert rnd.draw_name == "Transport Occupations, 2026-Version 2"
    assert (rnd.category, rnd.list_version) == ("transport", "2026-Version 2")
    assert parse_one(drawName="General").list_version is None


# --- the real feed -------------------------------------------------------------------------


def test_real_feed_endpoints(real: dict[str, Round]) -> None:
    rounds = load_feed(REAL_FEED)
    assert len(rounds) == 435
    first, last = rounds[0], rounds[-1]
    assert (first.round, first.draw_date, first.invitations, first.crs_cutoff) == (
        "1", date(2015, 1, 31), 779, 886)
    assert (last.round, last.draw_date, last.category, last.list_version) == (
        "434", date(2026, 8, 7), "transport", "2026-Version 2")
    assert (last.invitations, last.crs_cutoff) == (300, 470)
    assert [(r.draw_date, r.round) for r in rounds] == sorted(
        ((r.draw_date, r.round) for r in rounds), key=lambda x: x[0])
    assert real["434"].ircc_url.startswith("https://www.canada.ca/content/canadasite/en/")
    assert real["1"].ircc_url.startswith("https://www.canada.ca/en/")


def test_real_feed_round_91_split(real: dict[str, Round]) -> None:
    a, b = real["91a"], real["91b"]
    assert a.draw_date == b.draw_date == date(2018, 5, 30)
    assert (a.category, a.invitations, a.crs_cutoff) == ("fst", 500, 288)
    assert (b.category, b.invitations, b.crs_cutoff) == ("pnp", 200, 902)
    ids = [r.round for r in load_feed(REAL_FEED)]
    assert ids.index("90") < ids.index("91a") < ids.index("91b") < ids.index("92")


def test_real_feed_notes_only_where_documented(real: dict[str, Round]) -> None:
    assert {r.round for r in real.values() if r.data_notes} == {"208", "357"}
    assert real["208"].tie_break == utc(2021, 10, 7, 16, 38, 21)
    assert "2021 is inferred" in real["208"].data_notes[0]
    assert real["357"].round_time is None
    assert '"July 12, 2025 at 16:27:45 UTC"' in real["357"].data_notes[0]
    for rid in ("7", "8", "9", "11", "13", "104", "108", "139", "146", "148"):
        rnd = real[rid]
        assert rnd.round_time is not None
        assert rnd.round_time.date() == rnd.draw_date + timedelta(days=1)


def test_real_feed_irregular_timestamps(real: dict[str, Round]) -> None:
    assert real["210"].tie_break == utc(2021, 6, 22, 20, 19, 59)
    assert real["270"].round_time == utc(2023, 10, 25, 15, 48, 39)
    assert real["270"].tie_break == utc(2023, 9, 30, 4, 22, 17)
    assert real["310"].round_time == utc(2024, 8, 15, 15, 11, 54)
    assert real["432"].tie_break == utc(2026, 7, 3, 21, 35, 13)
    assert real["322"].tie_break == utc(2024, 3, 2, 1, 58, 34)
    assert real["297"].round_time == utc(2024, 5, 31, 12, 48, 30)
    assert real["383"].tie_break == utc(2025, 3, 5, 5, 10, 48)
    assert all(r.round_time is not None for rid, r in real.items() if rid != "357")


def test_real_feed_tie_breaks(real: dict[str, Round]) -> None:
    early = [real[str(n)] for n in range(1, 77)]
    assert all(r.tie_break is None and r.data_notes == () for r in early)
    assert all(r.tie_break is not None for r in real.values() if r not in early)


def test_real_feed_distributions(real: dict[str, Round]) -> None:
    with_dist = {rid for rid, r in real.items() if r.distribution}
    assert len(with_dist) == 217
    first = min((real[rid] for rid in with_dist), key=lambda r: r.draw_date)
    assert first.round == "214" and first.draw_date == date(2022, 1, 19)
    assert {"223", "224", "226", "227"}.isdisjoint(with_dist)
    dist = real["434"].distribution
    assert dist is not None and dist.as_of == date(2026, 8, 3)
    assert dict(dist.bands)["total"] == 229100 and dict(dist.bands)["601-1200"] == 500
    # Round 247's official typo is kept as published.
    assert real["247"].distribution is not None
    assert real["247"].distribution.bands[2] == ("451-500", 55867)


def test_server_serialisation_crlf_compact(tmp_path: Path) -> None:
    """The feed as served: CRLF, one compact object per line; lines still point right."""
    recs = [record("2", drawDate="2015-02-07", drawDateTime="February 7, 2015 at 11:59:59 UTC",
                   drawCutOff=""),
            record("1", drawDate="2015-01-31", drawDateTime="January 31, 2015 11:59:48 UTC",
                   drawCutOff="", drawCRS="eight")]
    text = '{\r\n"classes": "wb-tables",\r\n"rounds": [\r\n' + ",\r\n".join(
        json.dumps(r) for r in recs) + "\r\n]}\r\n"
    path = tmp_path / "feed.json"
    path.write_bytes(text.encode())
    with pytest.raises(BuildError) as info:
        load_feed(path)
    (problem,) = info.value.problems
    assert (problem.path, problem.line, problem.field) == (str(path), 5, "drawCRS")
    path.write_bytes(text.replace("eight", "818").encode())
    assert [r.round for r in load_feed(path)] == ["1", "2"]


# --- bad feeds -----------------------------------------------------------------------------


def test_all_problems_reported_at_once() -> None:
    missing = record("251", drawDate="2023-06-27")
    del missing["drawSize"]
    recs = [
        record("254", drawCRS="48six"),
        missing,
        record("250", drawName="Lumberjacks (Version 1)"),
        record("249", drawSize=500),  # type: ignore[arg-type]
        record("254", drawDate="2023-07-06"),
    ]
    text = feed_text(*recs)
    found = {(p.field, p.line): p.message for p in problems_of(text)}
    lines = [i + 1 for i, ln in enumerate(text.splitlines()) if '"drawNumber"' in ln]
    assert set(found) == {("drawCRS", lines[0]), ("drawSize", lines[1]), ("drawName", lines[2]),
                          ("drawSize", lines[3]), ("drawNumber", lines[4])}
    assert found[("drawCRS", lines[0])] == (
        'round 254: expected a number like "5,000", got "48six"')
    assert "round 251" in found[("drawSize", lines[1])]
    assert "missing" in found[("drawSize", lines[1])]
    name = found[("drawName", lines[2])]
    assert '"Lumberjacks (Version 1)"' in name and "stem" in name and "skilled-military" in name
    assert "expected a string" in found[("drawSize", lines[3])]
    assert "listed twice" in found[("drawNumber", lines[4])]
    assert f"line {lines[0]}" in found[("drawNumber", lines[4])]


def test_not_json() -> None:
    (problem,) = problems_of('{"rounds": [\n  {"drawNumber": "1",}\n]}')
    assert problem.line == 2 and "not valid JSON" in problem.message


@pytest.mark.parametrize("text", [
    "[]", '"rounds"', "{}", '{"rounds": {}}', '{"rounds": []}', "null", "",
])
def test_wrong_shape(text: str) -> None:
    (problem,) = problems_of(text)
    assert "rounds" in problem.field or "JSON" in problem.message


def test_record_not_an_object_and_bad_values() -> None:
    text = feed_text(record("1", drawDate="2015-1-31"), "oops",
                     record("3", drawNumberURL="no link here"),
                     record("../4"))
    fields = sorted(p.field for p in problems_of(text))
    assert fields == ["drawDate", "drawNumber", "drawNumberURL", "rounds"]


def test_bytes_and_files(tmp_path: Path) -> None:
    assert problems_of(b"\xff\xfe\x00junk")[0].message.startswith("not UTF-8")
    assert parse_feed(feed_text(record()).encode("utf-8-sig"), "x")[0].round == "254"
    with pytest.raises(BuildError) as info:
        load_feed(tmp_path / "absent.json")
    assert "cannot read" in str(info.value)


@pytest.mark.parametrize("text", ["[" * 100_000, '{"rounds": [' + "1" * 5000 + "]}",
                                  '{"rounds": [NaN]}', '{"rounds": [{"drawNumber": "1"}]}'])
def test_hostile_json_is_a_build_error(text: str) -> None:
    assert problems_of(text)


hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(st.one_of(st.text(), st.binary()))
def test_fuzz_arbitrary_input(data: str | bytes) -> None:
    try:
        assert isinstance(parse_feed(data, "fuzz.json"), tuple)
    except BuildError as exc:
        assert exc.problems


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(st.sampled_from(sorted(record())), st.one_of(st.text(), st.integers(),
                                                              st.none(), st.lists(st.text())))
def test_fuzz_one_field(key: str, value: Any) -> None:
    text = feed_text(record(**{key: value}))
    try:
        rounds = parse_feed(text, "fuzz.json")
    except BuildError as exc:
        assert all(p.path == "fuzz.json" for p in exc.problems)
    else:
        assert len(rounds) == 1 and isinstance(rounds[0].invitations, int)
