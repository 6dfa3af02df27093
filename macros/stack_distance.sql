{#- stack_distance: the LRU stack distance of every access, computed with DISTINCT window
    aggregates over per-row frames (DuckDB; Postgres and Spark have no DISTINCT window aggregates).

    An access at row i whose key was last accessed at row p has stack distance = the number of
    distinct keys in rows p..i (the key itself included): an LRU cache of C objects hits it
    exactly when distance <= C. Keys are identified by the row of their first access, a BIGINT,
    so the DISTINCT count never compares strings. The byte distance is the sum of the sizes of
    those keys: sum(DISTINCT first_row * 2^50 + key_size) mod 2^50 (HUGEINT), exact while a
    frame holds under 1 PiB; a key's size is its largest size in the log.

    src        log relation with columns key, size, request, pos (NULL keys already removed)
    dense      whether pos counts rows (consecutive integers); if not, rows are renumbered
               (a hash-sampled log, for SHARDS), which costs one more sort
    bytes      also compute byte_distance

    Columns: idx, request, size, key_size, distance, byte_distance (NULL for a first access). -#}
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
        first_value(idx) OVER by_key AS kid,
{% if bytes %}
        max(size) OVER (PARTITION BY key ORDER BY idx ASC
                        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS key_size
{% else %}
        size AS key_size
{% endif %}
    FROM indexed
    WINDOW by_key AS (PARTITION BY key ORDER BY idx ASC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT
    idx, request, size, key_size,
    CASE WHEN gap IS NULL THEN NULL ELSE CAST(count(DISTINCT kid) OVER frame AS BIGINT) END AS distance,
{% if bytes %}
    CASE WHEN gap IS NULL THEN NULL
         ELSE CAST(sum(DISTINCT CAST(kid AS HUGEINT) * {{ 2 ** 50 }} + key_size) OVER frame
                   % {{ 2 ** 50 }} AS BIGINT) END AS byte_distance
{% else %}
    CAST(NULL AS BIGINT) AS byte_distance
{% endif %}
FROM keyed
WINDOW frame AS (ORDER BY idx ASC ROWS BETWEEN COALESCE(gap, 0) PRECEDING AND CURRENT ROW)
