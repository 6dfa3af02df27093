{#- stack_distance: the LRU stack distance of every access, computed with DISTINCT window
    aggregates over per-row frames (DuckDB; Postgres and Spark have no DISTINCT window aggregates).

    An access at row i whose key was last accessed at row p has stack distance = the number of
    distinct keys in rows p..i (the key itself included): an LRU cache of C objects hits it
    exactly when distance <= C. Keys are identified by the row of their first access, a BIGINT,
    so the DISTINCT count never compares strings. The byte distance is the sum of the sizes of
    those keys: sum(DISTINCT first_row * 2^50 + key_size) mod 2^50 (HUGEINT), exact while a
    frame holds under 1 PiB; a key's size is its size at its first access (one window
    ordering for lag, key id and size).

    src        log relation with columns key, size, request, pos (NULL keys already removed)
    dense      whether pos counts rows (consecutive integers); if not, rows are renumbered
               (a hash-sampled log, for SHARDS), which costs one more sort
    bytes      compute byte_distance instead of distance
    partition  optional column of src: distances are computed within each of its groups, as if
               each were a log of its own (the time windows of SHARDS's head); with `dense`, pos
               must be consecutive within a group

    Columns: idx, request, size, key_size, distance, byte_distance (NULL for a first access, and
    the one not asked for), and the partition column if given. -#}
{% set part = partition if partition is defined and partition else none %}
WITH indexed AS (
{% if dense %}
    SELECT key, size, request, pos AS idx{% if part %}, {{ part }}{% endif %}

{% else %}
    SELECT key, size, request, CAST(row_number() OVER (ORDER BY pos ASC) AS BIGINT) AS idx{% if part %}, {{ part }}{% endif %}

{% endif %}
    FROM {{ src }}
),
keyed AS (
    SELECT
        idx, request, size,{% if part %} {{ part }},{% endif %}

        idx - lag(idx) OVER by_key AS gap,
        first_value(idx) OVER by_key AS kid,
        first_value(size) OVER by_key AS key_size
    FROM indexed
    WINDOW by_key AS (PARTITION BY {% if part %}{{ part }}, {% endif %}key ORDER BY idx ASC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT
    idx, request, size, key_size,{% if part %} {{ part }},{% endif %}

{% if bytes %}
    -- One DISTINCT window only: it holds most of the time and memory.
    CAST(NULL AS BIGINT) AS distance,
    CASE WHEN gap IS NULL THEN NULL
         ELSE CAST(sum(DISTINCT CAST(kid AS HUGEINT) * {{ 2 ** 50 }} + key_size) OVER frame
                   % {{ 2 ** 50 }} AS BIGINT) END AS byte_distance
{% else %}
    CASE WHEN gap IS NULL THEN NULL ELSE CAST(count(DISTINCT kid) OVER frame AS BIGINT) END AS distance,
    CAST(NULL AS BIGINT) AS byte_distance
{% endif %}
FROM keyed
WINDOW frame AS ({% if part %}PARTITION BY {{ part }} {% endif %}ORDER BY idx ASC ROWS BETWEEN COALESCE(gap, 0) PRECEDING AND CURRENT ROW)
