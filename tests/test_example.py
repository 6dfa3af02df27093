"""The built-in example generator makes logs with the structure the product is for."""

from __future__ import annotations

import duckdb
import pyarrow.parquet as pq
from support import run_cli

from sqlwave.example import example_log_path


def test_example_logs_command(tmp_path):
    out = tmp_path / "logs.parquet"
    result = run_cli("example-logs", "--rows", "50000", "--out", str(out))
    assert result.code == 0, result.stderr
    table = pq.read_table(out)
    assert table.num_rows == 50000
    assert table.column_names == ["seq", "ts", "request_id", "key", "size"]
    con = duckdb.connect()
    con.register("log", table)
    # Hierarchical keys of all three families.
    families = dict(con.execute(
        "SELECT CASE WHEN key LIKE 's3://%' THEN 's3' WHEN key LIKE 'kv.%' THEN 'kv' "
        "WHEN key LIKE '%.layers.%' THEN 'weights' END AS f, count(*) FROM log GROUP BY f"
    ).fetchall())
    assert set(families) == {"s3", "kv", "weights"} and families["weights"] > families["kv"]
    # Zipf popularity: the top 1 % of keys take far more than 1 % of accesses.
    share = con.execute(
        "WITH h AS (SELECT key, count(*) AS n FROM log GROUP BY key), "
        "r AS (SELECT n, row_number() OVER (ORDER BY n DESC) AS rk, count(*) OVER () AS k FROM h) "
        "SELECT sum(CASE WHEN rk <= k / 100 THEN n ELSE 0 END) / sum(n) FROM r"
    ).fetchall()[0][0]
    assert share > 0.05
    # Requests walk consecutive layers: keys co-occur within a request.
    walks = con.execute(
        "SELECT count(DISTINCT request_id) FROM log WHERE key LIKE '%.layers.%'"
    ).fetchall()[0][0]
    assert walks > 0
    assert con.execute("SELECT min(size) > 0 AND count(*) = count(size) FROM log").fetchall()[0][0]


def test_generator_is_deterministic(tmp_path):
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    assert run_cli("example-logs", "--rows", "5000", "--out", str(a)).code == 0
    assert run_cli("example-logs", "--rows", "5000", "--out", str(b)).code == 0
    assert pq.read_table(a).equals(pq.read_table(b))
    assert run_cli("example-logs", "--rows", "0", "--out", str(a)).code == 1


def test_shipped_example_is_the_generators_output(tmp_path):
    out = tmp_path / "again.parquet"
    assert run_cli("example-logs", "--rows", "20000", "--out", str(out)).code == 0
    assert pq.read_table(out).equals(pq.read_table(example_log_path()))
