"""Draw categories: the fixed vocabulary behind IRCC's free-text draw names.

IRCC's feed names a round's type in drifting wording ("No Program Specified" until 2023,
"General" after; "(Version 1)" then ", 2026-Version 2"). The site files every draw under one
stable slug and keeps the official wording beside it, so a category page lists every draw of
that kind whatever IRCC called it that year.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    slug: str
    label: str  # short name for tables and badges
    title: str  # full name for headings
    kind: str  # "general", "program" (one Express Entry program) or "category" (category-based)
    blurb: str


CATEGORIES: tuple[Category, ...] = (
    Category("general", "General", "General (all programs)", "general",
             "Rounds open to candidates of every Express Entry program; IRCC's feed called "
             "them \"No Program Specified\" until late 2023 and \"General\" since."),
    Category("cec", "CEC", "Canadian Experience Class", "program",
             "Rounds limited to candidates eligible for the Canadian Experience Class."),
    Category("pnp", "PNP", "Provincial Nominee Program", "program",
             "Rounds limited to candidates with a provincial or territorial nomination, whose "
             "600 extra CRS points explain the high cut-offs."),
    Category("fsw", "FSW", "Federal Skilled Worker Program", "program",
             "Rounds limited to candidates of the Federal Skilled Worker Program."),
    Category("fst", "FST", "Federal Skilled Trades Program", "program",
             "Rounds limited to candidates of the Federal Skilled Trades Program."),
    Category("french", "French", "French-language proficiency", "category",
             "Category-based rounds for candidates with strong French-language skills."),
    Category("healthcare", "Healthcare", "Healthcare and social services occupations",
             "category", "Category-based rounds for work experience in eligible healthcare "
             "(since 2025: healthcare and social services) occupations."),
    Category("stem", "STEM", "Science, technology, engineering and mathematics occupations",
             "category", "Category-based rounds for work experience in eligible STEM "
             "occupations."),
    Category("trades", "Trades", "Trade occupations", "category",
             "Category-based rounds for work experience in eligible trade occupations."),
    Category("transport", "Transport", "Transport occupations", "category",
             "Category-based rounds for work experience in eligible transport occupations."),
    Category("agriculture", "Agriculture", "Agriculture and agri-food occupations",
             "category", "Category-based rounds for work experience in eligible agriculture "
             "and agri-food occupations."),
    Category("education", "Education", "Education occupations", "category",
             "Category-based rounds for work experience in eligible education occupations."),
    Category("physicians", "Physicians", "Physicians with Canadian work experience",
             "category", "Category-based rounds for physicians with Canadian work experience."),
    Category("researchers", "Researchers", "Researchers with Canadian work experience",
             "category", "Category-based rounds for researchers with Canadian work experience."),
    Category("senior-managers", "Senior managers",
             "Senior managers with Canadian work experience", "category",
             "Category-based rounds for senior managers with Canadian work experience."),
    Category("skilled-military", "Military", "Skilled military recruits", "category",
             "Category-based rounds for skilled military recruits."),
)

BY_SLUG: dict[str, Category] = {c.slug: c for c in CATEGORIES}

# (pattern on the lower-cased official draw name, category slug); first match wins.
_NAME_RULES: tuple[tuple[str, str], ...] = (
    (r"^no program specified$|^general$", "general"),
    (r"^canadian experience class", "cec"),
    (r"^provincial nominee program", "pnp"),
    (r"^federal skilled trades", "fst"),
    (r"^federal skilled worker", "fsw"),
    (r"^french", "french"),
    (r"^healthcare", "healthcare"),
    (r"^stem", "stem"),
    (r"^trades? occupations", "trades"),
    (r"^transport", "transport"),
    (r"^agriculture", "agriculture"),
    (r"^education", "education"),
    (r"^physicians", "physicians"),
    (r"^researchers", "researchers"),
    (r"^senior managers", "senior-managers"),
    (r"^skilled military", "skilled-military"),
)
_VERSION = re.compile(r"\((Version \d+)\)|(\d{4}-Version \d+)", re.IGNORECASE)


def category_of(draw_name: str) -> str | None:
    """The category slug for an official draw name, or None when the wording is new to us."""
    name = " ".join(draw_name.lower().split())
    for pattern, slug in _NAME_RULES:
        if re.search(pattern, name):
            return slug
    return None


def list_version_of(draw_name: str) -> str | None:
    """The occupation-list version IRCC names in a draw name ("Version 1", "2026-Version 2")."""
    m = _VERSION.search(draw_name)
    if not m:
        return None
    text = m.group(1) or m.group(2)
    return text[0].upper() + text[1:] if text.lower().startswith("version") else text
