"""Settings from [tool.eesite]: documented defaults, unknown keys and bad values are errors."""

from __future__ import annotations

import pytest

from eesite.errors import BuildError
from eesite.settings import Settings, load_settings


def test_defaults_without_a_table(tmp_path):
    assert load_settings(tmp_path) == Settings()


def test_values_and_overrides(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.eesite]\ntitle = "X"\nposts_per_page = 3\n', encoding="utf-8")
    settings = load_settings(tmp_path, base_url="https://a.example/")
    assert (settings.title, settings.posts_per_page) == ("X", 3)
    assert settings.absolute("/draws/1/") == "https://a.example/draws/1/"


def test_unknown_and_bad_settings_all_reported_with_lines(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.eesite]\npost_per_page = 3\nfeed_length = "50"\n'
        'timezone = "Mars/Olympus"\nbase_url = "example.org"\n', encoding="utf-8")
    with pytest.raises(BuildError) as err:
        load_settings(tmp_path)
    found = [str(p) for p in err.value.problems]
    assert 'pyproject.toml:5: post_per_page: unknown setting (did you mean "posts_per_page"?)' in found
    assert "pyproject.toml:6: feed_length: expected int, got str '50'" in found
    assert any(p.startswith("pyproject.toml:7: timezone: expected an IANA time zone") for p in found)
    assert any(p.startswith("pyproject.toml:8: base_url: expected an http(s) URL") for p in found)


def test_broken_toml(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.eesite\n", encoding="utf-8")
    with pytest.raises(BuildError, match="not valid TOML"):
        load_settings(tmp_path)
