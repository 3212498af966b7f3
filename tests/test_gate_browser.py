"""Quality gates in a real browser: WCAG 2.1 A/AA (axe-core) and layout on phones and desktops.

Debian's chromium, driven by Playwright, loads the bundled site from a real HTTP server on
127.0.0.1. axe-core (from npm, `make tools`) is injected into each page. Screenshots of every
key page at both widths go to test-artifacts/ so a person can look at them.
"""

from __future__ import annotations

import pytest

from tests.conftest import ARTIFACTS, Served, tool

playwright = pytest.importorskip("playwright.sync_api")

WCAG = {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}
# The dark palette changes only colours: rerun only the rules about colour there.
COLOUR = {"type": "rule", "values": ["color-contrast", "link-in-text-block"]}
WIDTHS = (375, 1280)

# The key pages: one line per page, name → URL. (Add the occupation index, filtered and not,
# and an occupation page here when they exist.)
KEY_PAGES = {
    "home": "/",
    "draw-general": "/draws/294/",
    "draw-category": "/draws/434/",
    "draw-flagged": "/draws/247/",  # a flagged subtotal and data notes
    "archive": "/draws/",
    "categories": "/categories/",
    "category": "/categories/stem/",
    "article": "/posts/occupation-lists-2023-2026/",
    "home-page-2": "/page/2/",
    "404": "/404.html",
    "occupations": "/occupations/",
    "occupations-filtered": "/occupations/?q=nurse&cat=healthcare",
    "occupation": "/occupations/31301/",
    "occupation-category": "/occupations/stem/",
    "numbers": "/numbers/",
    "charts": "/charts/",
    "year": "/2025/",
    "pool": "/pool/",
    "feeds": "/feeds/",
}

# Parts of a page wider than the screen that are meant to be: a region that scrolls sideways
# on its own (wide tables on phones), and the skip link parked off screen until focused.
OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const scrolls = (el) => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  const inScroller = (el) => { for (let p = el.parentElement; p; p = p.parentElement)
      if (scrolls(p)) return true; return false; };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
      + (typeof el.className === 'string' && el.className
         ? '.' + el.className.trim().replace(/\\s+/g, '.') : '');
  const out = [];
  if (document.documentElement.scrollWidth > width)
    out.push(`page scrolls sideways: ${document.documentElement.scrollWidth}px > ${width}px`);
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || r.right <= 0 || inScroller(el)) continue;
    if (r.right > width + 1 || r.left < -1)
      out.push(`${name(el)} spans ${Math.round(r.left)}..${Math.round(r.right)}px of ${width}px`);
    const style = getComputedStyle(el);
    if (!scrolls(el) && ['hidden', 'clip'].includes(style.overflowX) && el.scrollWidth > el.clientWidth + 1)
      out.push(`${name(el)} clips its content: ${el.scrollWidth}px in ${el.clientWidth}px`);
    else if (!el.children.length && !(el instanceof SVGElement) && style.overflowX === 'visible'
             && el.scrollWidth > el.clientWidth + 1)  // SVG text: its box is the viewBox's
      out.push(`${name(el)} content sticks out: ${el.scrollWidth}px in ${el.clientWidth}px`);
  }
  return out.slice(0, 20);
}"""


def axe_violations(page, rules: dict = WCAG) -> list[str]:
    page.add_script_tag(path=str(tool("axe-core/axe.min.js")))
    result = page.evaluate("(rules) => axe.run(document, {runOnly: rules})", rules)
    return [f"{v['id']} ({v['impact']}): {v['help']}: "
            + "; ".join(", ".join(n["target"]) for n in v["nodes"][:5])
            for v in result["violations"]]


@pytest.mark.parametrize(("scheme", "rules"), [("light", WCAG), ("dark", COLOUR)], ids=["light", "dark"])
def test_key_pages_have_no_wcag_violations(bundled_site: Served, browser, scheme: str, rules: dict):
    """WCAG 2.1 A and AA; the stylesheet has a dark palette, and contrast must hold in it too."""
    context = browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    found = {}
    for name, url in KEY_PAGES.items():
        page.goto(bundled_site.base + url)
        if violations := axe_violations(page, rules):
            found[name] = violations
    context.close()
    assert found == {}


def test_axe_finds_violations(browser, tmp_path):
    """The gate can fail: low contrast, an image without alt text and a field without label."""
    page = browser.new_page()
    page.set_content('<!DOCTYPE html><html lang="en"><title>x</title><main><h1>x</h1>'
                     '<p style="color:#bbb;background:#fff">faint</p><img src="data:,">'
                     '<input type="text"></main></html>')
    found = " ".join(axe_violations(page))
    page.close()
    assert "color-contrast" in found and "image-alt" in found and "label" in found


@pytest.mark.parametrize("width", WIDTHS)
def test_key_pages_fit_the_screen(bundled_site: Served, browser, width: int):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    ARTIFACTS.mkdir(exist_ok=True)
    found = {}
    for name, url in KEY_PAGES.items():
        response = page.goto(bundled_site.base + url)
        assert response and response.ok, url
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=name != "archive")
        if problems := page.evaluate(OVERFLOW_JS):
            found[name] = problems
    context.close()
    assert found == {}


def test_layout_check_finds_overflow(browser):
    """The gate can fail: a wide block outside any scroll region is caught on a phone."""
    page = browser.new_page(viewport={"width": 375, "height": 600})
    page.set_content('<!DOCTYPE html><html lang="en"><body><pre>' + "x" * 200 + "</pre>"
                     '<div style="overflow-x:auto"><table><tr><td>' + "y" * 200 + "</td></tr>"
                     "</table></div></body></html>")
    problems = page.evaluate(OVERFLOW_JS)
    page.close()
    assert problems and problems[0].startswith("page scrolls sideways")
    assert any(p.startswith("pre content sticks out") for p in problems)
    assert not any(p.startswith(("table", "td")) for p in problems)
