"""`sqlwave macros`: the macros as SQL for another engine (stdout) or the golden files (--write)."""

from __future__ import annotations

from pathlib import Path

import click

from sqlwave.cli import handle_errors


@click.command()
@click.option("--dialect", "target", default=None,
              help="duckdb, postgres, spark, clickhouse, datafusion, snowflake, bigquery, trino. "
              "Default: duckdb on stdout, every dialect with --write.")
@click.option("--write", is_flag=True, help="Regenerate sql/<dialect>/<macro>.sql under --root.")
@click.option("--root", default=".", show_default=True, help="Folder that holds sql/ (with --write).")
@handle_errors
def macros(target: str | None, write: bool, root: str) -> None:
    """Print every macro as SQL for a dialect, or regenerate the checked-in files."""
    from sqlwave.dialects import DIALECTS, dialect
    from sqlwave.embedding import script, write_dialects

    if not write:
        click.echo(script(dialect("duckdb" if target is None else target).name), nl=False)
        return
    targets = list(DIALECTS) if target is None else [dialect(target).name]
    for path in write_dialects(Path(root), targets):
        click.echo(f"wrote {path}", err=True)


COMMANDS = [macros]
