"""Cohorts, hot pack order and extents in Polars: python polars_export.py LOG.parquet OUT.json"""

from __future__ import annotations

import sys

import polars as pl
from common import DELIMITER, DEPTH, MAX_INLINE, PAGE, TOP_K, emit, h60


def usage(path: str) -> pl.DataFrame:
    u = (pl.scan_parquet(path).select("key", "size").with_row_index("pos")
         .group_by("key").agg(
             hits=pl.len(), bytes=pl.col("size").sum(), size=pl.col("size").max(),
             first_pos=pl.col("pos").min(), last_pos=pl.col("pos").max())
         .collect())
    return u.with_columns(h60=pl.col("key").map_elements(h60, return_dtype=pl.Int64))


def cohort_expr() -> pl.Expr:
    parts = pl.col("key").str.split(DELIMITER)
    return (pl.when(parts.list.len() > DEPTH)
            .then(parts.list.head(DEPTH).list.join(DELIMITER)).otherwise(pl.col("key")))


def cohorts(u: pl.DataFrame) -> list[dict[str, object]]:
    c = (u.with_columns(cohort=cohort_expr()).group_by("cohort")
         .agg(keys=pl.len(), hits=pl.col("hits").sum(), bytes=pl.col("bytes").sum())
         .with_columns(h=pl.col("cohort").map_elements(h60, return_dtype=pl.Int64))
         .sort(["hits", "bytes", "h", "cohort"], descending=[True, True, False, False])
         .head(TOP_K).with_row_index("rank", offset=1))
    return c.select("rank", "cohort", "keys", "hits", "bytes").to_dicts()


def pack(u: pl.DataFrame) -> pl.DataFrame:
    aligned = (pl.col("size") + PAGE - 1) // PAGE * PAGE
    return (u.sort(["hits", "bytes", "h60", "key"], descending=[True, True, False, False])
            .with_row_index("rank", offset=1).with_columns(aligned_size=aligned)
            .with_columns(byte_offset=pl.col("aligned_size").cum_sum() - pl.col("aligned_size")))


def extents(p: pl.DataFrame) -> pl.DataFrame:
    last = pl.col("byte_offset") + pl.col("size") - 1
    # An empty object has no bytes in the packed file: it covers no page.
    s = (p.filter(pl.col("size") > 0)
         .select(first_page=pl.col("byte_offset") // PAGE, last_page=last // PAGE,
                 address="byte_offset", hits="hits", bytes="bytes")
         .sort(["first_page", "last_page", "address"]))
    reach = pl.col("last_page").cum_max().shift(1)
    s = s.with_columns(extent=(reach.is_null() | (pl.col("first_page") > reach + 1))
                       .cast(pl.Int64).cum_sum() - 1)
    return (s.group_by("extent").agg(first_page=pl.col("first_page").min(),
                                     last_page=pl.col("last_page").max(), objects=pl.len(),
                                     hits=pl.col("hits").sum(), bytes=pl.col("bytes").sum())
            .with_columns(pages=pl.col("last_page") - pl.col("first_page") + 1).sort("extent"))


def main() -> None:
    u = usage(sys.argv[1])
    p = pack(u)
    e = extents(p)
    top = e.sort(["hits", "first_page"], descending=[True, False]).head(MAX_INLINE)
    emit({
        "cohorts": cohorts(u),
        "pack_order": {"keys": p.height, "total_bytes": int(p["aligned_size"].sum()),
                       "inline": p.head(MAX_INLINE).select(
                           "rank", "key", "size", "aligned_size", "byte_offset", "hits",
                           "bytes").to_dicts()},
        "extents": {"count": e.height, "pages": int(e["pages"].sum()),
                    "inline": top.select("extent", "first_page", "last_page", "pages", "objects",
                                         "hits", "bytes").to_dicts()},
    })


if __name__ == "__main__":
    main()
