"""The front-matter schema: one table of fields, each with a converter that says what it wants.

A converter returns the clean value or raises `Invalid(expected)`; `validate` turns every
failure into a Problem naming the file, line and field, so a build reports all of them at once.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timezone, tzinfo
from typing import Any

from eesite.categories import BY_SLUG
from eesite.content import BANDS, Correction, Distribution, Draw, Post
from eesite.errors import Problem, nearest

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
ROUND = re.compile(r"^[1-9][0-9]*[a-z]?$")


class Invalid(Exception):
    """A value is not what the field wants; the message says what was expected."""


# A bounded repr: YAML aliases can nest a "billion laughs" of lists in a few lines, whose
# full repr would take minutes and gigabytes just to be cut to 80 characters.
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxother = 3, 6, 6, 40


def _found(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"' if len(value) < 80 else f'"{value[:77]}..."'
    if value is None:
        return "nothing"
    if isinstance(value, date):
        return value.isoformat()
    return f"{type(value).__name__} {_REPR.repr(value)}"[:80]


def _expect(what: str, value: Any) -> Invalid:
    return Invalid(f"expected {what}, got {_found(value)}")


def text(value: Any, _tz: tzinfo) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _expect("text", value)
    return value.strip()


def optional_text(value: Any, _tz: tzinfo) -> str:
    if not isinstance(value, str):
        raise _expect("text", value)
    return value.strip()


def slug(value: Any, _tz: tzinfo) -> str:
    if not isinstance(value, str) or not SLUG.match(value):
        raise _expect("lowercase letters, digits and single hyphens (like my-post-2025)", value)
    return value


def boolean(value: Any, _tz: tzinfo) -> bool:
    if not isinstance(value, bool):
        raise _expect("true or false", value)
    return value


def integer(low: int, high: int) -> Callable[[Any, tzinfo], int]:
    def check(value: Any, _tz: tzinfo) -> int:
        if type(value) is not int or not low <= value <= high:
            raise _expect(f"an integer from {low} to {high}", value)
        return value
    return check


def day(value: Any, _tz: tzinfo) -> date:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            raise _expect("a date like 2025-07-22", value) from None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise _expect("a date like 2025-07-22", value)
    return value


def moment(value: Any, tz: tzinfo) -> datetime:
    """A date-time; a bare date is midnight and a naive time is in `tz` (like Hugo)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _expect("a date and time like 2025-07-22T14:05:00-04:00", value) from None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time())
    if not isinstance(value, datetime):
        raise _expect("a date and time like 2025-07-22T14:05:00-04:00", value)
    value = value if value.tzinfo else value.replace(tzinfo=tz)
    try:  # pages, feeds and the sitemap show it in UTC: 9999-12-31T23:00-05:00 has no UTC
        value.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        raise _expect("a date and time between the years 1 and 9999 in UTC", value) from None
    return value


def utc_moment(value: Any, _tz: tzinfo) -> datetime:
    return moment(value, timezone.utc)


def tags(value: Any, _tz: tzinfo) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(t, str) and SLUG.match(t) for t in value):
        raise _expect("a list of lowercase tags like [stem, analysis]", value)
    return tuple(dict.fromkeys(value))


def round_id(value: Any, _tz: tzinfo) -> str:
    value = str(value) if type(value) is int else value
    if not isinstance(value, str) or not ROUND.match(value):
        raise _expect('a round number such as "254" or "91a"', value)
    return value


def category(value: Any, _tz: tzinfo) -> str:
    if not isinstance(value, str) or value not in BY_SLUG:
        hint = nearest(str(value), BY_SLUG) or " (one of " + ", ".join(BY_SLUG) + ")"
        raise Invalid(f"expected a category slug, got {_found(value)}{hint}")
    return value


def url(value: Any, _tz: tzinfo) -> str:
    if not isinstance(value, str) or not re.match(r"^https?://\S+$", value):
        raise _expect("an absolute http(s) URL", value)
    return value


def notes(value: Any, _tz: tzinfo) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(n, str) and n.strip() for n in value):
        raise _expect("a list of sentences", value)
    return tuple(n.strip() for n in value)


def distribution(value: Any, tz: tzinfo) -> Distribution:
    if not isinstance(value, dict) or set(value) != {"as_of", "bands"}:
        raise _expect("a mapping with as_of and bands", value)
    bands = value["bands"]
    if not isinstance(bands, dict) or list(bands) != list(BANDS):
        keys = list(bands) if isinstance(bands, dict) else bands
        raise Invalid(f"expected bands with the 18 keys {', '.join(BANDS)} in that order, "
                      f"got {_found(keys)}")
    for band, count in bands.items():
        if type(count) is not int or count < 0:
            raise Invalid(f"expected a whole number of candidates in band {band}, "
                          f"got {_found(count)}")
    return Distribution(day(value["as_of"], tz), tuple(bands.items()))


def corrections(value: Any, tz: tzinfo) -> tuple[Correction, ...]:
    want = "a list of {date, field, old, new} mappings"
    if not isinstance(value, list):
        raise _expect(want, value)
    out = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"date", "field", "old", "new"}:
            raise _expect(want, item)
        for key in ("old", "new"):  # shown on the page: a figure, a date, a text or none
            value_ = item[key]
            if isinstance(value_, bool) or not isinstance(value_, int | float | str | date | None):
                raise _expect(f"a number, date or text as {key}", value_)
        out.append(Correction(day(item["date"], tz), text(item["field"], tz),
                              item["old"], item["new"]))
    return tuple(out)


@dataclass(frozen=True)
class Field:
    convert: Callable[[Any, tzinfo], Any]
    required: bool = False


COMMON: dict[str, Field] = {
    "title": Field(text, required=True),
    "date": Field(moment, required=True),
    "summary": Field(optional_text),
    "tags": Field(tags),
    "draft": Field(boolean),
    "updated": Field(moment),
    "slug": Field(slug),
}
DRAW: dict[str, Field] = {
    "round": Field(round_id, required=True),
    "draw_date": Field(day, required=True),
    "draw_name": Field(text, required=True),
    "category": Field(category, required=True),
    "list_version": Field(text),
    "programs": Field(text, required=True),
    "invitations": Field(integer(0, 1_000_000), required=True),
    "crs_cutoff": Field(integer(0, 1200), required=True),
    "round_time": Field(utc_moment),
    "tie_break": Field(utc_moment),
    "distribution": Field(distribution),
    "ircc_url": Field(url),
    "data_notes": Field(notes),
    "corrections": Field(corrections),
}
KINDS = {"draw": {**COMMON, **DRAW}, "post": COMMON, "page": COMMON}


def validate(meta: dict, lines: dict[str, int], body: str, source: str, kind: str,
             default_slug: str, tz: tzinfo) -> tuple[Post | None, list[Problem]]:
    """A Post from front matter, or every problem with it (then the Post is None)."""
    fields = KINDS[kind]
    clean: dict[str, Any] = {}
    problems = []
    for key, value in meta.items():
        line, name = lines.get(key, 1), str(key)  # YAML keys may be numbers, dates or null
        if key not in fields:
            if key in DRAW:
                problems.append(Problem(source, line, name,
                                        "only draw posts (in content/draws/) take this field"))
            else:
                problems.append(Problem(source, line, name, f"unknown field{nearest(name, fields)}"))
            continue
        try:
            clean[key] = fields[key].convert(value, tz)
        except Invalid as err:
            problems.append(Problem(source, line, name, str(err)))
    for key, field in fields.items():
        if field.required and key not in meta:
            problems.append(Problem(source, 1, key, "required field is missing"))
    if problems:
        return None, problems
    draw = None
    if kind == "draw":
        draw = Draw(**{k: v for k, v in clean.items() if k in DRAW})
    post = Post(
        source=source, kind=kind, slug=clean.get("slug", default_slug), title=clean["title"],
        date=clean["date"], body=body, summary=clean.get("summary", ""),
        tags=clean.get("tags", ()), draft=clean.get("draft", False),
        updated=clean.get("updated"), draw=draw,
    )
    return post, []
