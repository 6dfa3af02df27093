"""Hand Arrow columns to GPU frameworks without a copy, through DLPack."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from sqlwave.errors import InputError, did_you_mean


def to_dlpack_columns(table: pa.Table, columns: list[str] | None = None) -> dict[str, pa.Array]:
    """Return each column as one Arrow array that exports DLPack (`__dlpack__`) zero-copy.

    Any consumer (`numpy.from_dlpack`, `torch.from_dlpack`, `cupy.from_dlpack`) then sees the
    Arrow buffer itself. Only primitive, NULL-free columns qualify: DLPack has no validity bitmap
    and no variable-length layout. A column split into several chunks would need a copy to become
    one buffer, so it is refused rather than copied behind the caller's back.

    >>> import numpy as np, pyarrow as pa
    >>> cols = to_dlpack_columns(pa.table({"x": [1, 2, 3]}), ["x"])
    >>> np.from_dlpack(cols["x"]).tolist()
    [1, 2, 3]
    """
    if isinstance(table, pa.RecordBatch):  # one chunk per column, no copy
        table = pa.Table.from_batches([table])
    if not isinstance(table, pa.Table):
        raise InputError(f"to_dlpack_columns takes a pyarrow.Table, not a {type(table).__name__} "
                         "(pyarrow.Table.from_pandas for a DataFrame)")
    if isinstance(columns, str):  # list("ab") would be ["a", "b"]
        raise InputError(f"columns must be a list of names; for one column, pass [{columns!r}]")
    names = list(table.column_names) if columns is None else list(columns)
    out: dict[str, pa.Array] = {}
    for name in names:
        if name not in table.column_names:
            raise InputError(f"column {name!r} is not in the table."
                             + did_you_mean(name, table.column_names))
        if table.column_names.count(name) > 1:
            raise InputError(f"the table has {table.column_names.count(name)} columns named "
                             f"{name!r}; rename all but one")
        out[name] = _one_buffer(name, table.column(name))
    return out


def _one_buffer(name: str, column: pa.ChunkedArray) -> pa.Array:
    kind = column.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        raise InputError(f"column {name!r} has type {kind}; DLPack carries only integer and "
                         "floating columns (cast it, or encode strings to ids first)")
    if column.null_count:
        raise InputError(f"column {name!r} has {column.null_count} NULLs; DLPack has no validity "
                         "mask: fill or drop them first (pyarrow.compute.fill_null)")
    chunks = [c for c in column.chunks if len(c)] or column.chunks[:1]
    if len(chunks) > 1:
        raise InputError(f"column {name!r} is split into {len(chunks)} chunks; call "
                         "table.combine_chunks() first (one copy, made explicitly)")
    if not chunks:
        return pa.array([], type=kind)
    return chunks[0]


def buffer_address(array: Any) -> int:
    """Address of the first value of a primitive Arrow array (for zero-copy checks)."""
    address: int = array.buffers()[1].address
    return address + int(array.offset) * int(array.type.bit_width) // 8
