"""Write a WaveSpec (and its pack-order sidecar) to disk, atomically."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlwave.engine import literal
from sqlwave.export import build_wave_spec
from sqlwave.export_options import ExportOptions
from sqlwave.log import is_integer_column
from sqlwave.outputs import is_stream, text_writer, write_all_atomic
from sqlwave.progress import Progress
from sqlwave.units import human_bytes
from sqlwave.wavespec import dumps, sidecar_reference


def export_to_file(logs: Any, opts: ExportOptions, out: str, pack_order_out: str | None) -> str:
    """Run the export and write `out` (and the sidecar); return a one-paragraph summary."""
    named = sidecar_reference(pack_order_out, out) if pack_order_out else None
    spec, session = build_wave_spec(logs, opts, pack_order_out=named, progress=Progress())
    con = session.con

    def copy(tmp: str) -> None:
        con.execute(f"COPY (SELECT rank, key, size, aligned_size, byte_offset, hits, bytes "
                    f"FROM sqlwave_pack ORDER BY rank) TO {literal(tmp)} "
                    "(FORMAT parquet, COMPRESSION zstd)")

    write_spec(spec, out, pack_order_out, copy)
    message = summary(spec, out)
    if opts.size_col is None and opts.key_col != "size" and is_integer_column(session.log, "size"):
        message += "\n  note: the log has an integer 'size' column; pass --size size to count bytes"
    return message


def write_spec(spec: dict[str, Any], out: str, pack_order_out: str | None,
               write_sidecar: Callable[[str], None]) -> None:
    """The WaveSpec and, with `pack_order_out`, its sidecar (`write_sidecar(tmp)` fills it):
    both written to temp files first, then renamed together."""
    outputs = [(out, text_writer(dumps(spec)))]
    if pack_order_out:
        outputs.insert(0, (pack_order_out, write_sidecar))
    write_all_atomic(outputs)


def summary(spec: dict[str, Any], out: str) -> str:
    m = spec["metrics"]
    top = spec["cohorts"][0] if spec["cohorts"] else None
    sizes = (f"{human_bytes(m['bytes_moved'])} moved, working set {human_bytes(m['unique_bytes'])}"
             if spec["parameters"].get("size_col") else "no sizes (--size): each object counts "
             "as 1 byte")
    lines = [
        f"wrote {out}" + ("" if is_stream(out) else f" ({Path(out).stat().st_size} bytes)"),
        f"  {m['rows']} accesses, {m['distinct_keys']} keys, {sizes}, "
        f"reuse ratio {m['reuse_ratio'] or 0:.3f}",
        f"  {len(spec['waves'])} waves, {spec['extents']['count']} extents",
    ]
    if top:
        lines.append(f"  top cohort {top['cohort']!r}: {top['hit_share']:.1%} of hits")
    pack = spec["pack_order"]
    if pack["truncated"] and not pack["sidecar"]:
        lines.append(f"  note: the JSON inlines {len(pack['inline'])} of {pack['keys']} pack-order "
                     "entries; pass --pack-order-out FILE.parquet for all of them")
    return "\n".join(lines)
