"""IRCC's official Express Entry rounds feed, parsed into typed, validated records.

The feed (`ee_rounds_123_en.json`) fills canada.ca's round pages by script, so it is the
primary record of every draw. It is also hand-typed: every value is a string, timestamps come
in dozens of spellings, and a few records contradict themselves. This module turns it into
`Round` records the rest of the site can trust, keeps IRCC's published values where they are
merely odd, explains the few it has to override in `data_notes`, and reports every
unreadable value at once as a `BuildError` instead of failing on the first.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from eesite.categories import BY_SLUG, category_of, list_version_of
from eesite.errors import BuildError, Problem

SITE = "https://www.canada.ca"

# Pool distribution bands in dd1..dd18 order (dd3 and dd9 are subtotals, dd18 the total).
BAND_LABELS: tuple[str, ...] = (
    "601-1200", "501-600", "451-500", "491-500", "481-490", "471-480", "461-470", "451-460",
    "401-450", "441-450", "431-440", "421-430", "411-420", "401-410", "351-400", "301-350",
    "0-300", "total",
)
BAND_KEYS: tuple[str, ...] = tuple(f"dd{i}" for i in range(1, 19))

# Keys this module reads; the feed's other keys (drawDateFull, mitext, DrawText1) are
# presentation only, so their absence is not an error.
REQUIRED_KEYS: tuple[str, ...] = (
    "drawNumber", "drawNumberURL", "drawDate", "drawName", "drawSize", "drawCRS",
    "drawText2", "drawDateTime", "drawCutOff", "drawDistributionAsOn", *BAND_KEYS,
)

_MONTHS: dict[str, int] = {}
for _i, _name in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"), start=1):
    _MONTHS[_name] = _i
    _MONTHS[_name[:3]] = _i
_MONTHS["sept"] = 9
MONTH_NAMES = ("", "January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")

# One pattern for every timestamp spelling seen in the feed, e.g. "July 05, 2023 13:38:22 UTC",
# "May 26, 2017, at 16:35:48 UTC", "March 23,2023 12:27:59 UTC", "May 31, 2024 at12:48:30 UTC",
# "July 3rd 2026 at ...", "March 02. 2024 at ...", "August 15, 2024 at 2024-08-15 15:11:54 UTC",
# "October 25, 2023 at 15:48:39 AM UTC", "October 7 at 16:38:21 UTC" (no year), no "UTC".
# [0-9] rather than \d: \d also matches non-ASCII digits.
_STAMP = re.compile(
    r"""
    (?P<month>[a-z]+)\.?\s*
    (?P<day>[0-9]{1,2})(?![0-9])(?:st|nd|rd|th)?\s*[.,]?\s*
    (?:(?P<year>[0-9]{4})(?![0-9])\s*,?\s*)?
    (?:at)?\s*
    (?:(?P<iso>[0-9]{4}-[0-9]{2}-[0-9]{2})\s+)?
    (?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})
    \s*(?P<ampm>[ap]\.?m\.?)?
    \s*(?:utc)?
    """,
    re.VERBOSE | re.IGNORECASE,
)
_LONG_DATE = re.compile(
    r"(?P<month>[a-z]+)\.?\s*(?P<day>[0-9]{1,2})(?![0-9])(?:st|nd|rd|th)?\s*[.,]?\s*"
    r"(?P<year>[0-9]{4})",
    re.IGNORECASE,
)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ROUND_ID = re.compile(r"(?P<num>[0-9]{1,6})(?P<suffix>[a-z]?)")
_NUMBER = re.compile(r"[0-9]{1,12}")
_HREF = re.compile(r"""href\s*=\s*(?:'([^']*)'|"([^"]*)")""", re.IGNORECASE)
_DRAW_NUMBER_AT = re.compile(r'"drawNumber"\s*:\s*"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Distribution:
    """The CRS score distribution of the pool that IRCC published with a round."""

    as_of: date
    bands: tuple[tuple[str, int], ...]  # 18 (label, count) pairs in dd1..dd18 order


@dataclass(frozen=True)
class Round:
    """One round of invitations, as IRCC published it, with typed values."""

    round: str  # "254", or "91a"/"91b": never an int
    draw_date: date
    draw_name: str
    category: str
    list_version: str | None
    programs: str
    invitations: int
    crs_cutoff: int
    round_time: datetime | None  # UTC; None when IRCC's value contradicts draw_date
    tie_break: datetime | None  # UTC; None when not published (rounds 1-76)
    distribution: Distribution | None  # None when IRCC published all zeros
    ircc_url: str
    data_notes: tuple[str, ...] = ()


def round_sort_key(round_id: str) -> tuple[int, str]:
    """Natural order of round ids: 9 < 91a < 91b < 100."""
    m = _ROUND_ID.fullmatch(round_id)
    return (int(m["num"]), m["suffix"]) if m else (0, round_id)


def load_feed(path: str | Path) -> tuple[Round, ...]:
    """Read and parse the feed file at `path` (raises BuildError, never anything else)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise BuildError([Problem(str(path), 0, "", f"cannot read the feed: {exc}")]) from None
    return parse_feed(data, str(path))


def parse_feed(text: str | bytes, path: str) -> tuple[Round, ...]:
    """Parse the feed's JSON text into rounds sorted oldest first (draw_date, then round).

    Collects every problem in the feed and raises them together as one BuildError.
    """
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise BuildError([Problem(path, 0, "", f"not UTF-8 text: {exc}")]) from None
    duplicate_keys: list[str] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in pairs:
            if key in obj:
                duplicate_keys.append(key)
            obj[key] = value
        return obj

    try:
        data = json.loads(text, object_pairs_hook=pairs_hook)
    except json.JSONDecodeError as exc:
        raise BuildError([Problem(path, exc.lineno, "", f"not valid JSON: {exc.msg}")]) from None
    except (ValueError, RecursionError) as exc:  # e.g. a 5,000-digit number, deep nesting
        raise BuildError([Problem(path, 0, "", f"not a usable JSON feed: {exc}")]) from None
    if not isinstance(data, dict) or not isinstance(data.get("rounds"), list):
        found = type(data).__name__
        raise BuildError([Problem(path, 1, "rounds", "expected a JSON object with a "
                                  f'"rounds" array (IRCC\'s feed shape), got a {found}')])
    records: list[Any] = data["rounds"]
    if not records:
        raise BuildError([Problem(path, 1, "rounds", "the feed lists no rounds")])

    problems: list[Problem] = []
    if duplicate_keys:
        problems.append(Problem(path, 0, duplicate_keys[0], "key repeated within one JSON "
                                f"object ({len(duplicate_keys)} repeated key(s) in all)"))
    lines = _draw_number_lines(text, records)
    rounds: list[Round] = []
    first_line: dict[str, int] = {}
    for index, record in enumerate(records):
        line = lines[index]
        number = record.get("drawNumber") if isinstance(record, dict) else None
        if isinstance(number, str) and number.strip():
            number = number.strip()
            if number in first_line:  # checked even when either record has other problems
                where = f" (line {first_line[number]})" if first_line[number] else ""
                problems.append(Problem(path, line, "drawNumber", f"round {number}: "
                                        f"listed twice; first listed{where}"))
                continue
            first_line[number] = line
        parsed = _parse_record(record, index, path, line, problems)
        if parsed is not None:
            rounds.append(parsed)
    if problems:
        raise BuildError(problems)
    rounds.sort(key=lambda r: (r.draw_date, round_sort_key(r.round)))
    return tuple(rounds)


def _draw_number_lines(text: str, records: list[Any]) -> list[int]:
    """The line of each record's "drawNumber" in the text (0 when it cannot be told)."""
    found: list[tuple[int, str]] = []
    line, last = 1, 0
    for m in _DRAW_NUMBER_AT.finditer(text):
        line += text.count("\n", last, m.start())
        last = m.start()
        try:
            value = json.loads(f'"{m.group(1)}"')
        except ValueError:
            value = m.group(1)
        found.append((line, value))
    result: list[int] = []
    for index, record in enumerate(records):
        number = record.get("drawNumber") if isinstance(record, dict) else None
        if len(found) == len(records) and found[index][1] == number:
            result.append(found[index][0])
        else:
            result.append(next((ln for ln, v in found if v == number and number), 0))
    return result


def _parse_record(record: Any, index: int, path: str, line: int,
                  problems: list[Problem]) -> Round | None:
    """One feed record as a Round, or None after adding its problems to `problems`."""
    if not isinstance(record, dict):
        problems.append(Problem(path, line, "rounds", f"record {index + 1}: expected a JSON "
                                f"object, got a {type(record).__name__}"))
        return None
    raw_id = record.get("drawNumber")
    who = f"round {raw_id.strip()}" if isinstance(raw_id, str) and raw_id.strip() \
        else f"record {index + 1}"
    start = len(problems)

    def bad(field: str, message: str) -> None:
        problems.append(Problem(path, line, field, f"{who}: {message}"))

    for key in REQUIRED_KEYS:
        if key not in record:
            bad(key, "missing")
        elif not isinstance(record[key], str):
            found = record[key]
            shown = repr(found) if isinstance(found, int | float | None) else \
                f"a JSON {type(found).__name__}"
            bad(key, f"expected a string, got {shown[:40]}")
    if len(problems) > start:
        return None
    value = {key: record[key].strip() for key in REQUIRED_KEYS}

    round_id = value["drawNumber"]
    if not _ROUND_ID.fullmatch(round_id):
        bad("drawNumber", f'expected a round number like "254" or "91a", got "{round_id}"')
    draw_date = _iso_date(value["drawDate"])
    if draw_date is None:
        bad("drawDate", f'expected a date like "2023-07-05", got "{value["drawDate"]}"')
    draw_name = " ".join(value["drawName"].split())
    category = category_of(draw_name)
    if category is None:
        bad("drawName", f'unknown draw name "{draw_name}" (matches no category; known '
                        f"categories: {', '.join(BY_SLUG)}); add a rule to eesite/categories.py")
    invitations = _number(value["drawSize"], "drawSize", bad)
    crs_cutoff = _number(value["drawCRS"], "drawCRS", bad)
    ircc_url = _url(record["drawNumberURL"], bad)
    if not value["drawText2"]:
        bad("drawText2", "empty; expected the programs the round covered")

    counts = [_number(value[key], key, bad) for key in BAND_KEYS]
    distribution = None
    if counts[-1]:  # all-zero distributions (before round 214 and a few after) mean "none"
        as_of = _long_date(value["drawDistributionAsOn"])
        if as_of is None:
            bad("drawDistributionAsOn", "expected a date like \"August 3, 2026\", got "
                f'"{value["drawDistributionAsOn"]}"')
        else:
            distribution = Distribution(as_of, tuple(zip(BAND_LABELS, counts, strict=True)))

    notes: list[str] = []
    round_time = tie_break = None
    if draw_date is not None:
        round_time = _stamp(value["drawDateTime"], "drawDateTime", "the time of the round",
                            draw_date + timedelta(days=1), notes, bad)
        if round_time is not None and round_time.date() not in (
                draw_date, draw_date + timedelta(days=1)):
            notes.append(f'IRCC published the time of the round as "{value["drawDateTime"]}", '
                         f"which does not match the round date ({draw_date.isoformat()}); "
                         "the round date is used.")
            round_time = None
        if value["drawCutOff"]:
            tie_break = _stamp(value["drawCutOff"], "drawCutOff", "the tie-breaking time",
                               draw_date, notes, bad)
        latest = round_time or datetime.combine(draw_date + timedelta(days=2), time(), UTC)
        if tie_break is not None and tie_break > latest:  # e.g. round 335's "2025" in 2024
            notes.append(f'IRCC published the tie-breaking time as "{value["drawCutOff"]}", '
                         "which is after the round; it is shown as published.")
    if len(problems) > start:
        return None
    assert draw_date is not None and category is not None
    assert invitations is not None and crs_cutoff is not None and ircc_url is not None
    return Round(
        round=round_id, draw_date=draw_date, draw_name=draw_name, category=category,
        list_version=list_version_of(draw_name), programs=value["drawText2"],
        invitations=invitations, crs_cutoff=crs_cutoff, round_time=round_time,
        tie_break=tie_break, distribution=distribution, ircc_url=ircc_url,
        data_notes=tuple(notes),
    )


def _number(text: str, field: str, bad: Any) -> int | None:
    """'5,000', '5 000' (also non-breaking spaces) -> 5000."""
    digits = "".join(ch for ch in text if ch not in ", \u00a0\u202f\u2009")
    if _NUMBER.fullmatch(digits):
        return int(digits)
    bad(field, f'expected a number like "5,000", got "{text}"')
    return None


def _url(html: str, bad: Any) -> str | None:
    """The round page's address, from the href of the feed's <a> element."""
    m = _HREF.search(html)
    href = (m.group(1) if m and m.group(1) is not None else m.group(2) if m else "").strip()
    if href.startswith("/") and not href.startswith("//"):
        return SITE + href
    if href.startswith(SITE + "/"):
        return href
    bad("drawNumberURL", f'expected a link like <a href=\'/en/...\'>, got "{html[:80]}"')
    return None


def _iso_date(text: str) -> date | None:
    if not _ISO_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _long_date(text: str) -> date | None:
    """'August 3, 2026' (or ISO) -> date."""
    if _ISO_DATE.fullmatch(text):
        return _iso_date(text)
    m = _LONG_DATE.fullmatch(text)
    month = _MONTHS.get(m["month"].lower()) if m else None
    if m is None or month is None:
        return None
    try:
        return date(int(m["year"]), month, int(m["day"]))
    except ValueError:
        return None


def _stamp(text: str, field: str, what: str, limit: date, notes: list[str],
           bad: Any) -> datetime | None:
    """Parse one of IRCC's free-text UTC timestamps.

    A missing year is inferred as the latest such date not after `limit` (and noted on the
    page); an AM/PM suffix on a 24-hour value (hour > 12) is ignored.
    """
    parsed = _parse_stamp(text, limit)
    if parsed is None:
        bad(field, f'expected a time like "July 5, 2023 at 13:38:22 UTC", got "{text}"')
        return None
    stamp, inferred = parsed
    if inferred:
        notes.append(f'IRCC published {what} without a year ("{text}"); {stamp.year} is '
                     f"inferred as the latest {MONTH_NAMES[stamp.month]} {stamp.day} before "
                     "the round.")
    return stamp


def _parse_stamp(text: str, limit: date) -> tuple[datetime, bool] | None:
    """(UTC datetime, whether the year was inferred), or None when unreadable."""
    m = _STAMP.fullmatch(text.strip())
    month = _MONTHS.get(m["month"].lower()) if m else None
    if m is None or month is None:
        return None
    day, hour = int(m["day"]), int(m["hour"])
    ampm = (m["ampm"] or "").replace(".", "").lower()
    if ampm and 1 <= hour <= 12:  # a real 12-hour value; with hour > 12 the suffix is noise
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    try:
        if m["year"]:
            year = int(m["year"])
        else:  # latest year whose month/day is not after `limit` (Feb 29: look back further)
            year = next(y for y in range(limit.year, limit.year - 9, -1)
                        if _valid(y, month, day) and date(y, month, day) <= limit)
        stamp = datetime(year, month, day, hour, int(m["minute"]), int(m["second"]),
                         tzinfo=UTC)
    except (ValueError, StopIteration):
        return None
    if m["iso"] and _iso_date(m["iso"]) != stamp.date():  # "August 15, 2024 at 2024-08-15 ..."
        return None
    return stamp, not m["year"]


def _valid(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True
