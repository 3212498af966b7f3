# The front door. `make site` and `make test` work on a fresh machine: they create .venv/,
# install eesite and every dependency into it (and Debian's chromium for browser tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CHROMIUM ?= /usr/bin/chromium
# npm tools of the quality gates (tests/test_gate_*.py), pinned, in a project-local folder.
TOOLS := .tools
TOOLS_STAMP := $(TOOLS)/.installed-stamp
NPM_TOOLS := vnu-jar@26.9.27 axe-core@4.14.1

.PHONY: setup site test lint check clean browser tools help bench bench-compare serve

help:
	@echo "make site   - set up .venv and build the bundled site into output/"
	@echo "make test   - set up and run ruff and the whole test suite"
	@echo "make check  - validate content and templates without writing"
	@echo "make clean  - remove output/ and caches (keeps .venv)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# eesite's own bytecode, written here because Python does not write it where
# PYTHONDONTWRITEBYTECODE is set (as on this project's machines): each `eesite` run would
# compile its modules again (~0.06 s of a 0.3 s build with nothing to do). Up to date: ~0.05 s.
setup: $(STAMP)
	@$(BIN)/python -m compileall -q eesite

# Debian's chromium for the browser tests (playwright's own browser download is not used).
browser:
	@test -x $(CHROMIUM) || { \
	  echo "installing chromium from Debian (needs root)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core; }

# The Nu HTML Checker (vnu.jar, runs on Java) and axe-core, from npm; Java and npm from
# Debian when missing (needs root there).
$(TOOLS_STAMP): Makefile
	@command -v java >/dev/null || { echo "installing Java from Debian (needs root)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless; }
	@command -v npm >/dev/null || { echo "installing npm from Debian (needs root)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }
	npm install --prefix $(TOOLS) --no-audit --no-fund --no-save --silent $(NPM_TOOLS)
	touch $(TOOLS_STAMP)

tools: $(TOOLS_STAMP)

site: setup
	$(BIN)/eesite build

check: setup
	$(BIN)/eesite check

lint: setup
	$(BIN)/ruff check eesite tests benchmarks

test: setup browser tools lint
	$(BIN)/pytest -q

clean:
	rm -rf output .output.eesite-* .pytest_cache .ruff_cache test-artifacts

# Speed and memory at 1,000 and 10,000 generated posts (never pass/fail); see README "Performance".
bench: setup
	$(BIN)/python benchmarks/run.py

# Cold builds of the same generated posts by eesite, Hugo (Debian's) and Pelican (pip, in its own
# venv under the git-ignored benchmarks/.work/), side by side; pass e.g.
# COMPARE_ARGS="--sizes 1000,10000" for the full run. Never pass/fail; see README "Performance".
PELICAN_VENV := benchmarks/.work/pelican-venv
COMPARE_ARGS ?=
bench-compare: setup
	@command -v hugo >/dev/null || { echo "installing hugo from Debian (needs root)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hugo; }
	@test -x $(PELICAN_VENV)/bin/pelican || { $(PYTHON) -m venv $(PELICAN_VENV) && \
	  $(PELICAN_VENV)/bin/pip install --quiet 'pelican==4.12.0' markdown; }
	$(BIN)/python benchmarks/compare.py --pelican $(PELICAN_VENV)/bin/pelican $(COMPARE_ARGS)

# Live preview: build, serve on http://127.0.0.1:8000/, rebuild and reload on save (Ctrl-C stops).
serve: setup
	$(BIN)/eesite serve
