"""Pack-order strategies as data: a name and the usage columns it sorts by.

A new strategy is a new entry here; `macros/pack_order.sql` turns the table into SQL, and every
order ends with the same total tie-break (hash60, then the key).
"""

from __future__ import annotations

# (column, direction) pairs; columns are those of the usage macro, all BIGINT.
PACK_STRATEGIES: dict[str, tuple[tuple[str, str], ...]] = {
    # The plan's suggest_pack_order_from_usage: most accessed first.
    "hot": (("hits", "DESC"), ("bytes", "DESC")),
    # Order of first access: keys used together early sit together.
    "first-touch": (("first_pos", "ASC"),),
    # Most recently used first.
    "last-touch": (("last_pos", "DESC"),),
}
