{#- stack_distance: the LRU stack distance of every access, computed with DISTINCT window
    aggregates over per-row frames (DuckDB; Postgres and Spark have no DISTINCT window aggregates).

    An access at row i whose key was last accessed at row p has stack distance = the number of
    distinct keys in rows p..i (the key itself included): an LRU cache of C objects hits it
    exactly when distance <= C. Keys are identified by the row of their first access (kid), an
    integer, so the DISTINCT never compares strings. The byte distance is the sum of the sizes
    of those keys: sum(DISTINCT kid * shift + key_size) mod shift, exact while every frame holds
    under `shift` bytes (the caller passes a shift above the working set's bytes) and the values
    fit their type: BIGINT when `wide` is false (the sum itself is a HUGEINT and cannot
    overflow), HUGEINT otherwise. A key's size is its size at its first access (one window
    ordering for lag, key id and size).

    With `chunk`, the rows are cut into chunks of that many rows, each a window partition of its
    own, led by the LRU stack at the chunk's start: one context row per key seen before, at its
    last access (its value only). A frame that starts before the chunk then starts at the key's
    context row instead, and holds the same distinct keys: those of the stack above it, plus
    the chunk's rows up to the access. Partitions of ~chunk + keys rows, instead of one of all
    rows, keep the DISTINCT window's merge-sort trees small and let threads work on several.

    src        log relation with columns key, size, request, pos (NULL keys already removed)
    dense      whether pos counts rows (consecutive integers); if not, rows are renumbered
               (a hash-sampled log, for SHARDS), which costs one more sort
    bytes      compute byte_distance instead of distance
    shift      (bytes) a power of two above the bytes of all keys; default 2^50
    wide       (bytes) encode in HUGEINT; default true
    chunk      rows per chunk, or none (default) for one window over all rows
    rows       (chunk) the number of rows in src

    Columns: idx, request, size, key_size, distance, byte_distance (NULL for a first access, and
    the one not asked for). -#}
{% set shift = shift if shift is defined else 2 ** 50 %}
{% set wide = wide if wide is defined else true %}
{% set chunk = chunk if chunk is defined else none %}
{% if chunk %}
{% set last_part = ((rows - 1) if dense else rows) // chunk %}
{% endif %}
{% set kid = "CAST(kid AS HUGEINT)" if wide else "kid" %}
{% set value = (kid ~ " * " ~ shift ~ " + key_size") if bytes else "kid" %}
WITH indexed AS (
{% if dense %}
    SELECT key, size, request, pos AS idx
{% else %}
    SELECT key, size, request, CAST(row_number() OVER (ORDER BY pos ASC) AS BIGINT) AS idx
{% endif %}
    FROM {{ src }}
),
keyed AS (
    SELECT
        idx, request, size,
        idx - lag(idx) OVER by_key AS gap,
{% if chunk %}
        lead(idx) OVER by_key AS next_idx,
{% endif %}
        first_value(idx) OVER by_key AS kid,
        first_value(size) OVER by_key AS key_size
    FROM indexed
    WINDOW by_key AS (PARTITION BY key ORDER BY idx ASC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
){% if chunk %},
valued AS (
    SELECT idx, request, size, key_size, next_idx, {{ value }} AS value FROM keyed
),
framed AS (
    SELECT idx // {{ chunk }} AS part, idx, request, size, key_size, value, FALSE AS context
    FROM valued
    UNION ALL
    -- A key's last access in a chunk is its row of the LRU stack at the start of every later
    -- chunk up to (and with) the one of its next access.
    SELECT unnest(range(idx // {{ chunk }} + 1, COALESCE(next_idx // {{ chunk }}, {{ last_part }}) + 1)) AS part,
           idx, NULL AS request, NULL AS size, NULL AS key_size, value, TRUE AS context
    FROM valued
    WHERE next_idx IS NULL OR next_idx // {{ chunk }} > idx // {{ chunk }}
),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY part ORDER BY idx ASC) AS rn FROM framed
),
linked AS (
    -- Rows back to the key's previous row in the partition (its access or its context row);
    -- NULL only for a key's first access.
    SELECT *, rn - lag(rn) OVER (PARTITION BY part, value ORDER BY idx ASC) AS gap FROM ranked
)
SELECT idx, request, size, key_size, distance, byte_distance
FROM (
    SELECT
        idx, request, size, key_size, context,
{% if bytes %}
        CAST(NULL AS BIGINT) AS distance,
        CASE WHEN gap IS NULL THEN NULL
             ELSE CAST(sum(DISTINCT value) OVER frame % {{ shift }} AS BIGINT) END AS byte_distance
{% else %}
        CASE WHEN gap IS NULL THEN NULL ELSE CAST(count(DISTINCT value) OVER frame AS BIGINT) END AS distance,
        CAST(NULL AS BIGINT) AS byte_distance
{% endif %}
    FROM linked
    WINDOW frame AS (PARTITION BY part ORDER BY idx ASC ROWS BETWEEN COALESCE(gap, 0) PRECEDING AND CURRENT ROW)
) AS distances
WHERE NOT context
{% else %}

SELECT
    idx, request, size, key_size,
{% if bytes %}
    -- One DISTINCT window only: it holds most of the time and memory.
    CAST(NULL AS BIGINT) AS distance,
    CASE WHEN gap IS NULL THEN NULL
         ELSE CAST(sum(DISTINCT {{ value }}) OVER frame % {{ shift }} AS BIGINT) END AS byte_distance
{% else %}
    CASE WHEN gap IS NULL THEN NULL ELSE CAST(count(DISTINCT kid) OVER frame AS BIGINT) END AS distance,
    CAST(NULL AS BIGINT) AS byte_distance
{% endif %}
FROM keyed
WINDOW frame AS (ORDER BY idx ASC ROWS BETWEEN COALESCE(gap, 0) PRECEDING AND CURRENT ROW)
{% endif %}
