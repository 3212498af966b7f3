"""Site settings: one typed, immutable record read from `[tool.eesite]` in pyproject.toml.

Like Zola's config, unknown keys are errors (with a did-you-mean hint) rather than silently
ignored, so a typo such as `post_per_page` cannot quietly fall back to a default.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from eesite.errors import BuildError, Problem, nearest


@dataclass(frozen=True)
class Settings:
    """Every setting with its default; README.md ("Settings") documents each one."""

    title: str = "Express Entry Draws"
    description: str = "Every Express Entry round of invitations, from IRCC's official record."
    base_url: str = "http://127.0.0.1:8000"
    language: str = "en-CA"
    timezone: str = "America/Toronto"
    posts_per_page: int = 10
    rounds_per_page: int = 500  # rows of each page of the archive of every round (/draws/)
    feed_length: int = 50
    feed_full_content: bool = True
    # RFC 4151 tagging entity ("domain,date") of the feeds' permanent item ids. Empty: the host
    # of the base_url written in pyproject.toml and 2015, the year of the first round.
    tag_authority: str = ""
    max_post_bytes: int = 5_000_000

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def tagging_entity(self) -> str:
        """"example.org,2015": the start of every permanent feed id (see `tag_authority`)."""
        host = (urlsplit(self.base_url).hostname or "localhost").lower()
        return self.tag_authority or f"{host},2015"

    def absolute(self, url: str) -> str:
        """An absolute URL for a site path such as "/draws/254/"."""
        return self.base_url.rstrip("/") + url


TAG_AUTHORITY = re.compile(r"^[a-z0-9.\-]+,\d{4}(-\d\d(-\d\d)?)?$")
FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
_TYPES = {"str": str, "int": int, "bool": bool}


def _line_of(text: str, key: str) -> int:
    """The line of `key = ...` inside the [tool.eesite] table, for error messages."""
    in_table = False
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            in_table = stripped == "[tool.eesite]"
        elif in_table and re.match(rf"{re.escape(key)}\s*=", stripped):
            return number
    return 0


def validate(values: dict, path: str = "pyproject.toml", text: str = "") -> Settings:
    """Settings from a mapping of raw values; every bad key or value is a Problem."""
    problems: list[Problem] = []
    clean = {}
    for key, value in values.items():
        line = _line_of(text, key)
        field = FIELDS.get(key)
        if field is None:
            hint = nearest(key, FIELDS)
            problems.append(Problem(path, line, key, f"unknown setting{hint}"))
            continue
        expected = _TYPES[str(field.type)]
        if type(value) is not expected:
            problems.append(Problem(path, line, key,
                                    f"expected {field.type}, got {type(value).__name__} {value!r}"))
            continue
        clean[key] = value
    settings = Settings(**clean)
    for key, ok, want in (
        ("base_url", re.match(r"^https?://[^/\s]+(/\S*)?$", settings.base_url), "an http(s) URL"),
        ("posts_per_page", settings.posts_per_page > 0, "a positive number"),
        ("rounds_per_page", settings.rounds_per_page > 0, "a positive number"),
        ("feed_length", settings.feed_length > 0, "a positive number"),
        ("max_post_bytes", settings.max_post_bytes > 0, "a positive number"),
        ("tag_authority", not settings.tag_authority or TAG_AUTHORITY.match(settings.tag_authority),
         'a lowercase domain and a date, such as "example.org,2026"'),
    ):
        if not ok:
            value = getattr(settings, key)
            problems.append(Problem(path, _line_of(text, key), key, f"expected {want}, got {value!r}"))
    try:
        settings.tz  # noqa: B018 - validates the zone name
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(Problem(path, _line_of(text, "timezone"), "timezone",
                                f'expected an IANA time zone such as "America/Toronto", '
                                f"got {settings.timezone!r}"))
    if problems:
        raise BuildError(problems)
    return settings


def load_settings(root: Path, **overrides) -> Settings:
    """Settings of the site at `root`, with command-line overrides applied last."""
    path = root / "pyproject.toml"
    text = path.read_text(encoding="utf-8-sig") if path.is_file() else ""
    try:
        table = tomllib.loads(text).get("tool", {}).get("eesite", {})
    except tomllib.TOMLDecodeError as err:
        raise BuildError([Problem("pyproject.toml", getattr(err, "lineno", 0), "",
                                  f"not valid TOML: {err}")]) from None
    values = {**table, **{k: v for k, v in overrides.items() if v is not None}}
    if "tag_authority" not in values and isinstance(table.get("base_url"), str):
        # from the site's own base_url, so that building with --base-url keeps every feed id
        values["tag_authority"] = Settings(base_url=table["base_url"]).tagging_entity
    return validate(values, "pyproject.toml", text)
