"""`sqlwave export`, `sqlwave schema` and `sqlwave example-logs`."""

from __future__ import annotations

from typing import Any

import click

from sqlwave.cli import handle_errors

# DuckDB's own default is 80% of RAM. A bound keeps big logs spilling to disk instead of growing,
# and 1GB does not slow down logs with millions of keys (150MB did, 2.5x; docs/benchmarks.md).
DEFAULT_MEMORY_LIMIT = "1GB"


@click.command()
@click.option("--logs", multiple=True, help="Parquet file, folder or glob (repeatable). "
              "Default: the built-in example log.")
@click.option("--key", "key_col", default="key", show_default=True, help="Key column.")
@click.option("--size", "size_col", default=None, help="Object size column, in bytes.")
@click.option("--request-col", default=None,
              help="Request id column: requests for the co-access layouts and --order auto.")
@click.option("--order-by", "order_col", default=None,
              help="Column giving access order (e.g. a timestamp). Default: file order.")
@click.option("--out", default="wavespec.json", show_default=True, help="WaveSpec JSON to write.")
@click.option("--pack-order-out", default=None, help="Also write the full pack order as Parquet.")
@click.option("--prefix-len", type=int, default=None, help="Cohorts by the first N characters "
              "(bytes for BLOB keys).")
@click.option("--delimiter", default=None, help="Cohorts by delimiter depth, e.g. '.'. "
              "Default: the separator most keys contain.")
@click.option("--depth", type=int, default=3, show_default=True, help="Segments kept with --delimiter.")
@click.option("--rank-by", type=click.Choice(["hits", "bytes"]), default="hits", show_default=True)
@click.option("--top-k", type=int, default=20, show_default=True, help="Cohorts to keep.")
@click.option("--page-bits", type=int, default=12, show_default=True, help="Page = address >> bits.")
@click.option("--align-bits", type=int, default=None, help="Pack offset alignment (default: page).")
@click.option("--key-scale", type=int, default=1, show_default=True,
              help="Bytes per integer key unit (512 for 512-byte block numbers).")
@click.option("--order", default="hot", show_default=True, help="Pack order strategy: hot, "
              "first-touch, last-touch, request-first-touch, request-last-touch, cohort, "
              "waves-first-touch, waves-last-touch, hash, or auto (tuned; see docs/layout.md).")
@click.option("--previous", default=None, help="A previous WaveSpec: keep its layout unless the "
              "new one has fewer extents per request by more than --previous-threshold.")
@click.option("--previous-threshold", type=float, default=0.05, show_default=True)
@click.option("--request-window", type=int, default=16, show_default=True,
              help="Accesses per pseudo-request for layout tuning when there is no request column.")
@click.option("--page-bits-options", default=None, help="With --order auto: page sizes to choose "
              "among, e.g. 12,16,20 (objects stay aligned to --align-bits, else the smallest option).")
@click.option("--io-cost", default="64KiB", show_default=True,
              help="With --page-bits-options: bytes one extent (I/O) costs, e.g. 64KiB.")
@click.option("--wave-bytes", default=None, help="Per-wave byte budgets, e.g. 1GiB,8GiB, or "
              "'auto': at the knees of the byte miss-ratio curve.")
@click.option("--capacity", default=None, help="Cache capacity, e.g. 80GiB (for occupancy).")
@click.option("--reuse-sample", type=float, default=None,
              help="Key sample rate for the reuse-time histogram (default: automatic).")
@click.option("--reuse-exact", is_flag=True, help="Exact reuse-time histogram (every access).")
@click.option("--null-keys", type=click.Choice(["report", "error"]), default="report",
              show_default=True, help="What to do with rows whose key is NULL.")
@click.option("--max-inline", type=int, default=1000, show_default=True,
              help="Pack-order entries and extents inlined in the JSON.")
@click.option("--memory-limit", default=DEFAULT_MEMORY_LIMIT, show_default=True,
              help="DuckDB memory limit, e.g. 2GB; past it, work spills to the temp directory.")
@click.option("--temp-directory", default=None, help="Where DuckDB spills.")
@click.option("--threads", type=int, default=None, help="DuckDB threads.")
@click.option("--engine", type=click.Choice(["duckdb", "spark", "postgres"]), default="duckdb",
              show_default=True, help="Where the SQL runs (spark, postgres: docs/warehouses.md).")
@click.option("--master", default="local[*]", show_default=True, help="Spark master URL.")
@click.option("--dsn", default=None, help="PostgreSQL connection string (--engine postgres).")
@click.option("--table", default=None, help="PostgreSQL table with the log (--engine postgres).")
@handle_errors
def export(logs: tuple[str, ...], out: str, pack_order_out: str | None, wave_bytes: str | None,
           capacity: str | None, reuse_exact: bool, memory_limit: str | None,
           temp_directory: str | None, threads: int | None, engine: str, master: str,
           dsn: str | None, table: str | None, **options: Any) -> None:
    """Analyse an access log and write a WaveSpec JSON."""
    from sqlwave.engine import start_early

    if engine == "duckdb":
        start_early()  # DuckDB creates its database while the imports below run
    from sqlwave.engine import expand_paths
    from sqlwave.example import example_log_path
    from sqlwave.export_options import ExportOptions
    from sqlwave.outputs import check_outputs
    from sqlwave.units import parse_byte_list, parse_bytes, parse_int_list
    from sqlwave.writer import export_to_file

    _refuse_unused_options(engine, reuse_exact, options)
    check_outputs({"--out": out, "--pack-order-out": pack_order_out},
                  expand_paths(list(logs)) if logs else ())

    if reuse_exact:
        options["reuse_sample"] = 1.0
    if options["page_bits_options"] is not None:
        options["page_bits_options"] = parse_int_list(options["page_bits_options"],
                                                      "--page-bits-options")
    options["io_cost_bytes"] = parse_bytes(options.pop("io_cost"), "--io-cost")
    opts = ExportOptions(
        wave_bytes=(parse_byte_list(wave_bytes, "--wave-bytes")
                    if wave_bytes is not None and wave_bytes != "auto" else None),
        wave_bytes_auto=wave_bytes == "auto",
        capacity=parse_bytes(capacity, "--capacity") if capacity else None,
        engine={"memory_limit": memory_limit, "temp_directory": temp_directory, "threads": threads},
        **options,
    )
    if engine != "duckdb":
        from sqlwave.engine_export import EngineOptions, export_to_file_with_engine

        where = EngineOptions(engine, master, dsn, table)
        click.echo(export_to_file_with_engine(where, list(logs), opts, out, pack_order_out), err=True)
        return
    if not logs:
        logs = (str(example_log_path()),)
        if opts.size_col is None:
            opts.size_col, opts.request_col = "size", opts.request_col or "request_id"
    summary = export_to_file(list(logs), opts, out, pack_order_out)
    click.echo(summary, err=True)


# Options that only one engine reads; given with another, they would be ignored without a word
# (--dsn without --engine postgres ran on the built-in example log).
ENGINE_OPTIONS = {
    "duckdb": ("memory_limit", "temp_directory", "threads"),
    "spark": ("master",),
    "postgres": ("dsn", "table"),
}


def _refuse_unused_options(engine: str, reuse_exact: bool, options: dict[str, Any]) -> None:
    """An option this run would not use is an error: a user who gave it expects an effect."""
    from click.core import ParameterSource

    from sqlwave.errors import ParameterError

    ctx = click.get_current_context()

    def given(name: str) -> bool:
        return ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)

    for owner, names in ENGINE_OPTIONS.items():
        for name in names:
            if owner != engine and given(name):
                option = "--" + name.replace("_", "-")
                how = (f"add --engine {owner}" if not given("engine") else
                       f"drop it, or use --engine {owner}")
                raise ParameterError(f"{option} is for --engine {owner}, not {engine}; {how}")
    if engine != "duckdb" and given("previous"):  # refused before any file is looked at
        from sqlwave.engine_export import previous_refused

        raise previous_refused(engine)
    if given("depth") and options.get("prefix_len") is not None:
        raise ParameterError("--depth counts --delimiter segments; with --prefix-len it has no "
                             "effect: drop one of the two")
    if reuse_exact and given("reuse_sample"):
        raise ParameterError("give --reuse-exact or --reuse-sample, not both")
    if given("io_cost") and not options.get("page_bits_options"):
        raise ParameterError("--io-cost prices the extents of --page-bits-options; give both, or "
                             "drop --io-cost")
    if given("page_bits") and options.get("page_bits_options"):
        raise ParameterError("--order auto picks the page size from --page-bits-options; give "
                             "--page-bits or --page-bits-options, not both")
    if given("request_window"):
        from sqlwave.strategies import PACK_STRATEGIES

        if options.get("request_col"):
            raise ParameterError("--request-window makes requests of consecutive accesses when "
                                 "the log has no --request-col; give one of the two")
        if options.get("order") in PACK_STRATEGIES and not options.get("previous"):
            raise ParameterError(f"--request-window is for co-access orders (--order auto or a "
                                 f"layout) and --previous, not --order {options.get('order')}")


@click.command()
@click.argument("name", type=click.Choice(["wavespec", "mrc"]))
def schema(name: str) -> None:
    """Print the JSON Schema of an output format."""
    from sqlwave.wavespec import schema_path

    click.echo(schema_path(name).read_text(encoding="utf-8"), nl=False)


@click.command("example-logs")
@click.option("--rows", type=int, default=100_000, show_default=True)
@click.option("--out", required=True, help="Parquet file to write.")
@click.option("--seed", type=int, default=7, show_default=True)
@handle_errors
def example_logs(rows: int, out: str, seed: int) -> None:
    """Generate a realistic access log (hierarchical keys, Zipf popularity, requests, sizes)."""
    from sqlwave.example import write_example_log
    from sqlwave.outputs import check_outputs

    check_outputs({"--out": out})
    write_example_log(out, rows=rows, seed=seed)
    click.echo(f"wrote {rows} rows to {out}", err=True)


COMMANDS = [export, schema, example_logs]
