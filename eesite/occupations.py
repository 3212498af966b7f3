"""Category occupation lists: load → validate → one frozen index, and which list each draw used.

IRCC rewrote the occupation lists of category-based rounds in 2023, 2025 and 2026, and draw
names only half say which one applied ("Version 2", "2026-Version 3"). The lists live as data
in content/data/occupations/: one CSV per edition (`category,noc_code,title,teer`) and
lists.yaml (when each edition was announced, how its draws are labelled, the confidence and
evidence of each list). Rows are validated like front matter, every problem naming file and
line, so a bad row stops the build before anything is written.

The rule for which list a draw used (`apply_rule`), documented in README.md:
  1. the edition is the newest one announced on or before the draw's date;
  2. the list is that edition's list for the draw's category (French has none);
  3. IRCC's label in the draw name is checked against it: an edition labelled "Version N"
     takes unprefixed labels, one labelled "2026-Version N" takes "2026-Version N"; N is
     expected to count the category's lists within the same label family. Any disagreement
     is kept as a note shown on the draw page, never silently resolved.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import yaml

from eesite.categories import BY_SLUG, CATEGORIES, Category, category_of
from eesite.errors import BuildError, Problem, nearest
from eesite.load import decode  # the same BOM and CRLF handling as content files

if TYPE_CHECKING:
    from eesite.model import Entry

DATA_DIR = Path("content") / "data" / "occupations"
META_FILE = "lists.yaml"
HEADER = ("category", "noc_code", "title", "teer")
NO_LIST = frozenset({"french"})  # language categories: no occupation list
CONFIDENCE = ("high", "medium-high", "medium", "low-medium", "low")
NOC = re.compile(r"^\d{5}$")
_LABEL = re.compile(r"^(\d{4}-)?Version (\d+)$")


def _empty() -> Mapping:
    return MappingProxyType({})


@dataclass(frozen=True)
class Occupation:
    """A NOC 2021 unit group: five-digit code, title, TEER (the code's second digit)."""

    noc: str
    title: str
    teer: int

    @property
    def url(self) -> str:
        return f"/occupations/{self.noc}/"


@dataclass(frozen=True)
class Edition:
    """One year's set of lists, in force from its announcement until the next edition's."""

    year: int
    announced: date
    source: str  # the CSV, relative to the site root
    draw_label: str  # "Version N" or "2026-Version N"
    note: str = ""  # a caveat shown with the edition
    renewal: str = ""  # a caveat for its draws held in a later year
    until: date | None = None  # last day in force; None while current

    @property
    def prefix(self) -> str:
        return self.draw_label.removesuffix("Version N")


@dataclass(frozen=True)
class OccupationList:
    """One category's list in one edition, with what changed since the category's list before."""

    edition: Edition
    category: Category
    name: str  # IRCC's name for the category that year, as in the CSV
    codes: tuple[str, ...]  # sorted
    confidence: str
    provisional: bool = False
    evidence: str = ""
    number: int = 1  # the N IRCC's draw names are expected to carry
    previous: OccupationList | None = None
    current: bool = False

    @property
    def key(self) -> tuple[str, int]:
        return (self.category.slug, self.edition.year)

    @property
    def url(self) -> str:
        return f"/occupations/{self.category.slug}/#list-{self.edition.year}"

    @property
    def label(self) -> str:
        """IRCC's expected draw-name label, e.g. "Version 2" or "2026-Version 1"."""
        return f"{self.edition.prefix}Version {self.number}"

    @property
    def added(self) -> tuple[str, ...]:
        return tuple(c for c in self.codes if self.previous and c not in self.previous.codes)

    @property
    def removed(self) -> tuple[str, ...]:
        return tuple(c for c in self.previous.codes if c not in self.codes) if self.previous else ()

    @property
    def gap(self) -> bool:
        """True when the category had no list in the edition(s) between its previous and this."""
        return bool(self.previous) and self.previous.edition.until != self.edition.announced - timedelta(1)


@dataclass(frozen=True)
class Applied:
    """The list a category draw used (None when none can be named) and the doubts about it."""

    list: OccupationList | None
    notes: tuple[str, ...] = ()
    label_agrees: bool = True  # IRCC's label in the draw name fits the list the date gives


@dataclass(frozen=True)
class Membership:
    """How one category's lists treated one occupation: each list, and whether it included it."""

    category: Category
    rows: tuple[tuple[OccupationList, bool], ...]  # oldest first

    @property
    def steps(self) -> tuple[tuple[OccupationList, bool, str], ...]:
        """(list, included, "added"/"removed"/"") — the change against the category's list before."""
        out, before = [], None
        for lst, has in self.rows:
            out.append((lst, has, "" if before in (None, has) else ("added" if has else "removed")))
            before = has
        return tuple(out)


@dataclass(frozen=True)
class OccupationIndex:
    """Everything the occupation pages and draw pages need, grouped once."""

    editions: tuple[Edition, ...] = ()  # oldest first
    occupations: tuple[Occupation, ...] = ()  # by code
    lists: tuple[OccupationList, ...] = ()  # by edition, then category order
    # slug -> the category's lists, newest first
    by_category: Mapping[str, tuple[OccupationList, ...]] = field(default_factory=_empty)
    # NOC -> the categories whose lists ever included it
    memberships: Mapping[str, tuple[Membership, ...]] = field(default_factory=_empty)
    by_code: Mapping[str, Occupation] = field(default_factory=_empty)
    # filled by with_draws: draw URL -> the list it used; draws per list and per NOC, newest first
    applied: Mapping[str, Applied] = field(default_factory=_empty)
    draws_by_list: Mapping[tuple[str, int], tuple[Entry, ...]] = field(default_factory=_empty)
    draws_by_code: Mapping[str, tuple[Entry, ...]] = field(default_factory=_empty)

    @property
    def current(self) -> Edition | None:
        return self.editions[-1] if self.editions else None

    @property
    def categories(self) -> tuple[Category, ...]:
        return tuple(c for c in CATEGORIES if c.slug in self.by_category)

    def in_lists(self, noc: str) -> tuple[OccupationList, ...]:
        """Every list that included the code, by category then edition."""
        return tuple(lst for m in self.memberships.get(noc, ()) for lst, has in m.rows if has)

    def ended(self, slug: str) -> Edition | None:
        """The edition that dropped the category (its newest list is not current), if any."""
        newest = self.by_category[slug][0]
        return None if newest.current else next(
            e for e in self.editions if e.announced > newest.edition.announced)


EMPTY = OccupationIndex()


# ---- load and validate ----------------------------------------------------------------------

class _Lined(dict):
    """A YAML mapping that remembers the line of each key, for problems that name it."""

    lines: dict[str, int]


def _construct(node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        out = _Lined()
        out.lines = {}
        for key, value in node.value:
            out[key.value] = _construct(value)
            out.lines[key.value] = key.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(v) for v in node.value]
    return _SCALARS.construct_object(node)


_SCALARS = yaml.constructor.SafeConstructor()  # dates, ints and strings as YAML types them


def _read_meta(path: Path, rel: str) -> list:
    try:
        node = yaml.compose(decode(path.read_bytes(), rel), Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise BuildError([Problem(rel, mark.line + 1 if mark else 1, "", f"not valid YAML: {err}")]
                         ) from None
    meta = _construct(node) if node is not None else None
    if not isinstance(meta, dict) or not isinstance(meta.get("editions"), list):
        raise BuildError([Problem(rel, 1, "editions", "expected a list of editions")])
    return meta["editions"]


@dataclass(frozen=True)
class _Row:
    slug: str
    name: str
    occupation: Occupation
    line: int


def _read_csv(path: Path, rel: str, problems: list[Problem]) -> list[_Row]:
    """The valid rows of one edition's CSV; every bad row adds a Problem naming its line."""
    text = decode(path.read_bytes(), rel)
    reader = csv.reader(text.splitlines())
    header = tuple(h.strip() for h in next(reader, ()))
    if header != HEADER:
        problems.append(Problem(rel, 1, "", f"expected the header {','.join(HEADER)}, got "
                                            f"{','.join(header) or 'nothing'}"))
        return []
    rows: list[_Row] = []
    seen: dict[tuple[str, str], int] = {}
    names = {c.slug: c for c in CATEGORIES if c.kind == "category" and c.slug not in NO_LIST}
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(HEADER):
            problems.append(Problem(rel, line, "", f"expected {len(HEADER)} fields "
                                                   f"({','.join(HEADER)}), got {len(cells)}"))
            continue
        name, noc, title, teer = (c.strip() for c in cells)
        bad = len(problems)
        slug = category_of(name)
        if slug in NO_LIST:
            problems.append(Problem(rel, line, "category", f'"{name}" has no occupation list '
                                    "(a language category): expected an occupation category"))
        elif slug not in names:
            problems.append(Problem(rel, line, "category", f'unknown category "{name}": expected '
                                    "one the draws use, e.g. STEM occupations or Trade "
                                    "occupations" + nearest(name, (c.title for c in names.values()))))
        if not NOC.match(noc):
            problems.append(Problem(rel, line, "noc_code", f'expected a five-digit NOC 2021 code, '
                                    f'got "{noc}"'))
        if not title:
            problems.append(Problem(rel, line, "title", "expected the NOC title, got nothing"))
        if not re.fullmatch(r"[0-5]", teer):
            problems.append(Problem(rel, line, "teer", f'expected a TEER from 0 to 5, got "{teer}"'))
        elif NOC.match(noc) and teer != noc[1]:
            problems.append(Problem(rel, line, "teer", f"expected {noc[1]} (the second digit of NOC "
                                    f"{noc}), got {teer}"))
        if (slug, noc) in seen:
            problems.append(Problem(rel, line, "noc_code", f"duplicate row: {noc} is already listed "
                                    f"under {name} on line {seen[slug, noc]}"))
        if len(problems) == bad:
            seen[slug, noc] = line
            rows.append(_Row(slug, name, Occupation(noc, title, int(teer)), line))
    return rows


def _meta_problem(rel: str, item: Mapping, key: str, message: str) -> Problem:
    return Problem(rel, getattr(item, "lines", {}).get(key, 1), key, message)


def load_occupations(root: Path) -> OccupationIndex:
    """The lists under root/content/data/occupations/, or EMPTY when the folder is absent."""
    folder = root / DATA_DIR
    meta_path = folder / META_FILE
    if not folder.is_dir():
        return EMPTY
    meta_rel = (DATA_DIR / META_FILE).as_posix()
    if not meta_path.is_file():
        raise BuildError([Problem(meta_rel, 0, "", "missing: expected the list of editions "
                                                   "beside the occupation CSV files")])
    problems: list[Problem] = []
    editions: list[tuple[Edition, list[_Row], Mapping]] = []
    items = _read_meta(meta_path, meta_rel)
    for item in items:
        if not isinstance(item, dict):
            problems.append(Problem(meta_rel, 1, "editions", "expected a mapping per edition"))
            continue
        edition = _edition(item, meta_rel, problems)
        if edition is None:
            continue
        csv_path = folder / edition.source
        rel = (DATA_DIR / edition.source).as_posix()
        if not csv_path.is_file():
            problems.append(_meta_problem(meta_rel, item, "file", f"expected {rel} to exist"))
            continue
        editions.append((replace(edition, source=rel), _read_csv(csv_path, rel, problems),
                         item.get("lists") or _Lined()))
    named = {item.get("file") for item in items if isinstance(item, dict)}
    for path in sorted(folder.glob("*.csv")):
        rel = (DATA_DIR / path.name).as_posix()
        if path.name not in named:
            problems.append(Problem(rel, 0, "", f"not named by any edition in {meta_rel}"))
    index = _index(editions, meta_rel, problems)
    if problems:
        raise BuildError(problems)
    return index


def _edition(item: Mapping, rel: str, problems: list[Problem]) -> Edition | None:
    year, announced, file, label = (item.get(k) for k in ("year", "announced", "file", "draw_label"))
    for key in item:
        if key not in _EDITION_KEYS:
            problems.append(_meta_problem(rel, item, key, "unknown key" + nearest(key, _EDITION_KEYS)))
    bad = len(problems)  # an unknown key is reported, but the edition is still checked
    if not isinstance(item.get("lists") or {}, dict):
        problems.append(_meta_problem(rel, item, "lists", "expected a mapping of category slugs"))
    if type(year) is not int:
        problems.append(_meta_problem(rel, item, "year", f"expected a year, got {year!r}"))
    if not isinstance(announced, date):
        problems.append(_meta_problem(rel, item, "announced", f"expected a date like 2025-02-27, "
                                                              f"got {announced!r}"))
    if not isinstance(file, str) or "/" in file or not file.endswith(".csv"):
        problems.append(_meta_problem(rel, item, "file", f"expected a CSV file name, got {file!r}"))
    if not isinstance(label, str) or not re.fullmatch(r"(\d{4}-)?Version N", label):
        problems.append(_meta_problem(rel, item, "draw_label", 'expected "Version N" or '
                                      f'"YYYY-Version N", got {label!r}'))
    if len(problems) > bad:
        return None
    return Edition(year, announced, file, label, str(item.get("note") or "").strip(),
                   str(item.get("renewal") or "").strip())


_LIST_KEYS = ("confidence", "provisional", "evidence")
_EDITION_KEYS = ("year", "announced", "file", "draw_label", "note", "renewal", "lists")


def _index(editions: list[tuple[Edition, list[_Row], Mapping]], meta_rel: str,
           problems: list[Problem]) -> OccupationIndex:
    """Cross-check editions, rows and list metadata, then group everything once."""
    editions.sort(key=lambda e: e[0].announced)
    dated = [replace(e, until=nxt.announced - timedelta(1)) for (e, _, _), (nxt, _, _)
             in zip(editions, editions[1:], strict=False)] + [e for e, _, _ in editions[-1:]]
    occupations: dict[str, tuple[Occupation, str, int]] = {}
    lists: list[OccupationList] = []
    last: dict[str, OccupationList] = {}
    for edition, (_, rows, meta) in zip(dated, editions, strict=True):
        by_slug: dict[str, list[_Row]] = defaultdict(list)
        for row in rows:
            by_slug[row.slug].append(row)
            first = occupations.setdefault(row.occupation.noc, (row.occupation, edition.source, row.line))
            if first[0] != row.occupation:
                problems.append(Problem(edition.source, row.line, "title", f"expected NOC "
                                        f"{row.occupation.noc} as on {first[1]}:{first[2]} "
                                        f"({first[0].title}, TEER {first[0].teer}), got "
                                        f"{row.occupation.title}, TEER {row.occupation.teer}"))
        for slug in meta:
            if slug not in by_slug:
                problems.append(_meta_problem(meta_rel, meta, slug, f"no rows for this category in "
                                              f"{edition.source}"))
        for category in CATEGORIES:
            if category.slug not in by_slug:
                continue
            info = meta.get(category.slug)
            if not isinstance(info, dict) or info.get("confidence") not in CONFIDENCE:
                problems.append(Problem(meta_rel, getattr(meta, "lines", {}).get(category.slug, 1),
                                        category.slug, f"expected the confidence of the "
                                        f"{edition.year} {category.label} list, one of "
                                        f"{', '.join(CONFIDENCE)}"))
                continue
            for key in info:
                if key not in _LIST_KEYS:
                    problems.append(_meta_problem(meta_rel, info, key,
                                                  "unknown key" + nearest(key, _LIST_KEYS)))
            if not isinstance(info.get("provisional", False), bool):
                problems.append(_meta_problem(meta_rel, info, "provisional", "expected true or false"))
            chosen = by_slug[category.slug]
            previous = last.get(category.slug)
            same_family = previous and previous.edition.prefix == edition.prefix
            lst = OccupationList(
                edition, category, chosen[0].name, tuple(sorted(r.occupation.noc for r in chosen)),
                info["confidence"], bool(info.get("provisional")), str(info.get("evidence") or ""),
                number=previous.number + 1 if same_family else 1, previous=previous,
                current=edition is dated[-1])
            lists.append(lst)
            last[category.slug] = lst
    return _group(tuple(dated), occupations, lists)


def _group(editions: tuple[Edition, ...], occupations: Mapping[str, tuple[Occupation, str, int]],
           lists: list[OccupationList]) -> OccupationIndex:
    by_category: dict[str, list[OccupationList]] = defaultdict(list)
    for lst in lists:
        by_category[lst.category.slug].append(lst)
    memberships: dict[str, list[Membership]] = defaultdict(list)
    for slug, history in by_category.items():
        for noc in sorted({c for lst in history for c in lst.codes}):
            memberships[noc].append(Membership(BY_SLUG[slug], tuple((lst, noc in lst.codes)
                                                                     for lst in history)))
    order = {c.slug: i for i, c in enumerate(CATEGORIES)}
    codes = sorted(occupations)
    return OccupationIndex(
        editions=editions,
        occupations=tuple(occupations[c][0] for c in codes),
        lists=tuple(lists),
        by_category=MappingProxyType({s: tuple(reversed(h)) for s, h in
                                      sorted(by_category.items(), key=lambda i: order[i[0]])}),
        memberships=MappingProxyType({n: tuple(sorted(m, key=lambda x: order[x.category.slug]))
                                      for n, m in memberships.items()}),
        by_code=MappingProxyType({c: occupations[c][0] for c in codes}),
    )


# ---- which list a draw used -----------------------------------------------------------------

def apply_rule(index: OccupationIndex, category: str, draw_date: date,
               label: str | None) -> Applied | None:
    """The list a category draw used, by the rule in this module's docstring.

    None for draws that are not category-based by occupation (general, program, French).
    """
    if BY_SLUG[category].kind != "category" or category in NO_LIST:
        return None
    editions = [e for e in index.editions if e.announced <= draw_date]
    if not editions:
        return Applied(None, (f"This round predates every occupation list on this site "
                              f"(the first was announced on {_day(index.editions[0].announced)})."
                              if index.editions else "No occupation lists are on this site.",))
    edition = editions[-1]
    lst = next((x for x in index.by_category.get(category, ()) if x.edition == edition), None)
    if lst is None:
        return Applied(None, (f"The {edition.year} lists, in force on this date, have no "
                              f"{BY_SLUG[category].label} list; the list this round used is not "
                              "on this site.",))
    notes = []
    m = _LABEL.match(label or "")
    if not m:
        notes.append("IRCC's draw name does not name a list version; the list is inferred from "
                     "the round's date.")
    elif (m.group(1) or "") != edition.prefix:
        notes.append(f'IRCC calls the list "{label}", which does not match the {edition.year} '
                     f"lists in force on this date; the list shown is inferred from the date.")
    elif int(m.group(2)) != lst.number:
        notes.append(f'IRCC calls the list "{label}", but the sources show {_count(lst.number)} '
                     f"{BY_SLUG[category].label} list{'s' if lst.number > 1 else ''} in that "
                     f'numbering (so "{lst.label}"). The number may count changes to the '
                     "category's rules (such as the 2026 work-experience rule) rather than to its "
                     "occupations; the sources do not tell these apart.")
    agrees = not notes
    if edition.year < draw_date.year:
        notes.append(edition.renewal or f"This round was held in {draw_date.year}; the newest "
                     f"lists announced by then were the {edition.year} lists, assumed still to apply.")
    return Applied(lst, tuple(notes), agrees)


def with_draws(index: OccupationIndex, draws: Iterable[Entry]) -> OccupationIndex:
    """The index with every draw's list applied, and draws grouped by list and by code."""
    applied: dict[str, Applied] = {}
    by_list: dict[tuple[str, int], list[Entry]] = defaultdict(list)
    by_code: dict[str, list[Entry]] = defaultdict(list)
    for entry in draws:  # newest first, as Site.draws
        result = apply_rule(index, entry.draw.category, entry.draw.draw_date, entry.draw.list_version)
        if result is None:
            continue
        applied[entry.url] = result
        if result.list:
            by_list[result.list.key].append(entry)
            for noc in result.list.codes:
                by_code[noc].append(entry)
    return replace(index,
                   applied=MappingProxyType(applied),
                   draws_by_list=MappingProxyType({k: tuple(v) for k, v in by_list.items()}),
                   draws_by_code=MappingProxyType({k: tuple(v) for k, v in by_code.items()}))


def _count(n: int) -> str:
    return ("one", "two", "three", "four")[n - 1] if 0 < n < 5 else str(n)


def _day(value: date) -> str:
    return f"{value:%B} {value.day}, {value.year}"
