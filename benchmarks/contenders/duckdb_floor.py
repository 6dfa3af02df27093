"""The floor: one DuckDB scan of the columns an export reads (key, size), with the least work
that touches every value (a sum of the sizes, the distinct keys).

    python duckdb_floor.py LOG.parquet OUT.json
"""

from __future__ import annotations

import json
import sys

import duckdb

row = duckdb.connect().execute(
    "SELECT count(*), sum(size), count(DISTINCT key) FROM read_parquet(?)",
    [sys.argv[1]],
).fetchall()[0]
with open(sys.argv[2], "w", encoding="utf-8") as fh:
    json.dump({"rows": int(row[0]), "bytes": int(row[1]), "keys": int(row[2])}, fh)
