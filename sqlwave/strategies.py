"""Pack-order strategies as data: a name and the columns it sorts by.

A new strategy is a new entry here; `macros/pack_order.sql` turns the table into SQL, and every
order ends with the same total tie-break (hash60, then the key). Strategies that sort only by
usage columns run on the usage aggregate; the others need the per-key columns of
`macros/layout_features.sql` (co-access, hotness waves, cohorts).
"""

from __future__ import annotations

# Columns of macros/usage.sql that a strategy may sort by (all BIGINT).
USAGE_COLUMNS = frozenset({"hits", "bytes", "size", "first_pos", "last_pos", "requests", "h60"})

Order = tuple[tuple[str, str], ...]

# (column, direction) pairs over usage columns: these run anywhere the usage aggregate does
# (the DuckDB shell file included).
PACK_STRATEGIES: dict[str, Order] = {
    # The plan's suggest_pack_order_from_usage: most accessed first.
    "hot": (("hits", "DESC"), ("bytes", "DESC")),
    # Order of first access: keys used together early sit together.
    "first-touch": (("first_pos", "ASC"),),
    # Most recently used first.
    "last-touch": (("last_pos", "DESC"),),
}

# Every strategy a layout may use: the above, plus those sorting by layout_features columns.
LAYOUT_STRATEGIES: dict[str, Order] = {
    **PACK_STRATEGIES,
    # A layout with no information (the hash of the key): the floor any strategy must beat.
    "hash": (("h60", "ASC"),),
    # Keys grouped by prefix cohort, hot cohorts first, hot keys first inside a cohort.
    "cohort": (("cohort_rank", "ASC"), ("hits", "DESC"), ("bytes", "DESC")),
    # Co-access from requests: each key where its first (last) request used it, in request order.
    "request-first-touch": (("first_req", "ASC"), ("first_pos", "ASC")),
    "request-last-touch": (("last_req", "DESC"), ("last_pos", "ASC")),
    # Hotness waves (hot keys load first), co-access order inside each wave.
    "waves-first-touch": (("hot_wave", "ASC"), ("first_req", "ASC"), ("first_pos", "ASC")),
    "waves-last-touch": (("hot_wave", "ASC"), ("last_req", "DESC"), ("last_pos", "ASC")),
}


def needs_features(strategy: str) -> bool:
    """True when the strategy sorts by a column that usage alone does not have.

    >>> needs_features("hot"), needs_features("waves-first-touch")
    (False, True)
    """
    return any(col not in USAGE_COLUMNS for col, _ in LAYOUT_STRATEGIES[strategy])


def uses_positions(strategy: str) -> bool:
    """True when the strategy sorts by first or last access position (or is not a plain usage
    strategy, whose needs only the layout code knows).

    >>> uses_positions("hot"), uses_positions("first-touch"), uses_positions("auto")
    (False, True, True)
    """
    if strategy not in PACK_STRATEGIES:
        return True
    return any(col in ("first_pos", "last_pos") for col, _ in PACK_STRATEGIES[strategy])


def usage_strategies() -> dict[str, Order]:
    """The layout strategies that run on the usage aggregate alone.

    >>> sorted(usage_strategies())
    ['first-touch', 'hash', 'hot', 'last-touch']
    """
    return {name: cols for name, cols in LAYOUT_STRATEGIES.items() if not needs_features(name)}
