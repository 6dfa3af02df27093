"""The least an export must do: the per-key aggregate (hits, bytes, object size) over the log, in
DuckDB, with nothing after it. Every WaveSpec section reads this aggregate, so no DuckDB-based
export can be faster than this process.

    python duckdb_usage.py LOG.parquet OUT.json
"""

from __future__ import annotations

import json
import sys

import duckdb

con = duckdb.connect()
# Kept in a table, as an export keeps it, not fetched into Python: at millions of keys the fetch
# alone would cost more than the aggregate.
con.execute(
    "CREATE TEMP TABLE usage AS SELECT key, count(*) AS hits, sum(size) AS bytes, "
    "max(size) AS size FROM read_parquet(?) GROUP BY key",
    [sys.argv[1]],
)
keys, rows = con.execute("SELECT count(*), sum(hits) FROM usage").fetchall()[0]
with open(sys.argv[2], "w", encoding="utf-8") as fh:
    json.dump({"keys": int(keys), "rows": int(rows)}, fh)
