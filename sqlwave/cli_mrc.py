"""`sqlwave mrc`: the LRU miss-ratio curve of an access log, as JSON."""

from __future__ import annotations

import click

from sqlwave.cli import handle_errors


@click.command()
@click.option("--logs", multiple=True, required=True,
              help="Parquet file, folder or glob (repeatable).")
@click.option("--method", type=click.Choice(["exact", "shards", "aet"]), default="aet",
              show_default=True, help="exact stack distances, SHARDS sampling, or the AET model.")
@click.option("--unit", type=click.Choice(["objects", "bytes"]), default="objects",
              show_default=True, help="Cache size in objects or in bytes (needs --size).")
@click.option("--key", "key_col", default="key", show_default=True, help="Key column.")
@click.option("--size", "size_col", default=None, help="Object size column, in bytes.")
@click.option("--request-col", default=None, help="Request id column (for --prefix).")
@click.option("--order-by", "order_col", default=None,
              help="Column that orders the accesses, e.g. a timestamp (default: file order).")
@click.option("--align-bits", type=int, default=None, help="With --unit bytes: round every size "
              "up to 2^N bytes, as a pack order aligned to 2^N stores it (export's --align-bits).")
@click.option("--rate", type=float, default=None, help="SHARDS key sample rate [default: 0.01].")
@click.option("--prefix", is_flag=True, help="Prefix hit curve of KV-block requests "
              "(exact; a request hits the longest cached prefix of its blocks).")
@click.option("--sizes-from", default=None, help="Evaluate at the cache sizes of another mrc "
              "JSON (to compare methods point by point).")
@click.option("--out", default=None, help="JSON file to write (default: stdout).")
@click.option("--memory-limit", default=None, help="DuckDB memory limit, e.g. 2GB.")
@click.option("--temp-directory", default=None, help="Where DuckDB spills past the limit.")
@click.option("--threads", type=int, default=None, help="DuckDB threads.")
@handle_errors
def mrc(logs: tuple[str, ...], method: str, unit: str, key_col: str, size_col: str | None,
        request_col: str | None, order_col: str | None, align_bits: int | None,
        rate: float | None, prefix: bool,
        sizes_from: str | None, out: str | None,
        memory_limit: str | None, temp_directory: str | None, threads: int | None) -> None:
    """Write the miss-ratio curve of an LRU cache over the log."""
    from sqlwave.engine import expand_paths
    from sqlwave.mrc import miss_ratio_curve
    from sqlwave.outputs import check_outputs, write_text_atomic
    from sqlwave.wavespec import dumps

    inputs = expand_paths(list(logs)) + ([sizes_from] if sizes_from else [])
    check_outputs({"--out": out}, inputs)
    sizes = _sizes_of(sizes_from) if sizes_from else None
    curve = miss_ratio_curve(list(logs), method=method, unit=unit, key_col=key_col,
                             size_col=size_col, request_col=request_col, rate=rate, prefix=prefix,
                             sizes=sizes, engine={"memory_limit": memory_limit, "threads": threads,
                                                  "temp_directory": temp_directory},
                             order_col=order_col, align_bits=align_bits)
    text = dumps(curve)
    if out is None:
        click.echo(text, nl=False)
        return
    write_text_atomic(out, text)
    last = curve["points"][-1]
    click.echo(f"wrote {out}: {method} {unit} curve, {len(curve['points'])} points up to "
               f"{last['size']} (miss ratio {last['miss_ratio']:.4f})", err=True)


def _sizes_of(path: str) -> list[int]:
    from sqlwave.errors import InputError, ParameterError
    from sqlwave.mrc import check_sizes
    from sqlwave.wavespec import read_json

    doc = read_json(path, "--sizes-from", "give an mrc JSON")
    try:
        raw = [p["size"] for p in doc["points"]]
    except (KeyError, TypeError) as e:
        raise InputError(f"{path!r} has no points with sizes; give an mrc JSON") from e
    try:
        return check_sizes(raw)
    except ParameterError as e:
        raise InputError(f"{path!r}: its cache {e}; give an mrc JSON") from e


COMMANDS = [mrc]
