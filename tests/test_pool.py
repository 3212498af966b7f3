"""Forked workers (eesite/pool.py): results in order, and pages claimed by exactly one worker."""

from __future__ import annotations

import os
import time

from eesite.pool import Claims, fork_map


def test_fork_map_returns_results_in_order_from_other_processes():
    results = list(fork_map(lambda n: (n * n, os.getpid()), range(40), 2))
    assert [square for square, _ in results] == [n * n for n in range(40)]
    assert os.getpid() not in {pid for _, pid in results}  # really forked


def test_claims_give_every_turn_to_exactly_one_worker_and_the_idle_one_takes_more():
    claims = Claims()

    def walk(worker: int) -> list[int]:
        taken = []
        for turn in range(3000):  # every worker walks every turn, as sections do
            if claims.take(turn):
                taken.append(turn)
                if worker == 0 and turn % 50 == 0:
                    time.sleep(0.005)  # a large page: the other worker should go on meanwhile
        return taken

    first, second = fork_map(walk, [0, 1], 2, batches=1)
    assert sorted(first + second) == list(range(3000))  # none lost, none made twice
    assert first and len(second) > len(first)


def test_a_build_where_processes_cannot_fork_runs_in_one(site, monkeypatch, tmp_path):
    """Where there is no fork (Windows), the workers' tasks run one after the other in this
    process: each page still made once, none lost."""
    import multiprocessing

    from eesite import render
    from tests.conftest import draw_text
    from tests.test_incremental import clean_build, tree

    for n in range(1, 6):
        site.write(f"content/draws/{n:04d}-2023-07-0{n}-stem.md",
                   draw_text(str(n), draw_date=f"2023-07-0{n}"))
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    monkeypatch.setattr(render, "CHECK_IN_WORKERS", 1)
    monkeypatch.setenv("EESITE_JOBS", "2")
    assert site.run("build") == 0  # the first build: every page rendered
    site.write("content/draws/0003-2023-07-03-stem.md", draw_text("3", crs=301,
                                                                  draw_date="2023-07-03"))
    assert site.run("build") == 0  # a warm one: pages checked
    built = tree(site.output)
    clean = clean_build(site, tmp_path)
    for tree_ in (clean, built):
        tree_.pop(".eesite-manifest")
    assert built == clean
