"""The W3C Feed Validation Service's rules, as checks on one feed file.

The service cannot be reached from CI and is not on PyPI, so these are its rules rewritten:
each check names the validator message it stands for (its `logging` class). A feed that passes
every check here draws no error and no warning from the rules listed; `problems` returns
readable strings so a failing test shows every issue at once.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser

from lxml import etree

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"

# validators.py: rfc2822_re (RSS dates), rfc3339 (Atom), tag_re and rfc2396_full (URIs)
RFC2822 = re.compile(r"((Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?\d\d? (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|"
                     r"Oct|Nov|Dec) \d\d\d\d \d\d:\d\d(:\d\d)? (([+-]?\d\d[03]0)|UT|GMT|Z)$")
RFC3339 = re.compile(r"^\d\d\d\d-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*)?(Z|([+-]\d\d:\d\d))$")
TAG = re.compile(r"^tag:([a-z0-9\-\._]+?@)?[a-z0-9\.\-]+?,\d{4}(-\d{2}(-\d{2})?)?:"
                 r"[0-9a-zA-Z;/\?:@&=+$\.\-_!~*'\(\)%,]*(#[0-9a-zA-Z;/\?:@&=+$\.\-_!~*'\(\)%,]*)?$")
FULL_URI = re.compile(r"^[a-zA-Z][0-9a-zA-Z+\-.]*:(//)?[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,#]+$")
HTML_END_TAG = re.compile(r"</(\w+)>")  # nonhtml: ContainsHTML / ContainsUndeclaredHTML
ENTITY = re.compile(r"&(#?\w+);")

# validators.py HTMLValidator: acceptable_elements, acceptable_attributes (SecurityRisk,
# SecurityRiskAttr), htmltags (NotHtml is an error), checkStyle (DangerousStyleAttr)
def _words(text: str) -> set[str]:
    return set(text.split())


ACCEPTABLE_ELEMENTS = _words(
    "a abbr acronym address area b big blockquote br button caption center cite code col colgroup "
    "dd del dfn dir div dl dt em fieldset font form h1 h2 h3 h4 h5 h6 hr i img input ins kbd label "
    "legend li map menu ol optgroup option p pre q s samp select small span strike strong sub sup "
    "table tbody td textarea tfoot th thead tr tt u ul var noscript")
ACCEPTABLE_ATTRIBUTES = _words(
    "abbr accept accept-charset accesskey action align alt axis bgcolor border cellpadding "
    "cellspacing char charoff charset checked cite class clear cols colspan color compact coords "
    "datetime dir disabled enctype face for frame headers height href hreflang hspace id ismap "
    "label lang longdesc maxlength media method multiple name nohref noshade nowrap prompt "
    "readonly rel rev rows rowspan rules scope selected shape size span src start summary "
    "tabindex target title type usemap valign value vspace width")
SAFE_STYLE = re.compile(r"^\s*text-align:\s*(left|right|center);?\s*$")


class _HTMLCheck(HTMLParser):
    def __init__(self, where: str):
        super().__init__(convert_charrefs=True)
        self.where = where
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in ACCEPTABLE_ELEMENTS:
            self.problems.append(f"{self.where}: SecurityRisk/NotHtml: <{tag}>")
        for name, value in attrs:
            if name == "style":
                if not SAFE_STYLE.match(value or ""):
                    self.problems.append(f"{self.where}: DangerousStyleAttr: {value!r}")
            elif name not in ACCEPTABLE_ATTRIBUTES:
                self.problems.append(f"{self.where}: SecurityRiskAttr: {name} on <{tag}>")
            if name in ("href", "src") and not re.match(r"\w+:", value or ""):
                self.problems.append(f"{self.where}: ContainsRelRef: {name}={value!r}")


def html_problems(fragment: str, where: str) -> list[str]:
    check = _HTMLCheck(where)
    check.feed(fragment)
    check.close()
    return check.problems


def text_problems(value: str | None, where: str) -> list[str]:
    """Text constructs (titles, Atom type="text"): not blank, no HTML end tags or entities."""
    if not value or not value.strip():
        return [f"{where}: NotBlank"]
    tags = HTML_END_TAG.findall(value)
    if tags or ENTITY.search(value):
        return [f"{where}: ContainsHTML/ContainsUndeclaredHTML: {value!r}"]
    return []


def plausible(when: datetime, where: str, now: datetime) -> list[str]:
    """ImplausibleDate: before 1970 or after tomorrow (the validator's clock)."""
    if when.year < 1970 or when > now + timedelta(days=1):
        return [f"{where}: ImplausibleDate: {when.isoformat()}"]
    return []


def rfc822_problems(value: str | None, where: str, now: datetime) -> list[str]:
    if not value or not RFC2822.match(value):
        return [f"{where}: InvalidRFC2822Date: {value!r}"]
    when = parsedate_to_datetime(value)
    if value[:3] != when.strftime("%a"):
        return [f"{where}: IncorrectDOW: {value!r}"]
    return plausible(when, where, now)


def rfc3339_problems(value: str | None, where: str, now: datetime) -> list[str]:
    if not value or not RFC3339.match(value):
        return [f"{where}: InvalidRFC3339Date: {value!r}"]
    return plausible(datetime.fromisoformat(value.replace("Z", "+00:00")), where, now)


def uri_problems(value: str | None, where: str) -> list[str]:
    if value and value.startswith("tag:"):
        return [] if TAG.match(value) else [f"{where}: InvalidTAG: {value!r}"]
    if not value or not FULL_URI.match(value):
        return [f"{where}: InvalidFullLink: {value!r}"]
    return []


def rss_problems(data: bytes, url: str, now: datetime) -> list[str]:
    root = etree.fromstring(data)
    out = []
    if not data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>"):
        out.append("MissingEncoding")
    if root.tag != "rss" or root.get("version") != "2.0":
        out.append("not RSS 2.0")
    channel = root.find("channel")
    for name in ("title", "link", "description", "language", "lastBuildDate"):
        if channel.find(name) is None:
            out.append(f"channel: MissingElement: {name}")
    out += text_problems(channel.findtext("title"), "channel title")
    out += uri_problems(channel.findtext("link"), "channel link")
    out += rfc822_problems(channel.findtext("lastBuildDate"), "lastBuildDate", now)
    if not re.match(r"^[a-z]{2,3}(-[A-Za-z0-9]+)*$", channel.findtext("language") or ""):
        out.append("InvalidLanguage")
    selfs = [x for x in channel.findall(f"{ATOM}link") if x.get("rel") == "self"]
    if len(selfs) != 1:
        out.append("MissingAtomSelfLink")
    elif selfs[0].get("href") != url or selfs[0].get("type") != "application/rss+xml":
        out.append(f"SelfDoesntMatchLocation: {selfs[0].get('href')} is not {url}")
    seen_item = False
    guids = set()
    for child in channel:
        if child.tag == "item":
            seen_item = True
        elif seen_item:
            out.append(f"MisplacedItem: {child.tag} after an item")
    for n, item in enumerate(channel.findall("item"), 1):
        where = f"item {n}"
        out += text_problems(item.findtext("title"), f"{where} title")
        out += uri_problems(item.findtext("link"), f"{where} link")
        out += rfc822_problems(item.findtext("pubDate"), f"{where} pubDate", now)
        guid = item.find("guid")
        if guid is None:
            out.append(f"{where}: MissingGuid")
        else:
            if guid.get("isPermaLink") != "false":  # a permalink: an http(s) URL
                if (guid.text or "").lower().startswith(("tag:", "urn:uuid:")):
                    out.append(f"{where}: InvalidPermalink: {guid.text}")
                elif not FULL_URI.match(guid.text or ""):
                    out.append(f"{where}: InvalidHttpGUID: {guid.text}")
            out += uri_problems(guid.text, f"{where} guid")
            if guid.text in guids:
                out.append(f"{where}: DuplicateValue guid {guid.text}")
            guids.add(guid.text)
        tags = [c.tag for c in item]
        if CONTENT in tags and tags.index(CONTENT) < tags.index("description"):
            out.append(f"{where}: NeedDescriptionBeforeContent")
        for name in ("description", CONTENT):
            if item.find(name) is not None:
                out += html_problems(item.findtext(name), f"{where} {name}")
        for cat in item.findall("category"):
            out += text_problems(cat.text, f"{where} category")
    return out


def atom_problems(data: bytes, url: str, now: datetime) -> list[str]:
    root = etree.fromstring(data)
    out = []
    if root.tag != f"{ATOM}feed":
        return ["not an Atom feed"]
    for name in ("id", "title", "updated"):
        if root.find(f"{ATOM}{name}") is None:
            out.append(f"feed: MissingElement: {name}")
    out += uri_problems(root.findtext(f"{ATOM}id"), "feed id")
    out += text_problems(root.findtext(f"{ATOM}title"), "feed title")
    out += rfc3339_problems(root.findtext(f"{ATOM}updated"), "feed updated", now)
    links = root.findall(f"{ATOM}link")
    selfs = [x for x in links if x.get("rel") == "self"]
    if len(selfs) != 1:
        out.append("MissingSelf")
    elif selfs[0].get("href") != url:
        out.append(f"SelfDoesntMatchLocation: {selfs[0].get('href')} is not {url}")
    for link in links:
        out += uri_problems(link.get("href"), "feed link")
    alternates = [(x.get("type"), x.get("hreflang")) for x in links if x.get("rel") in (None, "alternate")]
    if len(alternates) != len(set(alternates)):
        out.append("DuplicateAtomLink")
    entries = root.findall(f"{ATOM}entry")
    if root.find(f"{ATOM}author/{ATOM}name") is None and any(
            e.find(f"{ATOM}author") is None for e in entries):
        out.append("MissingElement: author")
    ids, updates = set(), set()
    for n, entry in enumerate(entries, 1):
        where = f"entry {n}"
        entry_id = entry.findtext(f"{ATOM}id")
        out += uri_problems(entry_id, f"{where} id")
        if entry_id in ids:
            out.append(f"{where}: DuplicateEntries {entry_id}")
        ids.add(entry_id)
        out += text_problems(entry.findtext(f"{ATOM}title"), f"{where} title")
        updated = entry.findtext(f"{ATOM}updated")
        out += rfc3339_problems(updated, f"{where} updated", now)
        if updated in updates:
            out.append(f"{where}: DuplicateUpdated {updated}")
        updates.add(updated)
        if entry.find(f"{ATOM}published") is not None:
            out += rfc3339_problems(entry.findtext(f"{ATOM}published"), f"{where} published", now)
        alt = [x for x in entry.findall(f"{ATOM}link") if x.get("rel") in (None, "alternate")]
        if not alt:
            out.append(f"{where}: MissingAlternateLink")
        for link in alt:
            out += uri_problems(link.get("href"), f"{where} link")
        summary = entry.find(f"{ATOM}summary")
        if summary is not None and summary.get("type") in (None, "text"):
            out += text_problems(summary.text, f"{where} summary")
        content = entry.find(f"{ATOM}content")
        if content is not None:
            if content.get("type") != "html":
                out.append(f"{where}: content type {content.get('type')!r}")
            out += html_problems(content.text or "", f"{where} content")
        elif summary is None:
            out.append(f"{where}: MissingTextualContent")
    return out


def json_feed_problems(data: bytes, url: str, now: datetime) -> list[str]:
    """JSON Feed 1.1's required members, with the same date, URI and HTML rules."""
    feed = json.loads(data)
    out = []
    if feed.get("version") != "https://jsonfeed.org/version/1.1":
        out.append("version")
    if feed.get("feed_url") != url:
        out.append(f"feed_url {feed.get('feed_url')} is not {url}")
    out += text_problems(feed.get("title"), "title")
    out += uri_problems(feed.get("home_page_url"), "home_page_url")
    ids = set()
    for n, item in enumerate(feed["items"], 1):
        where = f"item {n}"
        if not isinstance(item.get("id"), str) or item["id"] in ids:
            out.append(f"{where}: id {item.get('id')!r}")
        ids.add(item.get("id"))
        out += uri_problems(item.get("url"), f"{where} url")
        if "content_html" not in item and "content_text" not in item:
            out.append(f"{where}: no content")
        out += html_problems(item.get("content_html", ""), f"{where} content_html")
        for name in ("date_published", "date_modified"):
            out += rfc3339_problems(item.get(name), f"{where} {name}", now)
    return out


CHECKS = {"feed.xml": rss_problems, "atom.xml": atom_problems, "feed.json": json_feed_problems}


def problems(path: str, data: bytes, base_url: str, now: datetime | None = None) -> list[str]:
    """Every rule `data`, the feed at output path `path`, breaks."""
    now = now or datetime.now(timezone.utc)
    check = CHECKS[path.rsplit("/", 1)[-1]]
    return [f"{path}: {p}" for p in check(data, base_url.rstrip("/") + "/" + path, now)]
