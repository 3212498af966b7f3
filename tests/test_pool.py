"""Forked workers (eesite/pool.py): results in order, and pages claimed by exactly one worker."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from eesite import pool
from eesite.pool import Claims, fork_map


def test_fork_map_returns_results_in_order_from_other_processes():
    results = list(fork_map(lambda n: (n * n, os.getpid()), range(40), 2))
    assert [square for square, _ in results] == [n * n for n in range(40)]
    assert os.getpid() not in {pid for _, pid in results}  # really forked


def _young_ids() -> set[int]:
    return {id(o) for generation in (0, 1) for o in gc.get_objects(generation=generation)}


def test_a_workers_results_are_not_left_young_for_the_collector_to_scan():
    """A worker's results (a build's posts, 0.3 s to unpickle at 10,000) are all kept: left
    in the collector's young generations, its next passes would scan every one of them for
    nothing (0.03-0.06 s each). They are unpickled with the collector paused and go straight
    to its oldest generation."""
    gc.collect()
    results = list(fork_map(lambda n: [(str(n), k) for k in range(500)], range(40), 2))
    assert len(results) == 40 and results[39][499] == ("39", 499)
    young = _young_ids()
    assert [n for n, rows in enumerate(results) if id(rows) in young] == []
    assert gc.get_freeze_count() == 0  # (fork_map's freeze is undone once it is over)


def test_what_is_made_while_the_collector_is_paused_to_keep_is_not_young():
    from eesite.pool import collector_paused

    gc.collect()
    with collector_paused(keep=True):
        kept = [[k] for k in range(50_000)]
    with collector_paused():
        passing = [[k] for k in range(50_000)]
    young = _young_ids()
    assert gc.isenabled()
    assert id(kept) not in young and id(kept[-1]) not in young
    assert id(passing) in young or id(passing[-1]) in young
    # nothing is left frozen (a long `eesite serve` must reclaim its garbage as before), but
    # what was kept is in the collector's oldest generation
    assert gc.get_freeze_count() == 0
    assert id(kept) in {id(o) for o in gc.get_objects(generation=2)}


def _keep_and_watch() -> tuple[bool, int]:
    """Keep what a `collector_paused(keep=True)` block makes, watching for calls of
    `gc.get_freeze_count`: (is what was kept frozen, how many calls)."""
    calls = []

    def watch(frame, event, arg):
        if event == "c_call" and arg is gc.get_freeze_count:
            calls.append(frame.f_code.co_name)

    sys.setprofile(watch)
    try:
        with pool.collector_paused(keep=True):
            kept = [[k] for k in range(1000)]
    finally:
        sys.setprofile(None)
    tracked = {id(o) for generation in (0, 1, 2) for o in gc.get_objects(generation=generation)}
    return id(kept) not in tracked, len(calls)


def test_keeping_in_a_worker_leaves_the_heap_frozen_and_never_counts_it():
    """While fork_map runs, its process and its workers have the whole heap frozen, and what
    a worker keeps (a shard of the HTML store it loads) stays frozen with it. Whether to
    leave it frozen is not asked of `gc.get_freeze_count`: it counts the frozen objects one
    by one (19 ms a call at 10,000 posts; a worker loading 12 shards for a feed spent 0.23 s
    in it)."""
    assert list(fork_map(lambda n: _keep_and_watch(), range(4), 2)) == [(True, 0)] * 4
    assert _keep_and_watch() == (False, 0)  # outside fork_map: kept, but nothing left frozen
    assert gc.get_freeze_count() == 0


def test_the_freeze_ends_with_the_last_fork_map_whatever_order_they_end_in():
    """Two fork_map calls at once (one inside the other, or overlapping): the heap stays
    frozen while either runs, and nothing is left frozen once both are done."""
    outer = fork_map(lambda n: n, range(4), 2)
    assert next(outer) == 0  # running: its workers forked, the heap frozen
    assert list(fork_map(lambda n: n * 2, range(4), 2)) == [0, 2, 4, 6]  # one inside it
    assert gc.get_freeze_count() > 0  # the outer one's freeze is still on
    later = fork_map(lambda n: n * 3, range(4), 2)
    assert next(later) == 0
    assert list(outer) == [1, 2, 3]  # the first ends first
    assert gc.get_freeze_count() > 0 and _keep_and_watch() == (True, 0)
    assert list(later) == [3, 6, 9]
    assert gc.get_freeze_count() == 0 and _keep_and_watch() == (False, 0)


def _pid_and_table(n: int) -> tuple[int, dict[str, int]]:  # (run by `ahead`: found by name)
    return os.getpid(), {str(k): k for k in range(n)}


def _fails() -> None:
    raise ValueError("no answer")


def _slow(mark: str) -> None:
    Path(mark).write_text(str(os.getpid()))
    time.sleep(60)


def test_work_ahead_runs_in_another_process_and_its_result_comes_back():
    with pool.ahead(_pid_and_table, 50_000) as result:
        pid, table = result()
        assert pid != os.getpid() and len(table) == 50_000 and table["49999"] == 49_999
        assert result()[1] is table  # asked again: the same answer, not another wait
    with pool.ahead(_fails) as failed:
        assert failed() is None  # it failed: no answer, the caller does the work itself
    with pool.ahead(lambda: 1) as unnamed, pool.ahead(_pid_and_table, threading.Lock()) as odd:
        assert unnamed() is None and odd() is None  # not to be sent: no answer either


def test_work_ahead_runs_no_code_of_the_current_folder(tmp_path, monkeypatch):
    """The process is started isolated: a site's checkout holding `signal.py` or `pickle.py`
    (the first modules it imports) is not code it runs."""
    for name in ("signal", "pickle", "shutil"):
        (tmp_path / f"{name}.py").write_text(
            f"open({str(tmp_path / (name + '.ran'))!r}, 'w').close()\n")
    monkeypatch.chdir(tmp_path)
    with pool.ahead(_pid_and_table, 3) as result:
        assert result()[1] == {"0": 0, "1": 1, "2": 2}
    assert not list(tmp_path.glob("*.ran"))


def test_work_ahead_not_asked_for_is_ended(tmp_path):
    """Leaving without asking (a build that failed first) ends the process; none is left."""
    mark = tmp_path / "pid"
    started = time.monotonic()
    with pool.ahead(_slow, str(mark)):
        while not mark.exists() or not mark.read_text():
            time.sleep(0.01)
    assert time.monotonic() - started < 30
    try:
        os.kill(int(mark.read_text()), 0)
    except ProcessLookupError:
        pass
    else:
        raise AssertionError("the process working ahead is still there")


def test_meanwhile_runs_once_in_the_parent_while_the_workers_work(tmp_path):
    """A build lists the spare in the parent while the workers render: `meanwhile` runs in
    this process, once, before the results are waited for; without workers it runs first."""
    started = tmp_path / "started"

    def work(n: int) -> int:
        deadline = time.monotonic() + 10
        while not started.exists() and time.monotonic() < deadline:  # until meanwhile ran
            time.sleep(0.01)
        return n * 2 if started.exists() else -1

    calls: list[int] = []

    def meanwhile() -> None:
        calls.append(os.getpid())
        started.write_text("yes")

    assert list(fork_map(work, range(6), 2, meanwhile=meanwhile)) == [0, 2, 4, 6, 8, 10]
    assert calls == [os.getpid()]
    started.unlink()
    assert list(fork_map(work, range(3), 1, meanwhile=meanwhile)) == [0, 2, 4]
    assert calls == [os.getpid()] * 2


def test_here_the_parent_runs_the_first_share_itself_after_meanwhile():
    """render's shares claim their pages among themselves: the parent runs one (after
    `meanwhile`), forking one worker fewer, and every result still comes back in order."""
    order: list[object] = []  # (a forked worker appends to its own copy)

    def task(n: int) -> tuple[int, int]:
        order.append(n)
        return n, os.getpid()

    results = list(fork_map(task, range(2), 2, batches=1, here=True,
                            meanwhile=lambda: order.append("meanwhile")))
    assert [n for n, _ in results] == [0, 1]
    assert results[0][1] == os.getpid() and results[1][1] != os.getpid()
    assert order == ["meanwhile", 0]
    spread = list(fork_map(lambda n: (n, os.getpid()), range(9), 3, batches=1, here=True))
    assert [n for n, _ in spread] == list(range(9))
    pids = [pid for _, pid in spread]
    assert pids[:3] == [os.getpid()] * 3 and os.getpid() not in pids[3:]


def test_claims_go_in_blocks_of_neighbouring_turns():
    """A worker that takes a turn owns the next `block` - 1 too (neighbouring pages share what
    their checks hash); the other worker (a copy sharing the counter, as a fork is) gets none
    of them and takes the next block."""
    import copy

    one = Claims(block=4)
    other = copy.copy(one)  # its own block, the same shared counter and lock
    assert [one.take(t) for t in range(4)] == [True] * 4
    assert [other.take(t) for t in range(4)] == [False] * 4
    assert other.take(4) and not one.take(4) and not one.take(7) and other.take(7)
    assert one.take(8) and one.take(11) and not other.take(8) and not other.take(11)
    assert other.take(12) and not one.take(12)


def test_a_worker_that_runs_two_walks_takes_no_turn_twice(tmp_path):
    """A worker that starts late leaves both walks (render's tasks) to the other one, which
    then walks the turns twice: its last block is not its own in the second walk (it used
    to make those pages again, and the build failed: two items on one URL)."""
    one = Claims(block=16)
    first = [t for t in range(40) if one.take(t)]
    one.restart()
    assert first == list(range(40)) and [t for t in range(40) if one.take(t)] == []

    import multiprocessing

    from eesite.build import Options, load_site
    from eesite.render import render
    from eesite.settings import load_settings
    from tests.conftest import ROOT

    started = multiprocessing.get_context("fork").Value("i", 0)
    usual = pool._worker_signals

    def second_starts_late() -> None:
        usual()
        with started.get_lock():
            started.value += 1
            late = started.value == 2
        if late:
            time.sleep(1.5)  # a loaded machine: the first worker runs both tasks meanwhile

    site = load_site(Options(source=ROOT, output=tmp_path / "out"), load_settings(ROOT))
    pool._worker_signals = second_starts_late
    try:
        # no cache: forked, with claims; three tasks: this process runs one, so two forked
        # workers share the other two (with two, one worker runs one task)
        pages = render(site, ROOT / "templates", jobs=3)
    finally:
        pool._worker_signals = usual
    assert started.value == 2 and len(pages) > 800


def test_claims_give_every_turn_to_exactly_one_worker_and_the_idle_one_takes_more():
    """Both workers walk every turn; the one busy with large pages takes fewer. Each walk
    waits (a while) for the other to start and every page costs a little, as real pages do:
    on a loaded machine one worker once walked all 3,000 turns before the other began (CI)."""
    import multiprocessing

    def walk(item: tuple[int, Claims, object]) -> tuple[list[int], int]:
        worker, claims, arrived = item
        with arrived.get_lock():
            arrived.value += 1
        deadline = time.monotonic() + 2  # the same worker may run both walks: then go on
        while arrived.value < 2 and time.monotonic() < deadline:
            time.sleep(0.001)
        taken = []
        for turn in range(3000):  # every worker walks every turn, as sections do
            if claims.take(turn):
                taken.append(turn)
                if turn % 16 == 0:
                    time.sleep(0.0005)  # a page's work
                if worker == 0 and turn % 50 == 0:
                    time.sleep(0.005)  # a large page: the other worker should go on meanwhile
        return taken, os.getpid()

    for _ in range(10):  # a worker that starts first may run both walks, one after the other
        claims = Claims()
        arrived = multiprocessing.get_context("fork").Value("i", 0)
        items = [(0, claims, arrived), (1, claims, arrived)]
        (first, one), (second, other) = fork_map(walk, items, 2, batches=1)
        assert sorted(first + second) == list(range(3000))  # none lost, none made twice
        if one != other and first and len(second) > len(first):
            break  # (a loaded machine may deschedule the idle worker: then try again)
    assert one != other, "the two walks never ran in two workers at once"
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


def test_workers_end_even_when_the_parent_keeps_sigterm_for_itself(tmp_path):
    """`eesite serve` handles SIGTERM itself; forked workers inherit that handler. Pool ends
    workers still waiting for a task with SIGTERM, and a worker that ignored it made the rebuild
    wait forever (within a dozen rounds before the fix). Run in a child with a deadline: a hang
    here must fail the test, not stop the suite."""
    script = tmp_path / "rounds.py"
    script.write_text(
        "import signal, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})\n"
        "from eesite.pool import fork_map\n"
        "signal.signal(signal.SIGTERM, lambda *_: None)  # as eesite serve does\n"
        "for n in range(200):\n"
        "    assert list(fork_map(lambda k: k * k, range(4), 2, batches=1)) == [0, 1, 4, 9]\n"
        "print('done', flush=True)\n", encoding="utf-8")
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        out, _ = child.communicate(timeout=120)  # ~3 s when it works
    except subprocess.TimeoutExpired:
        child.kill()  # SIGKILL: the child's own SIGTERM handler would ignore a terminate()
        for pid in subprocess.run(["pgrep", "-f", str(script)], capture_output=True,
                                  text=True).stdout.split():
            os.kill(int(pid), signal.SIGKILL)
        child.communicate()
        raise AssertionError("fork_map hung: a worker outlived Pool.terminate()") from None
    assert child.returncode == 0 and out.strip() == "done"


def test_draws_json_is_made_by_the_parent_not_piped_back_from_a_worker(tmp_path, monkeypatch):
    """draws.json (6 MB at 10,000 posts, made again on every front-matter edit) is made by
    the parent's own share (`Renderer.file(here=True)`), taking no turn: made by a forked
    worker, its bytes were pickled back through a pipe."""
    from eesite import render as render_module
    from eesite.build import Options, load_site
    from eesite.render import render
    from eesite.settings import load_settings
    from tests.conftest import ROOT, by_process

    calls = tmp_path / "calls"
    monkeypatch.setattr(render_module, "draws_json", by_process(calls, render_module.draws_json))
    site = load_site(Options(source=ROOT, output=tmp_path / "out"), load_settings(ROOT))
    pages = render(site, ROOT / "templates", jobs=2)  # no cache: forked, with claims
    assert calls.read_text().split() == [str(os.getpid())]
    assert any(p.path == "draws.json" and b'"draws": [' in p.data for p in pages)


def test_a_kept_page_made_again_in_the_parent_equals_the_one_the_worker_kept():
    """A forked worker sends its kept pages back as plain fields and the parent makes them
    again without the dataclass's __init__ (`render._kept_page`): every field as `_Made`
    gives it (a field added to Page and forgotten there fails here)."""
    from datetime import datetime, timezone

    from eesite.render import _kept_page, _Made

    when = datetime(2026, 1, 2, tzinfo=timezone.utc)
    made = _Made("draws/1/index.html", b"", "content/draws/x.md", when, True, kept="abc")
    again = _kept_page("draws/1/index.html", "content/draws/x.md", when, True, "abc")
    assert type(again) is _Made and again == made and vars(again) == vars(made)
