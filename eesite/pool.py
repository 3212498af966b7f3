"""Work spread over the machine's cores with forked processes.

Forking lets every worker start with the parent's memory (the Site model, the compiled
templates, the Markdown cache) without pickling it; only the small task numbers go in and the
results come back. Small jobs stay in this process: starting workers costs more than it saves.
The collector is kept off the parent's objects while workers run (`gc.freeze`), and what comes
back from them or from the cache goes straight to its oldest generation (`collector_paused`).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
_TASK: Callable | None = None  # what the forked workers run (inherited, not pickled)
_ITEMS: list = []
# How many fork_map calls have `gc.freeze` on, in this process (a forked worker inherits its
# parent's count): the freeze ends when the last one does, whatever order they end in. Not
# `gc.get_freeze_count()`: it counts the frozen objects one by one, the whole heap while
# fork_map runs (19 ms a call at 10,000 posts; a worker loading 12 shards of the HTML store
# for a feed spent 0.23 s in it).
_freezes = 0
_freezes_lock = threading.Lock()


def _freeze() -> None:
    global _freezes
    with _freezes_lock:
        _freezes += 1
        gc.freeze()


def _thaw() -> None:
    global _freezes
    with _freezes_lock:
        _freezes -= 1
        if not _freezes:
            gc.unfreeze()


def _new_lock_in_child() -> None:
    global _freezes_lock
    _freezes_lock = threading.Lock()  # (one another thread held while this process forked)


os.register_at_fork(after_in_child=_new_lock_in_child)


def cores() -> int:
    """Cores this process may use (EESITE_JOBS overrides, e.g. 1 for debugging)."""
    wanted = os.environ.get("EESITE_JOBS", "")
    if wanted.isdigit() and int(wanted) > 0:
        return int(wanted)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class Claims:
    """Turns handed out first come, first served to forked workers that all walk the same
    sequence of turns in order: each turn goes to exactly one of them (the first to reach it
    takes it, with the `block` - 1 turns after it, and every turn before it is taken), and a
    worker busy with a big page leaves the next ones to the others. A fixed split (every n-th
    turn) left one worker a second behind when the large pages fell to it. Turns go in blocks
    because neighbouring pages share values to check (a pool snapshot page hashes the ones
    before and after it, memoised per process): one at a time, each worker hashed almost every
    snapshot. Create it before forking."""

    def __init__(self, block: int = 16) -> None:
        context = multiprocessing.get_context("fork")
        self._next = context.RawValue("q", 0)  # the first turn nobody has taken
        self._lock = context.Lock()
        self.block = block
        self._mine = range(0)  # this process's current block (each forked worker its own)

    def restart(self) -> None:
        """A new walk of the turns by this process (a worker may run two tasks when another
        starts late): its last block is not its own in the new walk."""
        self._mine = range(0)

    def take(self, turn: int) -> bool:
        if turn in self._mine:
            return True
        with self._lock:
            if self._next.value > turn:
                return False
            self._next.value = turn + self.block
        self._mine = range(turn, turn + self.block)
        return True


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def _worker_signals() -> None:
    """A forked worker starts with its parent's signal handlers. `eesite serve` turns SIGTERM
    into "stop when convenient"; a worker that kept that handler outlived the SIGTERM with which
    Pool.terminate() ends workers still waiting for a task, and the rebuild waited for it
    forever (one rebuild in ~30 at 10,000 posts). The parent forks with both signals blocked
    (see fork_map), so one sent before this runs waits, and kills the worker here. Ctrl-C is
    the parent's to handle."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)


@contextlib.contextmanager
def collector_paused(keep: bool = False) -> Iterator[None]:
    """No cyclic garbage collection inside (as it was before, after). `keep`: what is made
    inside is long-lived (a store or a worker's results unpickled: hundreds of thousands of
    objects, all kept), so every object the collector tracks is then moved to its oldest
    generation (`gc.freeze` then `gc.unfreeze`), out of the young ones, where its next pass
    would scan them all for nothing (0.03-0.06 s a pass at 10,000 posts). Nothing stays
    frozen (a long `eesite serve` reclaims all as before); garbage made in the same moment
    waits for a full collection instead of a young one."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        if keep:
            with _freezes_lock:  # (fork_map's freeze, in its process and workers: left on)
                gc.freeze()
                if not _freezes:
                    gc.unfreeze()
    finally:
        if enabled:
            gc.enable()


# What a process started by `ahead` runs, isolated (`-I`: no folder of its own, the current
# one included, on its path, no PYTHON* variables): this process's module path comes first on
# its standard input (eesite may not be where the interpreter looks by default), then the
# function (by name) and its arguments, all pickled; the result goes pickled to its output.
_AHEAD = """
import pickle, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
sys.path[:] = pickle.load(sys.stdin.buffer)
func, args = pickle.load(sys.stdin.buffer)
sys.stdout.buffer.write(pickle.dumps(func(*args), protocol=pickle.HIGHEST_PROTOCOL))
"""


@contextlib.contextmanager
def ahead(func: Callable[..., R], *args: object) -> Iterator[Callable[[], R | None]]:
    """`func(*args)` run from now on by another process, while this one goes on: the function
    given waits for its result (None when it failed). For work of this process's own that
    would hold its one core where the other is idle (a warm build's listing of the spare,
    0.16 s at 10,000 posts, while it makes the model). A fresh interpreter, not a fork: a
    forked copy of a build's 300 MB made the parent fault in a copy of every page it wrote
    while the child lived (its model 0.04 s slower). `func` must be importable by name (a
    closure gives None). A result not asked for is not waited for: the process is ended on
    leaving."""
    try:
        child = subprocess.Popen([sys.executable, "-I", "-c", _AHEAD], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except OSError:
        yield lambda: None
        return
    done: list = []
    try:
        try:  # (not "", the current folder: a site's checkout is not code to run)
            child.stdin.write(pickle.dumps([p for p in sys.path if p]))
            child.stdin.write(pickle.dumps((func, args), protocol=pickle.HIGHEST_PROTOCOL))
        except Exception:  # noqa: BLE001 - ended already, or not to be pickled: no answer
            done.append(None)
        finally:
            with contextlib.suppress(OSError):
                child.stdin.close()

        def result() -> R | None:
            if not done:
                data = child.stdout.read()
                done.append(_results(data) if child.wait() == 0 and data else None)
            return done[0]

        yield result
    finally:
        if child.returncode is None:
            child.kill()
            child.wait()
        child.stdout.close()


def _apply(span: tuple[int, int]) -> list:
    return [_TASK(item) for item in _ITEMS[span[0]:span[1]]]


def _run(span: tuple[int, int]) -> bytes:
    """A worker's results, pickled here: the parent unpickles them itself (`_results`), not
    in the pool's thread where the collector would scan them."""
    return pickle.dumps(_apply(span), protocol=pickle.HIGHEST_PROTOCOL)


def _results(data: bytes) -> list:
    with collector_paused(keep=True):
        return pickle.loads(data)


def fork_map(task: Callable[[T], R], items: Iterable[T], jobs: int, batches: int = 4,
             meanwhile: Callable[[], object] | None = None, here: bool = False
             ) -> Iterator[R]:
    """`map(task, items)` in order, over `jobs` forked workers when jobs > 1.

    The items stay in the parent's memory: workers get index ranges (`batches` per worker),
    so only the results travel through a pipe. `meanwhile` is called once in this process
    while the workers run (first, when there are none): work of its own, in no thread.
    `here`: this process is one of the `jobs`: it runs the first range itself, after
    `meanwhile`, and forks one worker fewer. For tasks that share their work out among
    themselves (render's `Claims`): a parent that only waited left two cores to three
    processes, and unpickled every worker's results one after the other.
    """
    global _TASK, _ITEMS
    items = list(items)
    if jobs <= 1 or len(items) <= 1 or not can_fork():
        if meanwhile is not None:
            meanwhile()
        yield from map(task, items)
        return
    count = min(len(items), jobs * batches)
    bounds = [len(items) * i // count for i in range(count + 1)]
    spans = list(zip(bounds, bounds[1:], strict=False))
    mine = spans.pop(0) if here else None
    _TASK, _ITEMS = task, items
    _freeze()  # the workers' collector never scans (and so never copies) the parent's objects
    try:
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)  # this thread's only:
        try:  # the workers are forked with them blocked (handlers can change in the main
            # thread only, and serve's rebuild runs in another)
            pool = multiprocessing.get_context("fork").Pool(min(jobs - here, len(spans)),
                                                            initializer=_worker_signals)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        with pool:
            done = pool.imap(_run, spans)
            if meanwhile is not None:
                meanwhile()
            if mine is not None:
                yield from _apply(mine)
            for results in done:
                yield from _results(results)
    finally:
        _TASK, _ITEMS = None, []
        _thaw()
