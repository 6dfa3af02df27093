"""Miss-ratio curves on a Zipf log: time, peak RSS and error of `sqlwave mrc` per method.

Each method runs as its own process (`sqlwave mrc ...`, interpreter start included); peak RSS is
that process's, read by a small parent through getrusage(RUSAGE_CHILDREN). `aet` and `shards`
are evaluated at the exact curve's sizes (--sizes-from) and compared point by point. If
libCacheSim is installed (pip install libcachesim), its exact LRU simulation of 10 cache sizes is
timed in the same run and its miss ratios checked against the exact curve.

    python benchmarks/bench_mrc.py                       # 10M accesses, 1M keys, Zipf 0.9
    python benchmarks/bench_mrc.py --rows 1000000 --keys 100000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

MEASURE = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
           "rc = subprocess.run(sys.argv[1:]).returncode; "
           "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss; "
           "print(time.perf_counter() - t, peak, rc)")


def write_log(path: Path, rows: int, keys: int, alpha: float, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(1.0 / np.arange(1, keys + 1) ** alpha)
    ranks = np.searchsorted(cdf / cdf[-1], rng.random(rows))
    ids = rng.permutation(keys).astype(np.int64) * 7919 + 13
    sizes = rng.lognormal(8, 1.5, keys).astype(np.int64) + 64
    pq.write_table(pa.table({"key": ids[ranks], "size": sizes[ranks]}), path, compression="zstd")


def measured(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one process running `cmd`."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True,
                         check=True).stdout.splitlines()[-1].split()
    if out[2] != "0":
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return float(out[0]), int(out[1]) / 1024


def mrc(log: Path, out: Path, method: str, *extra: str) -> tuple[float, float, dict]:
    cmd = [sys.executable, "-c", "from sqlwave.cli import main; main()", "mrc", "--logs", str(log),
           "--method", method, "--out", str(out), *extra]
    secs, rss = measured(cmd)
    return secs, rss, json.loads(out.read_text())


def errors(curve: dict, exact: dict) -> tuple[float, float, float]:
    """Mean absolute error over all points, over evenly spaced sizes (>= 1/64 of the working
    set, as SHARDS reports it), and the largest error."""
    pairs = [(p["size"], abs(p["miss_ratio"] - q["miss_ratio"]))
             for p, q in zip(curve["points"], exact["points"], strict=False)]
    even = [e for s, e in pairs if s >= exact["points"][-1]["size"] / 64]
    return (sum(e for _, e in pairs) / len(pairs), sum(even) / len(even), max(e for _, e in pairs))


def libcachesim_sweep(log: Path, exact: dict, tmp: Path) -> None:
    try:
        import libcachesim  # noqa: F401
    except ImportError:
        print("libcachesim: not installed (pip install libcachesim), skipped")
        return
    keys = pq.read_table(log, columns=["key"]).column("key").to_numpy()
    rec = np.zeros(len(keys), dtype=np.dtype([("t", "<u4"), ("id", "<u8"), ("sz", "<u4"),
                                               ("nv", "<i8")]))
    rec["t"], rec["id"], rec["sz"], rec["nv"] = np.arange(len(keys)), keys.astype(np.uint64), 1, -1
    trace = tmp / "trace.oracleGeneral"
    rec.tofile(trace)
    points = exact["points"]
    sizes = [points[i * (len(points) - 1) // 9]["size"] for i in range(10)]
    script = ("import json, sys, libcachesim as l; r = l.TraceReader(sys.argv[1], "
              "l.TraceType.ORACLE_GENERAL_TRACE); out = [l.LRU(cache_size=c).process_trace(r)[0] "
              "for c in json.loads(sys.argv[2])]; open(sys.argv[3], 'w').write(json.dumps(out))")
    result = tmp / "lcs.json"
    secs, rss = measured([sys.executable, "-c", script, str(trace), json.dumps(sizes), str(result)])
    theirs = json.loads(result.read_text())
    ours = {p["size"]: p["miss_ratio"] for p in points}
    diff = max(abs(m - ours[s]) for s, m in zip(sizes, theirs, strict=False))
    print(f"libcachesim LRU, 10 sizes: {secs:6.2f} s  {rss:7.0f} MiB  "
          f"max |diff| vs sqlwave exact: {diff:.2e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--alpha", type=float, default=0.9)
    ap.add_argument("--log", type=Path, default=None, help="Use this log instead of generating.")
    ap.add_argument("--skip-exact", type=Path, default=None,
                    help="Reuse an exact curve JSON written earlier for this log.")
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        log = args.log or tmp / "zipf.parquet"
        if args.log is None:
            write_log(log, args.rows, args.keys, args.alpha)
        print(f"log: {pq.ParquetFile(log).metadata.num_rows} accesses"
              + ("" if args.log else f", {args.keys} keys, Zipf alpha {args.alpha}"))
        if args.skip_exact:
            exact, exact_path = json.loads(args.skip_exact.read_text()), args.skip_exact
        else:
            exact_path = tmp / "exact.json"
            secs, rss, exact = mrc(log, exact_path, "exact")
            n = len(exact["points"])
            print(f"exact            {secs:6.2f} s  {rss:7.0f} MiB  ({n} points)")
        for method, extra in (("aet", []), ("shards", ["--rate", "0.01"])):
            secs, rss, curve = mrc(log, tmp / f"{method}.json", method,
                                   "--sizes-from", str(exact_path), *extra)
            mae, even, worst = errors(curve, exact)
            print(f"{method:<6} {' '.join(extra):<9} {secs:6.2f} s  {rss:7.0f} MiB  MAE {mae:.5f} "
                  f"(evenly spaced sizes {even:.5f}), max {worst:.4f}")
        libcachesim_sweep(log, exact, tmp)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
