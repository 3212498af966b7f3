"""Draw posts from IRCC's feed: create the missing ones, keep the existing ones in step.

Every round gets one Markdown post in content/draws/ whose front matter is the draw front
matter documented in README.md ("Content"). Editors write the body and may add keys, retitle
a post or rename its file, so an existing post is found by its `round` key, only its front
matter is rewritten, and only when IRCC's figures differ from it. IRCC does correct published
rounds (round 238's cut-off went from 507 to 490), so a changed headline figure is recorded
under `corrections` and dates the post `updated`, which the page shows to readers.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import yaml

from eesite.categories import BY_SLUG
from eesite.errors import BuildError, Problem
from eesite.ircc import Round, load_feed, round_sort_key

# the build's loader (impossible dates are errors, not crashes) and its words for YAML errors
from eesite.load import TOO_DEEP, Loader, yaml_reason

# Keys the importer writes, in the spec's order. Editor keys follow them.
KEY_ORDER: tuple[str, ...] = (
    "title", "date", "summary", "tags", "round", "draw_date", "draw_name", "category",
    "list_version", "programs", "invitations", "crs_cutoff", "round_time", "tie_break",
    "distribution", "ircc_url", "data_notes", "corrections", "updated",
)
# Keys whose value comes straight from the feed (compared on every import).
FEED_KEYS: tuple[str, ...] = (
    "draw_date", "draw_name", "category", "list_version", "programs", "invitations",
    "crs_cutoff", "round_time", "tie_break", "distribution", "ircc_url", "data_notes",
)
# Figures readers rely on: a change to one is a correction shown on the page.
HEADLINE_KEYS: tuple[str, ...] = (
    "invitations", "crs_cutoff", "draw_date", "round_time", "tie_break",
)

_OPEN = re.compile(r"\A---[ \t]*(\r?\n)")
_CLOSE = re.compile(r"^---[ \t]*(?:\r?\n|\Z)", re.MULTILINE)
_PLAIN = re.compile(r"[a-z][a-z0-9_-]*")


@dataclass(frozen=True)
class ImportReport:
    """What an import did: round ids per outcome, plus one line per changed field."""

    created: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    changes: tuple[str, ...]  # e.g. "round 238: crs_cutoff 507 → 490"
    not_in_feed: tuple[str, ...] = ()  # posts whose round the feed no longer lists


@dataclass(frozen=True)
class _Post:
    path: Path
    raw: bytes
    meta: dict[str, Any]
    body: str  # everything after the closing ---, untouched
    newline: str  # the front matter's line ending, kept on rewrite


def import_feed(feed_path: str | Path, draws_dir: str | Path, now: datetime) -> ImportReport:
    """Bring the posts in `draws_dir` in line with the feed; `now` dates any correction.

    Writes nothing at all when the feed or any existing post has a problem (BuildError).
    """
    rounds = load_feed(feed_path)
    draws = Path(draws_dir)
    now = (now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)).replace(microsecond=0)
    posts = _read_posts(draws)

    writes: dict[Path, bytes] = {}
    created: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    changes: list[str] = []
    problems: list[Problem] = []
    for rnd in rounds:
        post = posts.get(rnd.round)
        if post is None:
            path = draws / filename(rnd)
            if path.exists():
                problems.append(Problem(str(path), 0, "round", f"round {rnd.round} would be "
                                        "written here, but this file is a post for another "
                                        "round; rename it"))
                continue
            writes[path] = render(new_front_matter(rnd), "", "\n")
            created.append(rnd.round)
            continue
        meta, lines = updated_front_matter(post.meta, rnd, now)
        if not lines:
            unchanged.append(rnd.round)
            continue
        data = render(meta, post.body, post.newline)
        if data != post.raw:
            writes[post.path] = data
        updated.append(rnd.round)
        changes.extend(lines)
    if problems:
        raise BuildError(problems)

    if writes:
        draws.mkdir(parents=True, exist_ok=True)
    for path, data in writes.items():
        _write_atomic(path, data)
    in_feed = {r.round for r in rounds}
    return ImportReport(
        created=tuple(created), updated=tuple(updated), unchanged=tuple(unchanged),
        changes=tuple(changes),
        not_in_feed=tuple(sorted((r for r in posts if r not in in_feed), key=round_sort_key)),
    )


def format_report(report: ImportReport) -> str:
    """A short summary for the command line: the changes in full, the rest counted."""
    out: list[str] = []
    if report.created:
        ids = report.created
        listed = ", ".join(ids) if len(ids) <= 10 else f"{ids[0]} … {ids[-1]}"
        out.append(f"created {_count(len(ids))}: rounds {listed}")
    if report.updated:
        out.append(f"updated {_count(len(report.updated))}:")
        out.extend(f"  {line}" for line in report.changes)
    out.append(f"unchanged: {_count(len(report.unchanged))}")
    if report.not_in_feed:
        out.append(f"not in the feed (left alone): rounds {', '.join(report.not_in_feed)}")
    return "\n".join(out)


def _count(n: int) -> str:
    return f"{n} post" if n == 1 else f"{n} posts"


# --- front matter values -------------------------------------------------------------------


def filename(rnd: Round) -> str:
    """`0254-2023-07-05-stem.md`, `0091a-2018-05-30-fst.md`."""
    num, suffix = round_sort_key(rnd.round)
    return f"{num:04d}{suffix}-{rnd.draw_date.isoformat()}-{rnd.category}.md"


def make_title(round_id: str, invitations: int, category: str, crs_cutoff: int) -> str:
    label = BY_SLUG[category].label
    return (f"Express Entry draw #{round_id}: {invitations:,} invitations ({label}), "
            f"CRS {crs_cutoff}")


def make_summary(invitations: int, crs_cutoff: int, draw_name: str) -> str:
    return f"{invitations:,} invitations · CRS {crs_cutoff} · {draw_name}"


def publication_date(round_time: datetime | None, draw_date: date) -> datetime:
    """The post's date: the round's time, or noon UTC on the round date when unknown."""
    return round_time or datetime.combine(draw_date, time(12), UTC)


def feed_fields(rnd: Round) -> dict[str, Any]:
    """The feed-owned keys for a round, as they appear in front matter (optional ones omitted)."""
    fields: dict[str, Any] = {
        "draw_date": rnd.draw_date,
        "draw_name": rnd.draw_name,
        "category": rnd.category,
        "list_version": rnd.list_version,
        "programs": rnd.programs,
        "invitations": rnd.invitations,
        "crs_cutoff": rnd.crs_cutoff,
        "round_time": rnd.round_time,
        "tie_break": rnd.tie_break,
        "distribution": None if rnd.distribution is None else {
            "as_of": rnd.distribution.as_of,
            "bands": {_Quoted(k): v for k, v in rnd.distribution.bands},
        },
        "ircc_url": rnd.ircc_url,
        "data_notes": list(rnd.data_notes) or None,
    }
    return {k: v for k, v in fields.items() if v is not None}


def new_front_matter(rnd: Round) -> dict[str, Any]:
    """Front matter for a round that has no post yet."""
    meta: dict[str, Any] = {
        "title": make_title(rnd.round, rnd.invitations, rnd.category, rnd.crs_cutoff),
        "date": publication_date(rnd.round_time, rnd.draw_date),
        "summary": make_summary(rnd.invitations, rnd.crs_cutoff, rnd.draw_name),
        "tags": [],
        "round": rnd.round,
    }
    meta.update(feed_fields(rnd))
    return meta


def updated_front_matter(old: dict[str, Any], rnd: Round,
                         now: datetime) -> tuple[dict[str, Any], list[str]]:
    """(front matter after applying the feed, one line per changed feed field).

    No lines means the post already agrees with the feed and must not be rewritten.
    """
    new = feed_fields(rnd)
    changed = [k for k in FEED_KEYS if not _same(old.get(k), new.get(k))]
    if not changed:
        return old, []
    lines = [f"round {rnd.round}: {k} {_show(old.get(k))} → {_show(new.get(k))}"
             if k not in ("distribution", "data_notes") else f"round {rnd.round}: {k} updated"
             for k in changed]

    meta: dict[str, Any] = {}
    generated = _generated(old)  # what the importer would have written from the old figures
    fresh = new_front_matter(rnd)
    for key in ("title", "date", "summary"):
        keep = key in old and (generated is None or not _same(old[key], generated[key]))
        meta[key] = old[key] if keep else fresh[key]
    meta["tags"] = old.get("tags", [])
    meta["round"] = rnd.round
    meta.update(new)
    corrections = list(old.get("corrections") or [])
    headline = [k for k in HEADLINE_KEYS if k in changed]
    when = now.date()
    corrections.extend({"date": when, "field": k, "old": _as_correction(old.get(k)),
                        "new": _as_correction(new.get(k))} for k in headline)
    if corrections:
        meta["corrections"] = corrections
    if headline:
        meta["updated"] = now
    elif "updated" in old:
        meta["updated"] = old["updated"]
    meta.update((k, v) for k, v in old.items() if k not in KEY_ORDER)
    return meta, lines


def _generated(old: dict[str, Any]) -> dict[str, Any] | None:
    """Title/date/summary as generated from the post's current figures, None if unreadable."""
    try:
        invitations, crs = int(old["invitations"]), int(old["crs_cutoff"])
        return {
            "title": make_title(str(old["round"]), invitations, old["category"], crs),
            "date": publication_date(old.get("round_time"), old["draw_date"]),
            "summary": make_summary(invitations, crs, old["draw_name"]),
        }
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _same(a: Any, b: Any) -> bool:
    """Equal as front matter values (a datetime never equals a date or a string)."""
    if type(a) is not type(b) and not (isinstance(a, datetime) and isinstance(b, datetime)):
        return False
    try:
        return bool(a == b)
    except TypeError:  # naive vs aware datetimes
        return False


def _as_correction(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, date):
        return value.isoformat()
    return f'"{value}"' if isinstance(value, str) else str(value)


# --- reading and writing posts -------------------------------------------------------------


def split_front_matter(text: str) -> tuple[str, str, str] | None:
    """(YAML text, body, newline) of a post, or None when it has no --- block."""
    opening = _OPEN.match(text)
    if opening is None:
        return None
    closing = _CLOSE.search(text, opening.end())
    if closing is None:
        return None
    return text[opening.end():closing.start()], text[closing.end():], opening.group(1)


def _read_posts(draws: Path) -> dict[str, _Post]:
    """Every post in `draws`, keyed by its `round`; all unreadable ones raise one BuildError."""
    posts: dict[str, _Post] = {}
    problems: list[Problem] = []
    paths = sorted(draws.glob("*.md")) if draws.is_dir() else []
    for path in paths:
        where = str(path)
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(where, 0, "", f"cannot read the post: {exc}"))
            continue
        parts = split_front_matter(text)
        if parts is None:
            problems.append(Problem(where, 1, "", "expected front matter between two --- lines"))
            continue
        source, body, newline = parts
        try:
            meta = yaml.load(source, Loader=Loader)
        except RecursionError:
            problems.append(Problem(where, 2, "", TOO_DEEP))
            continue
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 2 if mark is not None else 0
            problems.append(Problem(where, line, "", yaml_reason(exc)))
            continue
        if not isinstance(meta, dict):
            problems.append(Problem(where, 2, "", "front matter must be a mapping of keys"))
            continue
        round_id = meta.get("round")
        if isinstance(round_id, int) and not isinstance(round_id, bool):
            round_id = str(round_id)
        if not isinstance(round_id, str) or not round_id.strip():
            problems.append(Problem(where, _key_line(source, "round"), "round",
                                    'missing; every draw post names its round, e.g. "254"'))
            continue
        round_id = round_id.strip()
        if round_id in posts:
            problems.append(Problem(where, _key_line(source, "round"), "round",
                                    f"round {round_id} also has a post: {posts[round_id].path}"))
            continue
        posts[round_id] = _Post(path, raw, meta, body, newline)
    if problems:
        raise BuildError(problems)
    return posts


def _key_line(source: str, key: str) -> int:
    m = re.search(rf"^{re.escape(key)}\s*:", source, re.MULTILINE)
    return source.count("\n", 0, m.start()) + 2 if m else 0


class _Dumper(yaml.SafeDumper):
    """Block style, indented lists, ISO 8601 datetimes, quoted strings."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:  # date == round_time must not become &id001
        return True


class _Quoted(str):
    """A string always written double-quoted (band keys, even "total")."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    # Identifier-like values (category slugs, field names) stay plain; everything else,
    # notably round "254" and band keys "0-300", is double-quoted.
    style = None if _PLAIN.fullmatch(data) else '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def _represent_quoted(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style='"')


def _represent_datetime(dumper: yaml.SafeDumper, data: datetime) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:timestamp", data.isoformat())


def _represent_tuple(dumper: yaml.SafeDumper, data: tuple[Any, ...]) -> yaml.Node:
    return dumper.represent_list(list(data))


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(_Quoted, _represent_quoted)
_Dumper.add_representer(datetime, _represent_datetime)
_Dumper.add_representer(tuple, _represent_tuple)


def render(meta: dict[str, Any], body: str, newline: str) -> bytes:
    """The post file: front matter in spec key order, then the body unchanged."""
    ordered = {k: meta[k] for k in KEY_ORDER if k in meta}
    ordered.update((k, v) for k, v in meta.items() if k not in ordered)
    source = yaml.dump(ordered, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                       default_flow_style=False, width=1_000_000)
    head = f"---\n{source}---\n".replace("\n", newline)
    return head.encode("utf-8") + body.encode("utf-8")


def _write_atomic(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder, so a reader never sees half a post."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

