"""`eesite new`: scaffold a draw or an article with every field in place, as a draft."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from pathlib import Path

from eesite.categories import BY_SLUG
from eesite.errors import BuildError, Problem


def slugify(title: str) -> str:
    """"Compétence linguistique en français!" → "competence-linguistique-en-francais"."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:80].strip("-") or "post"


DRAW_TEMPLATE = """\
---
# A new draw, as a draft: fill in IRCC's figures, then remove `draft: true`.
# (`eesite import FEED.json` writes these fields for you from IRCC's official feed.)
title: "Express Entry draw #{round}: N invitations ({label}), CRS N"
date: {now}
summary: ""
tags: []
draft: true
round: "{round}"               # a string: IRCC has "91a" and "91b"
draw_date: {day}          # the round's date (Ottawa)
draw_name: "{name}"     # IRCC's wording, e.g. "STEM occupations (Version 1)"
category: {category}             # one of: {categories}
# list_version: "2026-Version 1"  # the occupation list IRCC names, for category rounds
programs: "Federal Skilled Worker Program, Canadian Experience Class and Federal Skilled Trades Program"
invitations: 0
crs_cutoff: 0
# round_time: {day}T14:00:00+00:00   # "Date and time of round" (UTC)
# tie_break: {day}T00:00:00+00:00    # the tie-breaking rule's timestamp (UTC)
# distribution:                      # the pool's CRS distribution, when IRCC publishes it
#   as_of: {day}
#   bands: {{"601-1200": 0, "501-600": 0, ...}}  (all 18 bands, see README)
ircc_url: "https://www.canada.ca/en/immigration-refugees-citizenship/corporate/mandate/policies-operational-instructions-agreements/ministerial-instructions/express-entry-rounds/invitations.html?q={round}"
---

What happened in this round, in your words.
"""

POST_TEMPLATE = """\
---
title: "{title}"
date: {now}
summary: ""
tags: []
draft: true
# slug: {slug}      # the URL is /posts/{slug}/
# updated: {now}
---

Write here.
"""


def _create(path: Path, text: str) -> Path:
    if path.exists():
        raise BuildError([Problem(str(path), 0, "", "already exists; not overwriting it")])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8") as handle:
        handle.write(text)
    return path


def new_draw(root: Path, round_id: str, day: date, category: str, now: datetime) -> Path:
    if category not in BY_SLUG:
        raise BuildError([Problem("--category", 0, "category",
                                  f"expected one of {', '.join(BY_SLUG)}, got {category!r}")])
    number = re.match(r"(\d+)(.*)", round_id)
    stem = f"{int(number[1]):04d}{number[2]}" if number else round_id
    text = DRAW_TEMPLATE.format(round=round_id, label=BY_SLUG[category].label, now=now.isoformat(),
                                day=day.isoformat(), name=BY_SLUG[category].title,
                                category=category, categories=", ".join(BY_SLUG))
    return _create(root / "content" / "draws" / f"{stem}-{day.isoformat()}-{category}.md", text)


def new_post(root: Path, title: str, now: datetime) -> Path:
    slug = slugify(title)
    text = POST_TEMPLATE.format(title=title.replace("\\", "\\\\").replace('"', '\\"'),
                                now=now.isoformat(timespec="seconds"), slug=slug)
    return _create(root / "content" / "posts" / f"{slug}.md", text)
