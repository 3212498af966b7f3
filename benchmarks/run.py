"""`make bench`: how fast eesite builds a generated site of 1,000 and 10,000 draw posts.

Each figure is the median of several runs of the real `eesite build` in a fresh process:
cold (no output, no cache), warm with nothing changed, warm after one post's prose changed,
warm after one post's CRS cut-off changed, warm after a round was added, and in `eesite
serve` the time from saving a post (a prose edit, then a cut-off edit) until the new page is
served, and for the cut-off edit until the whole rebuild is done (the edited page is written
ahead of the rest). Peak memory is the largest resident set of the build process (and of any
worker it starts). It prints one table, with how fast the machine was before and after the
builds (a fixed workload that uses no code of eesite's: `calibrate`); it never fails on speed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from benchmarks.generate import add_round, empty_trash, generate, set_aside  # noqa: E402
from eesite.pool import cores  # noqa: E402
from eesite.write import spare_folder  # noqa: E402

# Run one build in this process and print its wall time and peak RSS (self, workers) as JSON.
_PROBE = """
import json, resource, sys, time
from eesite.cli import main
sys.argv = ["eesite", "build", "--source", sys.argv[1]]  # as the `eesite` command runs it
t = time.perf_counter()
code = main()
took = time.perf_counter() - t
me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"code": code, "seconds": took, "rss": me * 1024, "workers": kids * 1024}))
"""


# A fixed workload that does not depend on eesite's code: plain Python-Markdown converting 200 of
# the benchmark's posts in one process (the median of 5 runs, imports not counted). This
# machine's speed drifts by the hour (README, Performance): taken before and after the builds,
# it says how fast the machine was while they ran, so that tables of different hours compare.
# (The texts come from generate.draw_post with a fixed seed; a change there, or another
# Markdown version, which the line names, moves the figure.)
_CALIBRATE = """
import random, statistics, sys, time
sys.path.insert(0, sys.argv[1])
import markdown
from benchmarks.generate import START, draw_post
rng = random.Random(6)
texts = [draw_post(n, rng, START)[1].split("---", 2)[2] for n in range(1, 201)]
md = markdown.Markdown(extensions=["tables"])
runs = []
for _ in range(5):
    t = time.perf_counter()
    for text in texts:
        md.reset().convert(text)
    runs.append(time.perf_counter() - t)
print(statistics.median(runs))
"""


def calibrate() -> float | None:
    """Seconds of the fixed workload above, run in a fresh process per core the builds use, all at once
    (the builds use every core, and a neighbour on this shared machine may slow one): the
    slowest; None when a run fails (the benchmark's figures are printed all the same)."""
    procs = [subprocess.Popen([sys.executable, "-c", _CALIBRATE, str(HERE.parent)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
             for _ in range(cores())]  # (the cores the builds use)
    times = []
    for proc in procs:  # (every one waited for, whatever the others gave)
        out, _ = proc.communicate()
        try:
            times.append(float(out.strip().splitlines()[-1]) if proc.returncode == 0 else None)
        except (IndexError, ValueError):
            times.append(None)
    return None if None in times else max(times)


def speed_line(before: float | None, after: float | None) -> str:
    """The machine's speed before and after a benchmark's builds (`calibrate`), as printed."""
    import markdown

    def ms(seconds: float | None) -> str:
        return "unknown (the run failed)" if seconds is None else f"{seconds * 1000:.0f} ms"

    return (f"machine speed: plain Python-Markdown {markdown.__version__} converts 200 benchmark "
            f"posts in {ms(before)} before the builds, {ms(after)} after (a process per core at "
            "once, the slowest; lower is faster)")


def build_once(root: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", _PROBE, str(root)], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"build failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def touch_post(root: Path, n: int) -> Path:
    """Append one sentence to the prose of a post in the middle of the site."""
    path = _middle_post(root)
    with path.open("a", encoding="utf-8") as f:
        f.write(f"\nBenchmark edit number {n}.\n")
    return path


def touch_facts(root: Path, n: int, newest: bool = False) -> Path:
    """Change the CRS cut-off of a post in the middle of the site (up, then back down): its
    page, its neighbours', the listings and the charts that show it change. `newest`: of the
    newest round instead, an editor's usual edit (the home page's lead and the feeds show it
    too)."""
    path = _newest_post(root) if newest else _middle_post(root)
    text = path.read_text(encoding="utf-8")
    step = 1 if n % 2 == 0 else -1
    text = re.sub(r"^crs_cutoff: (\d+)$", lambda m: f"crs_cutoff: {int(m.group(1)) + step}",
                  text, count=1, flags=re.MULTILINE)
    path.write_text(text, encoding="utf-8")
    return path


def _middle_post(root: Path) -> Path:
    posts = sorted((root / "content" / "draws").glob("*.md"))
    return posts[len(posts) // 2]


def _newest_post(root: Path) -> Path:
    return max((root / "content" / "draws").glob("*.md"))  # (named by round number first)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_edit(root: Path, repeat: int) -> tuple[list[float], list[float], list[float]]:
    """Seconds from saving a post to `eesite serve` answering with the new page: after a
    prose edit (the sentence appended), and after a cut-off edit (the new score shown); and
    for the cut-off edit, until the rebuild is done (a request for the sitemap waits for it).
    Each edit waits for the rebuild before it, so no edit is billed for the last one's."""
    port = free_port()
    eesite = Path(sys.executable).with_name("eesite")
    proc = subprocess.Popen([str(eesite), "serve", "--source", str(root), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: _get(base + "/") is not None, 300)
        prose, facts, done = [], [], []
        for n in range(repeat):
            for times, edit in ((prose, touch_post), (facts, touch_facts)):
                time.sleep(0.5)
                path = edit(root, 1000 + n)
                marker = (f"Benchmark edit number {1000 + n}." if edit is touch_post else
                          f"<dd>{_cutoff(path)}</dd>")  # the page's CRS cut-off fact
                url = base + _url_of(path)
                started = time.perf_counter()
                _wait_for(lambda u=url, m=marker: m in (_get(u) or ""), 60, step=0.002)
                times.append(time.perf_counter() - started)
                _get(base + "/sitemap.xml")  # answered once the rebuild is over
                if edit is touch_facts:
                    done.append(time.perf_counter() - started)
        return prose, facts, done
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _cutoff(path: Path) -> str:
    return re.search(r"^crs_cutoff: (\d+)$", path.read_text(encoding="utf-8"),
                     re.MULTILINE).group(1)


def _url_of(path: Path) -> str:
    return "/draws/" + str(int(path.name.split("-")[0])) + "/"


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.read().decode("utf-8")
    except OSError:
        return None


def _wait_for(check, timeout: float, step: float = 0.05) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(step)
    raise SystemExit("timed out waiting for eesite serve")


def measure(count: int, work: Path, repeat: int, serve: bool) -> dict:
    root = generate(work / f"site-{count}", count, HERE.parent / "templates")
    cold, warm, one, facts, facts_next, newest, added, rss, workers = ([] for _ in range(9))
    for n in range(repeat):
        set_aside(root / "output", root / ".eesite-cache",  # deleted when all is measured
                  spare_folder(root / "output"))
        first = build_once(root)
        cold.append(first["seconds"])
        rss.append(first["rss"])
        workers.append(first["workers"])
        again = build_once(root)
        warm.append(again["seconds"])
        touch_post(root, n)
        changed = build_once(root)
        one.append(changed["seconds"])
        time.sleep(2.1)  # the prose edit's stamp is trusted from now on (eesite/load.py RACY_NS)
        touch_facts(root, n)
        moved = build_once(root)  # the first swap after a cold build: no spare yet, so the
        facts.append(moved["seconds"])  # new site is a folder of 21,000 fresh links
        time.sleep(2.1)
        touch_facts(root, n + 1)
        next_moved = build_once(root)  # as every later edit: the spare brought up to date
        facts_next.append(next_moved["seconds"])
        time.sleep(2.1)
        touch_facts(root, n, newest=True)
        latest = build_once(root)
        newest.append(latest["seconds"])
        time.sleep(2.1)
        new_round = add_round(root, count)  # the most common edit: every page of the home
        grown = build_once(root)  # listing, of the round's tag and category moves by one post
        added.append(grown["seconds"])
        new_round.unlink()  # (the next cold build, or serve's first, starts from `count`)
        made = (again, changed, moved, next_moved, latest, grown)
        rss += [m["rss"] for m in made]
        workers += [m["workers"] for m in made]
    row = {"posts": count, "cold": statistics.median(cold), "warm": statistics.median(warm),
           "one": statistics.median(one), "facts": statistics.median(facts),
           "facts_next": statistics.median(facts_next), "newest": statistics.median(newest),
           "added": statistics.median(added),
           "rss": max(rss),
           "workers": max(workers)}
    if serve:
        prose, facts, done = serve_edit(root, max(repeat, 5))
        row["serve"], row["serve_facts"] = statistics.median(prose), statistics.median(facts)
        row["serve_done"] = statistics.median(done)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description="Benchmark eesite builds (see README.md, Performance).")
    p.add_argument("--sizes", default="1000,10000", help="post counts (default: 1000,10000)")
    p.add_argument("--repeat", type=int, default=3, help="runs per figure; medians are shown")
    p.add_argument("--work", type=Path, default=HERE / ".work", help="where sites are generated")
    p.add_argument("--no-serve", action="store_true", help="skip the eesite serve edit figure")
    args = p.parse_args()
    before = calibrate()
    rows = [measure(int(n), args.work, args.repeat, not args.no_serve)
            for n in args.sizes.split(",")]
    empty_trash(args.work)
    after = calibrate()
    mib = 1024 * 1024
    print(f"\neesite {_version()} · Python {sys.version.split()[0]} · {os.cpu_count()} cores · "
          f"median of {args.repeat} runs")
    print(speed_line(before, after) + "\n")
    print("| posts | cold build | warm, no change | warm, one post's prose changed | warm, one "
          "cut-off changed (first swap after the cold build) | warm, another cut-off change "
          "| warm, the newest round's cut-off changed | warm, a round added "
          "| serve: prose edit → served "
          "| serve: cut-off edit → served | serve: cut-off edit → rebuild done | peak RSS (main / worker) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        serve = [f"{r[k] * 1000:.0f} ms" if k in r else "–"
                 for k in ("serve", "serve_facts", "serve_done")]
        print(f"| {r['posts']:,} | {r['cold']:.2f} s | {r['warm']:.2f} s | {r['one']:.2f} s | "
              f"{r['facts']:.2f} s | {r['facts_next']:.2f} s | {r['newest']:.2f} s | "
              f"{r['added']:.2f} s | "
              f"{serve[0]} | {serve[1]} | {serve[2]} | "
              f"{r['rss'] / mib:.0f} / {r['workers'] / mib:.0f} MiB |")


def _version() -> str:
    from eesite import __version__
    return __version__


if __name__ == "__main__":
    main()
