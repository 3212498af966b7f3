"""A deterministic corpus of N realistic draw posts for the benchmark (`make bench`).

Every post has the front matter of content/draws/ (distribution, tie-break, IRCC link), about
350 words of prose, a Markdown table and a list. The same N always gives the same bytes, so
figures from two machines or two commits compare like with like.
"""

from __future__ import annotations

import argparse
import random
import shutil
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

CATEGORIES = (
    ("general", "No program specified", "Federal Skilled Worker Program, Canadian Experience "
     "Class, Federal Skilled Trades Program and Provincial Nominee Program"),
    ("cec", "Canadian Experience Class", "Canadian Experience Class"),
    ("pnp", "Provincial Nominee Program", "Provincial Nominee Program"),
    ("french", "French language proficiency (Version 1)", "Federal Skilled Worker Program, "
     "Canadian Experience Class and Federal Skilled Trades Program"),
    ("healthcare", "Healthcare occupations (Version 1)", "Federal Skilled Worker Program, "
     "Canadian Experience Class and Federal Skilled Trades Program"),
    ("stem", "STEM occupations (Version 1)", "Federal Skilled Worker Program, Canadian "
     "Experience Class and Federal Skilled Trades Program"),
    ("trades", "Trade occupations (Version 1)", "Federal Skilled Worker Program, Canadian "
     "Experience Class and Federal Skilled Trades Program"),
    ("transport", "Transport occupations (Version 1)", "Federal Skilled Worker Program, "
     "Canadian Experience Class and Federal Skilled Trades Program"),
)
BANDS = ("601-1200", "501-600", "451-500", "491-500", "481-490", "471-480", "461-470",
         "451-460", "401-450", "441-450", "431-440", "421-430", "411-420", "401-410",
         "351-400", "301-350", "0-300", "total")
WORDS = ("candidates", "invitations", "round", "score", "pool", "profile", "category",
         "program", "experience", "language", "points", "cut-off", "Canada", "permanent",
         "residence", "applicants", "draw", "week", "trend", "occupation", "French", "job",
         "offer", "provincial", "nomination", "education", "skilled", "worker", "the", "of",
         "and", "to", "in", "a", "for", "with", "than", "since", "after", "before")


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def _paragraph(rng: random.Random, words: int) -> str:
    out, left = [], words
    while left > 0:
        n = min(left, rng.randint(8, 18))
        out.append(_sentence(rng, n))
        left -= n
    return " ".join(out)


def _bands(rng: random.Random) -> dict[str, int]:
    parts = {b: rng.randint(300, 20000) for b in BANDS if b not in ("451-500", "401-450", "total")}
    parts["451-500"] = sum(parts[b] for b in BANDS[3:8])
    parts["401-450"] = sum(parts[b] for b in BANDS[9:14])
    parts["total"] = sum(parts[b] for b in ("601-1200", "501-600", "451-500", "401-450",
                                           "351-400", "301-350", "0-300"))
    return {b: parts[b] for b in BANDS}


START = date(1970, 1, 1)  # round n is two days after it: 10,000 rounds end in 2024


def draw_post(n: int, rng: random.Random, start: date) -> tuple[str, str]:
    """(file name, text) of round `n`."""
    slug, name, programs = CATEGORIES[rng.randrange(len(CATEGORIES))]
    day = start + timedelta(days=2 * n)
    moment = datetime(day.year, day.month, day.day, 14, rng.randrange(60), rng.randrange(60),
                      tzinfo=timezone.utc)
    tie = moment - timedelta(days=rng.randint(20, 200), seconds=rng.randrange(86400))
    invitations, crs = rng.randint(100, 7000), rng.randint(300, 800)
    bands = "".join(f'    "{b}": {v}\n' for b, v in _bands(rng).items())
    title = f"Express Entry draw #{n}: {invitations:,} invitations ({slug}), CRS {crs}"
    rows = "".join(f"| {b} | {rng.randint(100, 20000):,} |\n" for b in BANDS[:6])
    items = "".join(f"- {_sentence(rng, rng.randint(6, 12))}\n" for _ in range(5))
    body = (f"{_paragraph(rng, 110)}\n\n## What the numbers say\n\n{_paragraph(rng, 90)}\n\n"
            f"| CRS range | Candidates |\n|---|---|\n{rows}\n"
            f"## For candidates\n\n{items}\n{_paragraph(rng, 90)}\n")
    text = f"""---
title: "{title}"
date: {moment.isoformat()}
summary: "{invitations:,} invitations · CRS {crs} · {name}"
tags: [{rng.choice(('analysis', 'news', 'pool'))}]
round: "{n}"
draw_date: {day.isoformat()}
draw_name: "{name}"
category: {slug}
programs: "{programs}"
invitations: {invitations}
crs_cutoff: {crs}
round_time: {moment.isoformat()}
tie_break: {tie.isoformat()}
distribution:
  as_of: {(day - timedelta(days=2)).isoformat()}
  bands:
{bands}ircc_url: "https://www.canada.ca/en/immigration-refugees-citizenship/corporate/mandate/\
policies-operational-instructions-agreements/ministerial-instructions/express-entry-rounds/\
invitations.html?q={n}"
---

{body}"""
    return f"{n:05d}-{day.isoformat()}-{slug}.md", text


SETTINGS = """[project]
name = "bench-site"

[tool.eesite]
title = "Benchmark Draws"
base_url = "https://bench.example.org"
"""


TRASH = ".trash"


def set_aside(*paths: Path) -> None:
    """Move folders a benchmark is done with into `.trash` beside them, for `empty_trash` to
    delete once everything is measured. Deleting them just before a cold build would bill the
    build for the file system: on this machine's ext4 the inode allocator skips the inodes freed
    in the last minute or more (`perf`: `recently_deleted`), and after tens of thousands of
    deletions a 10,000-post build spent about 12 s more in the kernel creating its files."""
    for path in paths:
        if path.exists():
            trash = path.parent / TRASH
            trash.mkdir(exist_ok=True)
            path.rename(trash / f"{path.name}-{time.time_ns()}")


def empty_trash(*folders: Path) -> None:
    """Delete what `set_aside` moved away in these folders (when no measurement runs)."""
    for folder in folders:
        for trash in (folder / TRASH, *folder.glob(f"*/{TRASH}")):
            shutil.rmtree(trash, ignore_errors=True)


def generate(root: Path, count: int, templates: Path, seed: int = 6) -> Path:
    """A site at `root` with `count` draw posts and the project's templates."""
    set_aside(root)
    draws = root / "content" / "draws"
    draws.mkdir(parents=True)
    shutil.copytree(templates, root / "templates")
    (root / "pyproject.toml").write_text(SETTINGS, encoding="utf-8")
    rng = random.Random(seed)
    for n in range(1, count + 1):
        name, text = draw_post(n, rng, START)
        (draws / name).write_text(text, encoding="utf-8")
    return root


def add_round(root: Path, count: int) -> Path:
    """Publish round `count` + 1 in a site of `count` rounds (the newest, as an editor adds
    one); returns its file."""
    name, text = draw_post(count + 1, random.Random(count), START)
    path = root / "content" / "draws" / name
    path.write_text(text, encoding="utf-8")
    return path


def main() -> None:
    here = Path(__file__).resolve().parent
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("count", type=int)
    p.add_argument("root", type=Path)
    args = p.parse_args()
    generate(args.root, args.count, here.parent / "templates")


if __name__ == "__main__":
    main()
