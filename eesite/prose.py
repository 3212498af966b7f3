"""Markdown to HTML: Python-Markdown with the site's extensions, minus work that cannot change it.

Python-Markdown tries each of its 14 inline patterns on every run of text (a table cell, a list
item, a paragraph), one regular expression and several Python calls each: half of a post's
conversion. Each built-in pattern can only match text holding a certain character (a link needs
"[", emphasis "*" or "_", raw HTML "<" ...). `QuickInline` skips a pattern when its character is
absent and otherwise runs Python-Markdown's own code, so the HTML is the same byte for byte
(tests compare it with plain Python-Markdown). A pattern it does not know exactly (another
extension's, or a built-in whose expression changed in a new release) is always tried. The
block processors and two tree steps are skipped the same way (`_quick_steps`), the table of
contents is made only for a text that asks for one (`QuickToc`), block-level tags are looked up
in a set and the answer kept, and the block steps are listed once, not for every block
(`_Markdown`, `_Listed`): 0.71 → 0.48 ms a benchmark post, then 0.42 → 0.38 ms once the
setext header and abbreviation steps were skipped too (an expression 3.11 changed is listed
with the old one) and the steps listed once.
"""

from __future__ import annotations

import xml.etree.ElementTree as etree

import markdown
from markdown import util
from markdown.extensions import Extension
from markdown.extensions.attr_list import AttrListTreeprocessor
from markdown.extensions.fenced_code import FencedBlockPreprocessor
from markdown.extensions.tables import TableProcessor
from markdown.extensions.toc import TocExtension, TocTreeprocessor
from markdown.inlinepatterns import HTML_RE
from markdown.preprocessors import HtmlBlockPreprocessor, NormalizeWhitespace
from markdown.treeprocessors import InlineProcessor, UnescapeTreeprocessor

EXTENSIONS = ("tables", "fenced_code", "sane_lists", "toc", "attr_list", "abbr")


class Html(str):
    """The HTML of a post's Markdown, carrying `key`, the digest of that Markdown: under one
    cache key (eesite, Markdown and its extensions) the same text always gives the same HTML,
    so a page's check counts the key instead of hashing the HTML again (~9 µs of the ~70 µs
    a draw page's check takes)."""

    key: str

    def __new__(cls, html: str, key: str) -> Html:
        self = super().__new__(cls, html)
        self.key = key
        return self

    def __reduce__(self):
        return Html, (str(self), self.key)

# name -> (the pattern's expression in Python-Markdown 3.x, the strings one of which any match
# of it contains)
_NEEDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "backtick": (r"(?:(?<!\\)((?:\\{2})+)(?=`+)|(?<!\\)`)", ("`",)),
    "escape": (r"\\(.)", ("\\",)),
    "reference": (r"(?<!\!)\[", ("[",)),
    "link": (r"(?<!\!)\[", ("[",)),
    "image_link": (r"\!\[", ("[",)),
    "image_reference": (r"\!\[", ("[",)),
    "short_reference": (r"(?<!\!)\[", ("[",)),
    "short_image_ref": (r"\!\[", ("[",)),
    "autolink": (r"<([A-Za-z][A-Za-z0-9+.-]*://[^<>]*)>", ("<",)),
    "automail": (r"<([^<> !]+@[^@<> ]+)>", ("<",)),
    "linebreak": (r"  \n", ("  \n",)),
    "entity": (r"(&(?:\#[0-9]+|\#x[0-9a-fA-F]+|[a-zA-Z0-9]+);)", ("&",)),
    "em_strong": (r"\*|_", ("*", "_")),
}
_NEEDS["html"] = (HTML_RE, ("<",))  # raw HTML: its long expression starts with "<"


def _needs(name: str, pattern: object) -> tuple[str, ...] | None:
    """The strings one of which a match of this registered pattern must contain; None: unknown."""
    source = getattr(pattern, "pattern", None)
    known = _NEEDS.get(name)
    return known[1] if known and known[0] == source else None


class QuickInline(InlineProcessor):
    """Python-Markdown's inline step, minus the patterns that cannot match the text at hand."""

    def run(self, tree, ancestors=None):
        registry = self.inlinePatterns  # indexing a Registry sorts it: read it once per text
        patterns = [registry[i] for i in range(len(registry))]
        if patterns != getattr(self, "_patterns", None):  # worked out again only if changed
            self._patterns = patterns
            self._needs = [None] * len(registry)
            for name in _NEEDS:
                if name in registry:
                    index = registry.get_index_for_name(name)
                    self._needs[index] = _needs(name, patterns[index])
        return super().run(tree, ancestors)

    # Python-Markdown's private loop (name-mangled), with a skip for patterns that cannot match.
    # It advances to the next pattern with the search restarting at 0 whenever a pattern does not
    # match; a skipped pattern is one that would not have matched, so the result is the same.
    def _InlineProcessor__handleInline(self, data: str, patternIndex: int = 0) -> str:  # noqa: N802,N803
        if isinstance(data, util.AtomicString):
            return data
        patterns, needs, count, start = self._patterns, self._needs, len(self._needs), 0
        apply = self._InlineProcessor__applyPattern
        while patternIndex < count:
            wanted = needs[patternIndex]
            if start == 0 and wanted is not None:
                for text in wanted:
                    if text in data:
                        break
                else:
                    patternIndex += 1
                    continue
            data, matched, start = apply(patterns[patternIndex], data, patternIndex, start)
            if not matched:
                patternIndex += 1
        return data


class QuickToc(TocTreeprocessor):
    """The `toc` extension's step (ids for headings), minus the table of contents in texts
    without a `[TOC]` paragraph: it is built, serialised and searched for a place to go
    (two fifths of the step's time), and eesite shows it only where the text asks for it.
    So `md.toc` is an empty div for such a text; the HTML is Python-Markdown's own."""

    def run(self, doc) -> None:
        # the marker is replaced only in an element whose own text is the marker
        self._marked = bool(self.marker) and any(self.marker in (el.text or "")
                                                 for el in doc.iter())
        super().run(doc)

    def build_toc_div(self, toc_list: list):
        return super().build_toc_div(toc_list) if self._marked else etree.Element("div")

    def replace_marker(self, root, elem) -> None:
        if self._marked:
            super().replace_marker(root, elem)


class _QuickTocExtension(TocExtension):
    TreeProcessorClass = QuickToc


class _QuickInlineExtension(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 - Python-Markdown's name
        md.treeprocessors.register(QuickInline(md), "inline", 20)  # replaces the built-in one


# block processor -> (the attribute holding its expression, the expressions it has had in
# Python-Markdown 3.x, the strings one of which any block it acts on contains, the method that
# searches)
_BLOCK_NEEDS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], str]] = {
    "hashheader": ("RE", (r"(?:^|\n)(?P<level>#{1,6})(?P<header>(?:\\.|[^\\#]|#+(?=[^#\n]))*?)"
                          r"#*(?:\n|$)",), ("#",), "test"),
    # (matched at the block's start: its first line, then a line of "=" or "-")
    "setextheader": ("RE", (r"^.*?\n(?:=+|-+)[ ]*(\n|$)", r"^.*?\n[=-]+[ ]*(\n|$)"),
                     ("\n=", "\n-"), "test"),
    "hr": ("SEARCH_RE", (r"^[ ]{0,3}(?=(?P<atomicgroup>(-+[ ]{0,2}){3,}|(_+[ ]{0,2}){3,}|"
                         r"(\*+[ ]{0,2}){3,}))(?P=atomicgroup)[ ]*$",), ("-", "_", "*"), "test"),
    "quote": ("RE", (r"(^|\n)[ ]{0,3}>[ ]?(.*)",), (">",), "test"),
    "reference": ("RE", (r"^[ ]{0,3}\[([^\[\]]*)\]:[ ]*(?:\n[ ]*)?([^\s]+)[ ]*(?:\n[ ]*)?"
                         r'''((["\'])(.*)\4[ ]*|\((.*)\)[ ]*)?$''',), ("[",), "run"),
    "abbr": ("RE", (r"^[*]\[(?P<abbr>[^\\]*?)\][ ]?:[ ]*\n?[ ]*(?P<title>.*)$",
                    r"^[*]\[(?P<abbr>[^\\\n]*?)\][ ]?:[ ]*\n?[ ]*(?P<title>.*)$"), ("*[",), "run"),
}


def _quick_steps(md: markdown.Markdown) -> None:
    """Python-Markdown tries its block processors in turn on each block (a paragraph, a list),
    and several search the whole block with a regular expression: a header needs "#", a
    rule "-", "_" or "*", a quote ">", a link reference "[", an abbreviation "*[", a table
    "|". A processor whose expression is the known one is skipped when the block holds none
    of its strings; it would not have matched (a processor that searches in `run` puts the
    block back and says no). Two tree steps likewise: attr_list looks for "{" in every text
    of the document, and unescape for the STX that marks a backslash escape. Tested against
    plain Python-Markdown like QuickInline."""
    processors = md.parser.blockprocessors
    for name, (attribute, sources, needs, method) in _BLOCK_NEEDS.items():
        processor = _registered(processors, name)
        if getattr(getattr(processor, attribute, None), "pattern", None) in sources:
            _skip_unless(processor, needs, method)
    if type(_registered(processors, "table")) is TableProcessor:
        _skip_unless(processors["table"], ("|",), "test")  # every row of a table has a pipe
    tree = md.treeprocessors
    attrs = _registered(tree, "attr_list")
    if type(attrs) is AttrListTreeprocessor and attrs.BASE_RE == _ATTRS:
        _skip_tree_unless(attrs, "{")  # `{: .class }`: nothing to look at in most texts
    unescape = _registered(tree, "unescape")
    if type(unescape) is UnescapeTreeprocessor and unescape.RE.pattern == _ESCAPED:
        original = unescape.unescape  # (a backslash escape is kept as STX, its code, ETX)
        unescape.unescape = lambda text: original(text) if util.STX in text else text
    for name, kind, needs, tail in _PRE_NEEDS:
        step = _registered(md.preprocessors, name)
        if type(step) is kind:
            _pass_unless(step, needs, tail)


# preprocessor -> (its class, the strings one of which a text it changes holds, the lines it
# adds to any text): whitespace to normalise (CR, tab, STX/ETX, a line of spaces), raw HTML
# or an entity, a fence
_PRE_NEEDS = (
    ("normalize_whitespace", NormalizeWhitespace, ("\r", "\t", " \n", util.STX, util.ETX),
     ("", "")),
    ("html_block", HtmlBlockPreprocessor, ("<", "&"), ()),
    ("fenced_code_block", FencedBlockPreprocessor, ("```", "~~~"), ()),
)
_PROBE = ("A paragraph, with: *marks* and [links](/x).", "", "- a list", "", "| a | b |")


def _pass_unless(step: object, needs: tuple[str, ...], tail: tuple[str, ...]) -> None:
    """Run a preprocessor (it joins the text's lines and searches all of it) only on a text
    holding one of `needs`: on the others it gives the lines as they are, plus `tail`.
    Installed only when the step does exactly that with a probe text (a release that
    changed the step would show it)."""
    original = step.run
    if original(list(_PROBE)) != [*_PROBE, *tail]:
        return

    def run(lines: list[str]) -> list[str]:
        text = "\n".join(lines) + "\n"  # (a last line of spaces is one before the tail)
        return original(lines) if any(n in text for n in needs) else [*lines, *tail]

    step.run = run


def _registered(registry: util.Registry, name: str) -> object:
    """`registry[name]`, or None (a Registry has no `get`)."""
    try:
        return registry[name]
    except KeyError:
        return None


_ATTRS = r"\{\:?[ ]*([^\}\n ][^\n]*)\}"  # attr_list's expression in Python-Markdown 3.x
_ESCAPED = rf"{util.STX}(\d+){util.ETX}"


def _skip_tree_unless(processor: object, needed: str) -> None:
    """Run a tree step that only reads texts and tails for `needed` only when one holds it."""
    original = processor.run

    def run(root) -> None:
        for element in root.iter():
            if needed in (element.text or "") or needed in (element.tail or ""):
                return original(root)
        return None

    processor.run = run


def _skip_unless(processor: object, needs: tuple[str, ...], method: str) -> None:
    original = getattr(processor, method)

    def test(parent, block: str) -> bool:
        return any(text in block for text in needs) and original(parent, block)

    def run(parent, blocks: list[str]) -> bool:
        return any(text in blocks[0] for text in needs) and original(parent, blocks)

    setattr(processor, method, test if method == "test" else run)


class _Listed(util.Registry):
    """A registry whose list is made once, not on each iteration: Python-Markdown walks its
    block processors for every block (a list of 13 built, and sorted if need be, each time).
    Registering or deregistering a step makes the list again."""

    _listed: list | None = None

    def __iter__(self):
        if self._listed is None:
            self._listed = list(super().__iter__())
        return iter(self._listed)

    def register(self, item, name: str, priority: float) -> None:
        self._listed = None
        super().register(item, name, priority)

    def deregister(self, name: str, strict: bool = True) -> None:
        self._listed = None
        super().deregister(name, strict)


class _Markdown(markdown.Markdown):
    """Python-Markdown asks whether a tag is block-level ~90 times a post, each a scan of a
    list of 40 names: here the answer is kept by tag, from a set made once the extensions have
    added theirs."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._blocks = frozenset(self.block_level_elements)
        self._block_tags: dict[str, bool] = {}
        self.parser.blockprocessors.__class__ = _Listed
        _quick_steps(self)

    def is_block_level(self, tag) -> bool:
        if type(tag) is str:
            known = self._block_tags.get(tag)
            if known is None:
                known = tag.lower().rstrip("/") in self._blocks
                if len(self._block_tags) < 1000:  # (tags come from the texts: keep a few)
                    self._block_tags[tag] = known
            return known
        return isinstance(tag, str) and tag.lower().rstrip("/") in self._blocks


def new_markdown() -> markdown.Markdown:
    """A converter with the site's extensions (reuse it, calling `reset()` between texts)."""
    extensions = [_QuickTocExtension() if name == "toc" else name for name in EXTENSIONS]
    return _Markdown(extensions=[*extensions, _QuickInlineExtension()], output_format="html")
