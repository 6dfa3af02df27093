"""`sqlwave evaluate-layout` and `sqlwave report`."""

from __future__ import annotations

import click

from sqlwave.cli import handle_errors


@click.command("evaluate-layout")
@click.option(
    "--logs", multiple=True, required=True, help="Parquet file, folder or glob (repeatable)."
)
@click.option("--key", "key_col", default="key", show_default=True, help="Key column.")
@click.option(
    "--size",
    "size_col",
    default=None,
    help="Object size column, in bytes (default: 'size' when the log has an integer one with a "
    "size >= 0 for every access).",
)
@click.option(
    "--request-col",
    default=None,
    help="Request id column; without one, windows of "
    "--window consecutive accesses stand in for requests.",
)
@click.option(
    "--order-by",
    "order_col",
    default=None,
    help="Column that orders the accesses, e.g. a timestamp (default: file order).",
)
@click.option(
    "--train-frac",
    type=float,
    default=0.7,
    show_default=True,
    help="Share of accesses (in access order) to learn on; the rest is the test window.",
)
@click.option(
    "--remap-keys",
    is_flag=True,
    help="Re-map integer keys through a hash first "
    "(ids handed out in first-seen order would flatter key-order layouts).",
)
@click.option("--page-bits", type=int, default=12, show_default=True, help="Page = 2^bits bytes.")
@click.option(
    "--wave-bytes",
    default=None,
    help="Per-wave byte budgets, e.g. 1GiB,8GiB (default: 5 % then 20 % of the packed bytes).",
)
@click.option(
    "--page-bits-options",
    default=None,
    help="Page sizes for the tuner to choose "
    "among, e.g. 12,16,20 (objects stay aligned to the smallest).",
)
@click.option(
    "--io-cost",
    default="64KiB",
    show_default=True,
    help="With --page-bits-options: bytes one extent (I/O) costs.",
)
@click.option(
    "--request-window",
    "--window",
    "window",
    type=int,
    default=16,
    show_default=True,
    help="Accesses per pseudo-request when there is no request column.",
)
@click.option("--strategies", default=None, help="Comma-separated candidates (default: all).")
@click.option(
    "--top-k", type=int, default=20, show_default=True, help="Cohorts compared for stability."
)
@click.option("--threads", type=int, default=None, help="DuckDB threads.")
@handle_errors
def evaluate_layout(
    logs: tuple[str, ...],
    key_col: str,
    size_col: str | None,
    request_col: str | None,
    order_col: str | None,
    train_frac: float,
    remap_keys: bool,
    page_bits: int,
    page_bits_options: str | None,
    io_cost: str,
    wave_bytes: str | None,
    window: int,
    strategies: str | None,
    top_k: int,
    threads: int | None,
) -> None:
    """Learn each layout on the first part of a log and judge it on the rest (JSON to stdout)."""
    from sqlwave.errors import ParameterError
    from sqlwave.layout import CANDIDATES, LayoutParams
    from sqlwave.layout_eval import evaluate_layout as run
    from sqlwave.units import parse_byte_list, parse_bytes, parse_int_list
    from sqlwave.wavespec import dumps

    candidates = (
        tuple(s.strip() for s in strategies.split(",") if s.strip()) if strategies else CANDIDATES
    )
    if wave_bytes is not None and wave_bytes.strip().lower() == "auto":
        raise ParameterError("--wave-bytes auto is for export only; give evaluate-layout the "
                             "budgets that export wrote (parameters.wave_bytes in its WaveSpec), "
                             "e.g. --wave-bytes 1GiB,8GiB")
    params = LayoutParams(
        page_bits=page_bits,
        window=window,
        candidates=candidates,
        wave_bytes=parse_byte_list(wave_bytes, "--wave-bytes") if wave_bytes is not None else None,
        page_bits_options=tuple(parse_int_list(page_bits_options, "--page-bits-options")
                                if page_bits_options is not None else ()),
        io_cost_bytes=parse_bytes(io_cost, "--io-cost"),
    )
    result = run(list(logs), key_col, size_col, request_col, train_frac=train_frac,
                 remap_keys=remap_keys, top_k=top_k, params=params, engine={"threads": threads},
                 guess_size=size_col is None, order_col=order_col)
    click.echo(dumps(result), nl=False)


@click.command()
@click.argument("wavespec", type=click.Path(dir_okay=False))
@click.option("--out", default="report.html", show_default=True, help="HTML file to write.")
@click.option("--title", default=None, help="Report title (default: the log's file name).")
@click.option(
    "--mrc", default=None, help="A `sqlwave mrc` JSON to draw (default: the miss ratio of "
    "caching the first N bytes of the pack order)."
)
@click.option(
    "--evaluation", default=None, help="An `evaluate-layout` JSON to compare layouts with."
)
@handle_errors
def report(
    wavespec: str, out: str, title: str | None, mrc: str | None, evaluation: str | None
) -> None:
    """Write a self-contained HTML report (inline SVG charts) of a WaveSpec."""
    from sqlwave.report import write_report

    write_report(wavespec, out, title, mrc, evaluation)
    click.echo(f"wrote {out}", err=True)


COMMANDS = [evaluate_layout, report]
