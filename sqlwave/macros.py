"""Find and render the Jinja2 SQL macros in `macros/` (a repo checkout or an installed wheel)."""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Any

import jinja2

from sqlwave.errors import ParameterError


def macros_dir() -> Path:
    """The folder that holds the macro templates.

    An installed wheel carries them as `sqlwave/_macros`; a source checkout has them at the
    repository root, beside the package.

    >>> (macros_dir() / "usage.sql").is_file()
    True
    """
    packaged = Path(__file__).parent / "_macros"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "macros"


def macro_names() -> list[str]:
    """Public macro names (files not starting with `_`), sorted.

    >>> "cohorts" in macro_names()
    True
    """
    # `<name>.<dialect>.sql` files are whole-file dialect overrides (sqlwave/render.py), not macros.
    return sorted(p.stem for p in macros_dir().glob("*.sql")
                  if not p.name.startswith("_") and "." not in p.stem)


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    # StrictUndefined: a missing parameter is a bug in the caller, never an empty string in SQL.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(macros_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        bytecode_cache=_bytecode_cache(),
    )
    env.globals["raise_error"] = _raise_error
    return env


class _QuietCache(jinja2.FileSystemBytecodeCache):
    """Jinja's per-user cache of compiled templates (checked against the source, written
    atomically): an export then skips 20 ms of template compiling. A cache it cannot write is
    only a slower start, never an error."""

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    try:
        return _QuietCache()
    except (OSError, RuntimeError):  # no safe per-user folder in the temp directory
        return None


def _raise_error(message: str) -> None:
    raise ParameterError(message)


def helper(name: str, *args: Any) -> str:
    """Call macro `name` of `macros/_helpers.sql`, for SQL built in Python from the same pieces.

    >>> helper("align_up", "x", "8")
    '((x) + (8) - 1 - (((x) + (8) - 1) % (8)))'
    """
    return str(getattr(environment().get_template("_helpers.sql").module, name)(*args))


def render(name: str, **params: Any) -> str:
    """Render macro `name` to one DuckDB SQL query (portable subset).

    >>> sql = render("usage", src="log", key='"key"', size=None, pos="pos", request=None)
    >>> sql.lstrip().startswith("SELECT") or sql.lstrip().startswith("WITH")
    True
    """
    template = environment().get_template(f"{name}.sql")
    return template.render(**params).strip() + "\n"
