"""Register every command module on the click group (each module defines its own commands)."""

from __future__ import annotations

import importlib

import click

# Each module exposes COMMANDS: a list of click commands. Imported here, not at top level of
# cli.py, so that each command's heavy imports stay inside the command.
MODULES = [
    "sqlwave.cli_export",
    "sqlwave.cli_layout",
    "sqlwave.cli_macros",
    "sqlwave.cli_mrc",
    "sqlwave.cli_policy",
    "sqlwave.cli_trace",
]


def register(group: click.Group) -> None:
    for name in MODULES:
        for command in importlib.import_module(name).COMMANDS:
            group.add_command(command)
