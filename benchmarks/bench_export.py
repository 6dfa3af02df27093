"""Export benchmark: `sqlwave export` against the same work in pandas and Polars, the per-key
aggregate alone in DuckDB (the least any DuckDB export must do), and a DuckDB scan (the floor).

Every contender runs as a whole process (interpreter start included), 5 times (3 with
--many-keys), interleaved; the script prints median wall time, peak RSS of each process (wait4
rusage) and the ratios, and checks that pandas and Polars find the same cohorts, pack order and
extents as sqlwave.

    python3 -m venv .venv-bench
    .venv-bench/bin/pip install -e . -r benchmarks/requirements.txt
    .venv-bench/bin/python benchmarks/bench_export.py --rows 10000000 --json bench.json

The log comes from `sqlwave example-logs` (44K distinct keys at 10M rows), or with --many-keys
from a generator of millions of distinct keys, and is kept in --workdir for the next run. Extra
arguments for sqlwave go after `--`, e.g. `-- --memory-limit 1GB --threads 2`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from compare import check_same

HERE = Path(__file__).resolve().parent
CONTENDERS = ("sqlwave", "pandas", "polars", "usage", "floor")
SCRIPTS = {"pandas": "pandas_export.py", "polars": "polars_export.py", "usage": "duckdb_usage.py",
           "floor": "duckdb_floor.py"}


def sqlwave_bin() -> str:
    beside = Path(sys.executable).parent / "sqlwave"
    return str(beside) if beside.exists() else "sqlwave"


def compile_sqlwave() -> None:
    """Byte-compile sqlwave's modules once, as installing a wheel does. An editable install where
    Python never writes bytecode (PYTHONDONTWRITEBYTECODE=1, as on this project's machines) would
    otherwise compile some 20 modules in every timed process (~15 ms), a cost that pandas and
    Polars, installed with their bytecode, never pay."""
    spec = importlib.util.find_spec("sqlwave")
    if spec and spec.submodule_search_locations:
        subprocess.run([sys.executable, "-m", "compileall", "-q",
                        *spec.submodule_search_locations], check=True)


def timed(cmd: list[str]) -> tuple[float, float, float]:
    """Run cmd; return wall seconds, peak RSS in MB and CPU seconds of that one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{stderr}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime  # maxrss is in KiB


def command(name: str, log: Path, out: Path, extra: list[str]) -> list[str]:
    if name == "sqlwave":
        return [sqlwave_bin(), "export", "--logs", str(log), "--size", "size",
                "--request-col", "request_id", "--out", str(out), *extra]
    return [sys.executable, str(HERE / "contenders" / SCRIPTS[name]), str(log), str(out)]


def ensure_log(rows: int, workdir: Path) -> Path:
    log = workdir / f"log_{rows}.parquet"
    if not log.exists():
        print(f"generating {rows} rows -> {log}", file=sys.stderr)
        cmd = [sqlwave_bin(), "example-logs", "--rows", str(rows), "--out", str(log)]
        wall, rss, _ = timed(cmd)
        print(f"  generated in {wall:.1f} s, peak RSS {rss:.0f} MB", file=sys.stderr)
    return log


def ensure_many_keys_log(rows: int, workdir: Path) -> Path:
    """A log with millions of distinct keys (a KV-block store's block ids): half the accesses go to
    1000 hot keys, half to keys drawn from 0.8 * rows cold ones (at 10M rows, 2.9M distinct
    keys); one size per key, 16 accesses per request."""
    import duckdb

    log = workdir / f"log_many_keys_{rows}.parquet"
    if not log.exists():
        print(f"generating {rows} rows with many keys -> {log}", file=sys.stderr)
        duckdb.connect().execute(f"""
            COPY (
                SELECT seq, key, CAST(4096 * (1 + hash(key) % 13) AS BIGINT) AS size,
                       seq // 16 AS request_id
                FROM (SELECT i AS seq,
                             CASE WHEN hash(i, 1) % 2 = 0 THEN 'hot/' || hash(i, 2) % 1000
                                  ELSE 'cold/' || hash(i, 3) % {int(rows * 0.8)} END AS key
                      FROM range({int(rows)}) AS t(i))
                ORDER BY seq
            ) TO '{log}' (FORMAT parquet, COMPRESSION zstd)
        """)
    return log


def run_all(names: list[str], log: Path, workdir: Path, repeat: int,
            extra: list[str]) -> dict[str, dict[str, Any]]:
    runs: dict[str, list[tuple[float, float, float]]] = {n: [] for n in names}
    for i in range(repeat):
        for name in names:  # interleaved, so a burst of load hits every contender alike
            runs[name].append(timed(command(name, log, workdir / f"{name}.json", extra)))
            print(f"  run {i + 1} {name:8s} {runs[name][-1][0]:7.2f} s "
                  f"{runs[name][-1][1]:7.0f} MB {runs[name][-1][2]:7.2f} s CPU", file=sys.stderr)
    return {n: {"wall_s": statistics.median(w for w, _, _ in r),
                "peak_rss_mb": statistics.median(m for _, m, _ in r),
                "cpu_s": statistics.median(c for _, _, c in r),
                "runs": [{"wall_s": round(w, 3), "peak_rss_mb": round(m, 1), "cpu_s": round(c, 3)}
                         for w, m, c in r]}
            for n, r in runs.items()}


def report(results: dict[str, dict[str, Any]], load: tuple[float, ...]) -> dict[str, float]:
    print(f"\n{'contender':10s} {'wall s':>8s} {'peak RSS MB':>12s} {'CPU s':>8s}   (medians; "
          f"load average before/after {load[0]:.2f} / {load[1]:.2f}, {os.cpu_count()} CPUs)")
    for name, r in results.items():
        print(f"{name:10s} {r['wall_s']:8.2f} {r['peak_rss_mb']:12.0f} {r['cpu_s']:8.2f}")
    ratios = {}
    if "sqlwave" in results:
        base = results["sqlwave"]["wall_s"]
        for name in results:
            if name != "sqlwave":
                ratios[f"{name}/sqlwave"] = round(results[name]["wall_s"] / base, 2)
        if "floor" in results:
            ratios["sqlwave/floor"] = round(base / results["floor"]["wall_s"], 2)
            ratios["sqlwave/floor (CPU)"] = round(results["sqlwave"]["cpu_s"]
                                                  / results["floor"]["cpu_s"], 2)
        print("  ".join(f"{k} = {v:.2f}x" for k, v in ratios.items()))
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--log", type=Path, default=None, help="Use this log instead.")
    parser.add_argument("--many-keys", action="store_true",
                        help="Generate (and use) a log with millions of distinct keys instead.")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/sqlwave-bench"))
    parser.add_argument("--repeat", type=int, default=None,
                        help="Runs of each contender (default: 5; 3 with --many-keys).")
    parser.add_argument("--only", default=",".join(CONTENDERS),
                        help=f"Comma-separated subset of {','.join(CONTENDERS)}.")
    parser.add_argument("--json", type=Path, default=None, help="Write the results here.")
    parser.add_argument("sqlwave_args", nargs="*", help="Extra `sqlwave export` options.")
    args = parser.parse_args()
    if args.repeat is None:
        args.repeat = 3 if args.many_keys else 5
    args.workdir.mkdir(parents=True, exist_ok=True)
    make = ensure_many_keys_log if args.many_keys else ensure_log
    log = args.log or make(args.rows, args.workdir)
    names = [n for n in args.only.split(",") if n]
    compile_sqlwave()
    before = os.getloadavg()[0]
    results = run_all(names, log, args.workdir, args.repeat, args.sqlwave_args)
    load = (before, os.getloadavg()[0])
    ratios = report(results, load)
    checked = check_same(args.workdir, names)
    print(f"same cohorts, pack order and extents as sqlwave: {', '.join(checked) or 'not checked'}")
    if args.json:
        args.json.write_text(json.dumps({
            "log": str(log), "rows": args.rows if args.log is None else None,
            "sqlwave_args": args.sqlwave_args, "cpus": os.cpu_count(), "load_average": load,
            "results": results, "ratios": ratios, "checked_equal": checked,
        }, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
