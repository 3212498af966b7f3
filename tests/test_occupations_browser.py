"""The /occupations/ filter in a real headless chromium, over a real http.server on 127.0.0.1."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator

import pytest

from eesite.build import Options, build
from eesite.occupation_pages import fold
from eesite.occupations import load_occupations
from eesite.settings import load_settings
from tests.conftest import CHROMIUM, NOW, ROOT

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (make browser)")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest's output clean
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """The bundled site, built into a temporary folder and served on 127.0.0.1."""
    output = tmp_path_factory.mktemp("served") / "output"
    build(Options(ROOT, output, now=NOW), load_settings(ROOT))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            functools.partial(_Quiet, directory=str(output)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def shown(page) -> list[str]:
    """NOC codes of the rows the filter leaves visible."""
    return page.eval_on_selector_all(
        "#occ-table tbody tr", "rows => rows.filter(r => !r.hidden).map(r => r.cells[0].textContent.trim())")


def expected(query: str, categories: tuple[str, ...] = ()) -> list[str]:
    """What the filter should show, worked out from the data files in Python."""
    index = load_occupations(ROOT)
    terms = fold(query).split()
    out = []
    for occ in index.occupations:
        words = fold(f"{occ.noc} {occ.title}").split()
        cats = {lst.category.slug for lst in index.in_lists(occ.noc)}
        if all(any(w.startswith(t) for w in words) for t in terms) and (
                not categories or cats & set(categories)):
            out.append(occ.noc)
    return out


def test_typing_a_code_and_a_word_filters_rows_and_updates_the_url(server, page):
    page.goto(f"{server}/occupations/")
    assert len(shown(page)) == 130
    page.fill("#occ-q", "")
    page.type("#occ-q", "21231")
    assert shown(page) == ["21231"]
    assert page.url.endswith("/occupations/?q=21231")
    assert page.text_content("#occ-count") == "Showing 1 of 130 occupations"

    page.fill("#occ-q", "")
    page.type("#occ-q", "nurse")
    rows = shown(page)
    assert rows == expected("nurse")
    assert {"31301", "31302", "32101"} <= set(rows)
    assert "Nurse practitioners" in page.inner_text("#occ-table tbody")

    page.check("input[name=cat][value=stem]")
    assert shown(page) == [] and page.is_visible("#occ-empty")
    assert "q=nurse&cat=stem" in page.url
    page.uncheck("input[name=cat][value=stem]")
    assert shown(page) == expected("nurse")


def test_a_shared_url_restores_the_filter(server, page):
    page.goto(f"{server}/occupations/?q=engineer&cat=stem&cat=transport")
    assert page.input_value("#occ-q") == "engineer"
    assert page.is_checked("input[name=cat][value=stem]")
    assert page.is_checked("input[name=cat][value=transport]")
    assert not page.is_checked("input[name=cat][value=healthcare]")
    assert shown(page) == expected("engineer", ("stem", "transport"))
    page.goto(f"{server}/occupations/?q=nurse&current=1")
    assert page.is_checked("input[name=current]")
    assert set(shown(page)) == {"31301", "31302", "32101", "33102"}  # all on the 2026 list


def test_keyboard_only(server, page):
    page.goto(f"{server}/occupations/")
    for _ in range(40):  # Tab from the top of the page until the search box has focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "occ-q":
            break
    else:
        pytest.fail("the search box cannot be reached with Tab")
    page.keyboard.type("engineer")
    page.keyboard.press("Tab")  # first category box: Healthcare
    page.keyboard.press("Tab")  # STEM
    assert page.evaluate("document.activeElement.value") == "stem"
    page.keyboard.press("Space")
    assert shown(page) == expected("engineer", ("stem",))
    page.keyboard.press("Enter")  # submitting the form must not reload or lose the filter
    assert shown(page) == expected("engineer", ("stem",))
    first = shown(page)[0]
    for _ in range(40):  # on to the first visible row's link, past the other controls
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('#occ-table') !== null"):
            break
    assert page.evaluate("document.activeElement.textContent") == first
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/occupations/{first}/")
    assert page.inner_text("h1").startswith(first)


def test_without_javascript_every_row_shows(server, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{server}/occupations/?q=21231")
    assert not page.is_visible("#occ-filter")
    assert page.locator("#occ-table tbody tr").count() == 130
    context.close()


@pytest.mark.parametrize("path", ["/occupations/", "/occupations/?q=nurse", "/occupations/healthcare/",
                                  "/occupations/31301/", "/occupations/changes/", "/draws/398/"])
def test_no_horizontal_scroll_at_375px(server, browser, path):
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    page.goto(server + path)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    # and the occupation tables fit without a scroll box of their own
    for width, client in page.eval_on_selector_all(
            "table.occupations, table.occ-draws",
            "ts => ts.map(t => [t.getBoundingClientRect().right, document.documentElement.clientWidth])"):
        assert width <= client
    context.close()
