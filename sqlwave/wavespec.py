"""The WaveSpec document: its format tag, canonical JSON, schema, and reading JSON, text and
Parquet inputs with clear errors (writing outputs: sqlwave/outputs.py)."""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlwave.errors import InputError

if TYPE_CHECKING:
    import pyarrow as pa

FORMAT = "sqlwave.wavespec/1"
FOOTER_BYTES = 1 << 16


def schema_path(name: str) -> Path:
    return Path(__file__).parent / "schemas" / f"{name}.schema.json"


def load_schema(name: str = "wavespec") -> dict[str, Any]:
    """The JSON Schema shipped with the package.

    >>> load_schema()["properties"]["format"]["const"]
    'sqlwave.wavespec/1'
    """
    return dict(json.loads(schema_path(name).read_text(encoding="utf-8")))


def dumps(doc: Any) -> str:
    """Canonical JSON: same input, same bytes (insertion order is fixed by the builders).

    Objects are indented; a non-empty list puts each element on one line, compact: a 1000-entry
    pack order is 1000 lines that grep and diff well, and the file is a quarter smaller than with
    indent=2 everywhere (which also runs json's pure-Python encoder, twice as slow).

    >>> print(dumps({"a": 1.0, "b": [1, {"c": "d", "e": []}], "f": {}}), end="")
    {
      "a": 1.0,
      "b": [
        1,
        {"c": "d", "e": []}
      ],
      "f": {}
    }
    """
    return _dump(doc, "") + "\n"


_flat = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": ")).encode


def _dump(value: Any, pad: str) -> str:
    inner = pad + "  "
    if isinstance(value, dict) and value:
        for k in value:
            if not isinstance(k, str):
                raise TypeError(f"JSON object keys must be strings, got {k!r}")
        items = ",\n".join(f"{inner}{_flat(k)}: {_dump(v, inner)}" for k, v in value.items())
        return f"{{\n{items}\n{pad}}}"
    if isinstance(value, list) and value:
        items = ",\n".join(inner + _flat(v) for v in value)
        return f"[\n{items}\n{pad}]"
    return _flat(value)


def read_text(path: str | os.PathLike[str], what: str, fix: str) -> str:
    """A UTF-8 text file's content; any way it cannot be read is an InputError naming `what`
    (e.g. "grid 'g.json'") and saying `fix` (e.g. "give a JSON or CSV file"). A byte-order mark,
    which spreadsheet programs put before a CSV's first column name, is dropped."""
    where = f"{what} {os.fspath(path)!r}"
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError as e:
        raise InputError(f"{where} does not exist; {fix}") from e
    except IsADirectoryError as e:
        raise InputError(f"{where} is a folder; {fix}") from e
    except UnicodeDecodeError as e:
        raise InputError(f"{where} is not UTF-8 text; {fix}") from e
    except OSError as e:
        raise InputError(f"cannot read {where}: {e.strerror or e}; {fix}") from e


def read_json(path: str | os.PathLike[str], what: str, fix: str) -> Any:
    """A JSON file's content, read as `read_text` reads text; bad JSON is an InputError too.

    NaN and infinities are refused: JSON has no such numbers (Python's reader takes them, and
    1e999 as infinity), and sqlwave never writes them.
    """
    where = f"{what} {os.fspath(path)!r}"
    try:
        return json.loads(read_text(path, what, fix), parse_constant=_no_constant,
                          parse_float=_finite)
    except RecursionError as e:
        raise InputError(f"{where} nests too deeply to read; {fix}") from e
    except ValueError as e:  # JSONDecodeError, NaN, or an integer of thousands of digits
        raise InputError(f"{where} is not valid JSON ({e}); {fix}") from e


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large for a number")
    return value


def read_parquet(path: str | os.PathLike[str], what: str, fix: str,
                 columns: list[str] | None = None) -> pa.Table:
    """A Parquet file's table (only `columns`, when given); a missing or unreadable file, or one
    without those columns, is an InputError naming `what` and saying `fix`, as `read_text`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    where = f"{what} {os.fspath(path)!r}"
    if not os.path.isfile(path):
        raise InputError(f"{where} does not exist; {fix}")
    try:
        names = pq.read_schema(path).names
        missing = [c for c in columns or () if c not in names]
        if missing:
            raise InputError(f"{where} lacks column(s) {', '.join(missing)}; {fix}")
        return pq.read_table(path, columns=columns)
    except (OSError, pa.ArrowException) as e:
        reason = str(e).strip().splitlines()[0].rstrip(".")
        raise InputError(f"cannot read {where}: {reason}; {fix}") from e


def sidecar_reference(sidecar: str, out: str) -> str:
    """How a WaveSpec written to `out` names its sidecar: relative to the WaveSpec's folder, so
    that a loader finds it from the JSON alone, wherever it runs (an absolute path stays).

    >>> sidecar_reference("out/s.pack.parquet", "out/s.json")
    's.pack.parquet'
    """
    if os.path.isabs(sidecar):
        return sidecar
    # Real paths: `..` after a linked folder goes where the system goes, and the WaveSpec is
    # written to the file a link names (write_all_atomic), so its folder is that file's.
    return os.path.relpath(os.path.realpath(sidecar), os.path.dirname(os.path.realpath(out)))


def fingerprint(files: list[str]) -> dict[str, Any] | None:
    """sha256 over each file's size and Parquet footer (row groups, statistics, sizes).

    The footer changes whenever the content does in practice and costs one small read per file,
    so big logs are not read twice. None for in-memory inputs.
    """
    if not files:
        return None
    digest = hashlib.sha256()
    for f in files:
        size = os.path.getsize(f)
        with open(f, "rb") as fh:
            fh.seek(max(0, size - FOOTER_BYTES))
            digest.update(str(size).encode())
            digest.update(fh.read())
    return {"method": "sha256-parquet-footer", "value": digest.hexdigest()}


def key_value(key: Any, key_type: str) -> Any:
    return int(key) if key_type == "integer" and key is not None else key
