"""Layout quality on real traces: every strategy learned on the first 70 % of accesses and judged
on the last 30 % (test extents per request), the tuner's choice, and the hindsight best.

    python benchmarks/bench_layout.py [--data ../shared/data] [--twitter-rows 1000000]

Traces without request ids use windows of 16 consecutive accesses as requests. Integer ids are
re-mapped through a hash (--remap-keys) so that first-seen id order carries no layout. Prints a
table and one JSON line per trace; figures, not assertions (the machine is shared: see the load).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from sqlwave.layout import LayoutParams
from sqlwave.layout_eval import evaluate_layout

ROOT = Path(__file__).resolve().parent.parent
SHOWN = ("hot", "hash", "cohort", "first-touch", "last-touch", "request-last-touch",
         "waves-first-touch", "waves-last-touch")


def traces(data: Path, twitter_rows: int) -> list[tuple[str, Any, str | None, str | None]]:
    """(name, log, size column, request column); Twitter in consecutive slices."""
    out: list[tuple[str, Any, str | None, str | None]] = [
        ("mooncake synthetic", str(data / "mooncake/synthetic.parquet"), "size", "request_id"),
        ("arc oltp", str(data / "arc/oltp.parquet"), None, None),
        ("arc p3", str(data / "arc/p3.parquet"), "size", None),
    ]
    twitter = data / "twitter/cluster52_2m.parquet"
    if twitter.is_file():
        table = pq.read_table(twitter, columns=["key", "size"])
        for start in range(0, table.num_rows, twitter_rows):
            piece = table.slice(start, twitter_rows)
            out.append((f"twitter c52 [{start // 1000}k, {(start + piece.num_rows) // 1000}k)",
                        piece, "size", None))
    return [t for t in out if not isinstance(t[1], str) or Path(t[1]).is_file()]


def run(name: str, log: Any, size: str | None, request: str | None) -> dict[str, Any]:
    start = time.perf_counter()
    result = evaluate_layout(log, "key", size, request, train_frac=0.7, remap_keys=True,
                             params=LayoutParams())
    seconds = time.perf_counter() - start
    test = {n: s["test_extents_per_request_mean"] for n, s in result["strategies"].items()}
    best = min(test, key=lambda n: (test[n] is None, test[n]))
    return {"trace": name, "seconds": round(seconds, 2), "requests_test": result["requests_test"],
            "keys_in_layout_frac": result["keys_in_layout_frac"], "test_extents": test,
            "hot_hit": {n: s["test_hot_hit_ratio"] for n, s in result["strategies"].items()},
            "chosen": result["chosen"],
            "chosen_extents": result["chosen_test_extents_per_request_mean"],
            "hindsight_best": best, "stability": result["stability"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--twitter-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
          "train on the first 70 %, test extents per request on the last 30 %")
    header = f"{'trace':30} {'req':>6} {'held':>5} " + " ".join(f"{n[:12]:>12}" for n in SHOWN)
    print(header + f" {'chosen':>20} {'hot/ch':>7} {'s':>6}")
    rows = [run(*t) for t in traces(Path(args.data), args.twitter_rows)]
    for r in rows:
        cells = " ".join(f"{r['test_extents'][n]:12.2f}" for n in SHOWN)
        ratio = r["test_extents"]["hot"] / r["chosen_extents"]
        print(f"{r['trace']:30} {r['requests_test']:6d} {r['keys_in_layout_frac']:5.2f} {cells} "
              f"{r['chosen']:>14} {r['chosen_extents']:5.2f} {ratio:7.2f} {r['seconds']:6.1f}")
    for r in rows:
        print(json.dumps(r, sort_keys=True))


if __name__ == "__main__":
    main()
