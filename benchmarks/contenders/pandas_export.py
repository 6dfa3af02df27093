"""Cohorts, hot pack order and extents in pandas: python pandas_export.py LOG.parquet OUT.json"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from common import MAX_INLINE, PAGE, TOP_K, cohort_of, emit, h60


def usage(path: str) -> pd.DataFrame:
    log = pd.read_parquet(path, columns=["key", "size"])
    log["pos"] = np.arange(len(log), dtype=np.int64)
    u = log.groupby("key", sort=False).agg(
        hits=("size", "size"), bytes=("size", "sum"), size=("size", "max"),
        first_pos=("pos", "min"), last_pos=("pos", "max"),
    ).reset_index()
    u["h60"] = [h60(k) for k in u["key"]]
    return u


def cohorts(u: pd.DataFrame) -> list[dict[str, object]]:
    c = u.assign(cohort=[cohort_of(k) for k in u["key"]]).groupby("cohort", sort=False).agg(
        keys=("key", "size"), hits=("hits", "sum"), bytes=("bytes", "sum")).reset_index()
    c["h"] = [h60(x) for x in c["cohort"]]
    c = c.sort_values(["hits", "bytes", "h", "cohort"], ascending=[False, False, True, True])
    c = c.head(TOP_K)
    return [{"rank": i + 1, "cohort": r.cohort, "keys": int(r.keys), "hits": int(r.hits),
             "bytes": int(r.bytes)} for i, r in enumerate(c.itertuples())]


def pack(u: pd.DataFrame) -> pd.DataFrame:
    p = u.sort_values(["hits", "bytes", "h60", "key"], ascending=[False, False, True, True])
    p = p.reset_index(drop=True)
    p["rank"] = np.arange(1, len(p) + 1)
    p["aligned_size"] = (p["size"] + PAGE - 1) // PAGE * PAGE
    p["byte_offset"] = p["aligned_size"].cumsum() - p["aligned_size"]
    return p


def extents(p: pd.DataFrame) -> pd.DataFrame:
    p = p[p["size"] > 0]  # an empty object has no bytes in the packed file: it covers no page
    s = pd.DataFrame({"first_page": p["byte_offset"] // PAGE,
                      "last_page": (p["byte_offset"] + p["size"] - 1) // PAGE,
                      "address": p["byte_offset"], "hits": p["hits"], "bytes": p["bytes"]})
    s = s.sort_values(["first_page", "last_page", "address"]).reset_index(drop=True)
    reach = s["last_page"].cummax().shift(1)
    s["extent"] = (reach.isna() | (s["first_page"] > reach + 1)).cumsum() - 1
    e = s.groupby("extent").agg(first_page=("first_page", "min"), last_page=("last_page", "max"),
                                objects=("address", "size"), hits=("hits", "sum"),
                                bytes=("bytes", "sum")).reset_index()
    e["pages"] = e["last_page"] - e["first_page"] + 1
    return e


def main() -> None:
    u = usage(sys.argv[1])
    p = pack(u)
    e = extents(p)
    head = p.head(MAX_INLINE)
    top = e.sort_values(["hits", "first_page"], ascending=[False, True]).head(MAX_INLINE)
    cols = ["extent", "first_page", "last_page", "pages", "objects", "hits", "bytes"]
    emit({
        "cohorts": cohorts(u),
        "pack_order": {"keys": len(p), "total_bytes": int(p["aligned_size"].sum()), "inline": [
            {"rank": int(r.rank), "key": r.key, "size": int(r.size),
             "aligned_size": int(r.aligned_size), "byte_offset": int(r.byte_offset),
             "hits": int(r.hits), "bytes": int(r.bytes)} for r in head.itertuples()]},
        "extents": {"count": len(e), "pages": int(e["pages"].sum()),
                    "inline": [{c: int(getattr(r, c)) for c in cols} for r in top.itertuples()]},
    })


if __name__ == "__main__":
    main()
