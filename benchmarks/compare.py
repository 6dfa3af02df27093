"""Check that the pandas and Polars contenders found what sqlwave wrote in its WaveSpec."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

COHORT_FIELDS = ("rank", "cohort", "keys", "hits", "bytes")


def expected(spec: dict[str, Any]) -> dict[str, Any]:
    """The parts of a WaveSpec that the contenders compute, in their JSON shape."""
    pack, ext = spec["pack_order"], spec["extents"]
    return {
        "cohorts": [{f: c[f] for f in COHORT_FIELDS} for c in spec["cohorts"]],
        "pack_order": {"keys": pack["keys"], "total_bytes": pack["total_bytes"],
                       "inline": pack["inline"]},
        "extents": {"count": ext["count"], "pages": ext["pages"], "inline": ext["inline"]},
    }


def check_same(workdir: Path, names: list[str]) -> list[str]:
    """Raise if a contender's answer differs from sqlwave's; return the names checked."""
    if "sqlwave" not in names:
        return []
    want = expected(json.loads((workdir / "sqlwave.json").read_text(encoding="utf-8")))
    checked = []
    for name in ("pandas", "polars"):
        if name not in names:
            continue
        got = json.loads((workdir / f"{name}.json").read_text(encoding="utf-8"))
        for part in want:
            if got[part] != want[part]:
                raise SystemExit(f"{name} differs from sqlwave in {part}: "
                                 f"{json.dumps(got[part])[:300]} vs {json.dumps(want[part])[:300]}")
        checked.append(name)
    return checked
