"""`eesite import` end to end: a corrected figure reaches the page as a visible update."""

from __future__ import annotations

import json

from eesite.cli import main
from tests.conftest import ROOT

FEED = ROOT / "content" / "data" / "ircc" / "ee_rounds_123_en.json"


def feed_with(tmp_path, round_id: str, **fields) -> str:
    data = json.loads(FEED.read_text(encoding="utf-8"))
    data["rounds"] = [r for r in data["rounds"] if r["drawNumber"] in {"237", "238"}]
    for record in data["rounds"]:
        if record["drawNumber"] == round_id:
            record.update(fields)
    path = tmp_path / f"feed-{len(fields)}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_import_twice_then_a_correction_shows_on_the_page(site, tmp_path, capsys):
    first = feed_with(tmp_path, "238", drawCRS="507")
    assert main(["import", first, "--source", str(site.root)]) == 0
    assert "created 2 posts" in capsys.readouterr().out
    post = next((site.root / "content/draws").glob("0238-*.md"))
    post.write_text(post.read_text(encoding="utf-8") + "My analysis of round 238.\n", encoding="utf-8")

    assert main(["import", first, "--source", str(site.root)]) == 0
    assert "unchanged: 2 posts" in capsys.readouterr().out

    assert main(["import", str(FEED.parent / FEED.name), "--source", str(site.root)]) == 0
    out = capsys.readouterr().out
    assert "round 238: crs_cutoff 507 → 490" in out
    text = post.read_text(encoding="utf-8")
    assert "crs_cutoff: 490" in text and text.endswith("My analysis of round 238.\n")
    assert "corrections:" in text and "updated:" in text

    assert site.run("build") == 0
    page = site.page("draws/238/index.html")
    assert "IRCC corrected the CRS cut-off from 507 to 490." in page
    assert "My analysis of round 238." in page


def test_bad_feed_is_reported_and_nothing_written(site, tmp_path, capsys):
    bad = feed_with(tmp_path, "238", drawCRS="48six")
    assert main(["import", bad, "--source", str(site.root)]) == 1
    err = capsys.readouterr().err
    assert "drawCRS" in err and '"48six"' in err
    assert not list((site.root / "content/draws").iterdir())
