"""Agreement of wk's headers grading with Mozilla's HTTP Observatory scanner (npm 1.4.8), and
the time one grading takes.

Every site of tests/audit/observatory/sites.py is served by nginx on ports 80/443 of its own
loopback address and graded both ways; printed: per site the two scores and grades, per test
how many sites agree on result and modifier, and overall. Then one site (the full A+ set) is
graded repeatedly: wk's retrieve+grade in-process against the scanner's whole run (a Node
process, as the Observatory's CLI runs), as a ratio.

    python bench/observatory_agreement.py [--only ID ...] [--repeat 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.audit.observatory.sites import SITES, Site
from tests.audit.observatory.test_oracle import compare, serve, trust
from tests.helpers.observatory import Scanner

from watchkeeper.audit._http import Fetcher
from watchkeeper.audit.observatory import Scorecard, grade, retrieve


async def agreement(sites: list[Site]) -> None:
    per_test: Counter[str] = Counter()
    per_test_total: Counter[str] = Counter()
    scores = 0
    print(f"{'site':34} {'wk':>9} {'Observatory':>12}  differences")
    for site in sites:
        with tempfile.TemporaryDirectory() as directory:
            ours, theirs = await compare(site, Path(directory), Scanner(Path(directory)))
        if "error" in theirs or not isinstance(ours, Scorecard):
            same = not isinstance(ours, Scorecard) and "error" in theirs
            scores += same
            mine = "error" if not isinstance(ours, Scorecard) else f"{ours.score} {ours.grade}"
            print(f"{site.id:34} {mine:>9} {'error':>12}  {'' if same else 'DIFFERENT'}")
            continue
        mine_json = ours.as_json()
        differing = []
        for name, test in theirs["tests"].items():
            per_test_total[name] += 1
            mine = mine_json["tests"][name]
            if (mine["result"], mine["scoreModifier"]) == (test["result"], test["scoreModifier"]):
                per_test[name] += 1
            else:
                differing.append(name)
        same_score = (ours.score, ours.grade) == (theirs["scan"]["score"], theirs["scan"]["grade"])
        scores += same_score
        print(
            f"{site.id:34} {ours.score:>5} {ours.grade:<3} {theirs['scan']['score']:>8} "
            f"{theirs['scan']['grade']:<3}  {', '.join(differing)}"
        )
    print()
    print(f"score and grade agree: {scores}/{len(sites)}")
    for name in per_test_total:
        print(f"  {name:34} {per_test[name]}/{per_test_total[name]}")
    total = sum(per_test.values())
    print(f"test results agree: {total}/{sum(per_test_total.values())}")


async def timing(repeat: int) -> None:
    site = next(site for site in SITES if site.id == "a-plus")
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        scanner = Scanner(directory)
        with serve(site, directory) as (main, cas):
            context, bundle = trust(cas, directory)
            ours = []
            for _ in range(repeat):
                started = time.perf_counter()
                async with Fetcher(timeout=10, tls=context) as fetch:
                    card = grade(await retrieve(fetch, main.address))
                ours.append(time.perf_counter() - started)
            theirs = []
            for _ in range(max(3, repeat // 4)):
                started = time.perf_counter()
                await asyncio.to_thread(scanner.scan, main.address, ca_file=bundle)
                theirs.append(time.perf_counter() - started)
    wk_ms = statistics.median(ours) * 1000
    node_ms = statistics.median(theirs) * 1000
    print()
    print(f"one grading of a local site ({site.id}, {card.score} {card.grade}):")
    print(f"  wk retrieve+grade: median {wk_ms:.1f} ms (min {min(ours) * 1000:.1f}, n={repeat})")
    print(f"  scanner (node src/scan.js): median {node_ms:.0f} ms (n={len(theirs)})")
    print(f"  ratio scanner/wk: {node_ms / wk_ms:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="site ids to compare (default: all)")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    sites = [site for site in SITES if not args.only or site.id in args.only]
    asyncio.run(agreement(sites))
    asyncio.run(timing(args.repeat))


if __name__ == "__main__":
    main()
