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

    With `chunk` (bytes only), the rows are cut into chunks of that many rows, each its own
    window partition, led by the LRU stack at the chunk's start: a row for each key reused in
    the chunk, at its last access before the chunk, and between those rows one row per run of
    the other keys, carrying their summed bytes (value = a member's row * shift + bytes). A frame
    that starts before the chunk then starts at the key's stack row instead and sums the same
    bytes: the stack above the key, plus the chunk's new keys up to the access. Partitions of
    about chunk + twice the reused keys, instead of one of all rows, keep the DISTINCT window's
    merge-sort trees small and let threads work on several.

    src        log relation with columns key, size, request, pos (NULL keys already removed)
    dense      whether pos counts rows (consecutive integers); if not, rows are renumbered
               (a hash-sampled log, for SHARDS), which costs one more sort
    bytes      compute byte_distance instead of distance
    shift      (bytes) a power of two above the bytes of all keys; default 2^50
    wide       (bytes) encode in HUGEINT; default true
    chunk      (bytes) rows per chunk, or none (default) for one window over all rows
    rows       (chunk) the number of rows in src
    partition  optional column of src (not with chunk): distances are computed within each of
               its groups, as if each were a log of its own (the time windows of SHARDS's head);
               with `dense`, pos must be consecutive within a group

    Columns: idx, request, size, key_size, distance, byte_distance (NULL for a first access, and
    the one not asked for), and the partition column if given. -#}
{% set part = partition if partition is defined and partition else none %}
{% set shift = shift if shift is defined else 2 ** 50 %}
{% set wide = wide if wide is defined else true %}
{% set chunk = chunk if chunk is defined else none %}
{% if chunk %}
{% set last_part = ((rows - 1) if dense else rows) // chunk %}
{% endif %}
{% if chunk and not bytes %}{{ raise_error("stack_distance: chunk goes with bytes only") }}{% endif %}
{% if chunk and part %}{{ raise_error("stack_distance: chunk and partition do not combine") }}{% endif %}
{#- encode(id, bytes): a value unique to `id` whose sum over a frame, mod shift, sums `bytes`. -#}
{% macro encode(id, bytes) -%}
{{ ("CAST(" ~ id ~ " AS HUGEINT)") if wide else id }} * {{ shift }} + {{ bytes }}
{%- endmacro %}
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
{% if chunk %}
        lead(idx) OVER by_key AS next_idx,
{% endif %}
        first_value(idx) OVER by_key AS kid,
        first_value(size) OVER by_key AS key_size
    FROM indexed
    WINDOW by_key AS (PARTITION BY {% if part %}{{ part }}, {% endif %}key ORDER BY idx ASC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
){% if chunk %},
valued AS (
    SELECT idx, request, size, key_size, gap, next_idx, {{ encode("kid", "key_size") }} AS value,
           idx // {{ chunk }} AS part, COALESCE(next_idx // {{ chunk }}, {{ last_part + 1 }}) AS next_part
    FROM keyed
),
stacked AS (
    -- A key's last access in a chunk is in the LRU stack at the start of each later chunk, up
    -- to the one where the key is reused.
    SELECT unnest(range(part + 1, LEAST(next_part, {{ last_part }}) + 1)) AS part,
           idx, key_size, value, next_idx, next_part
    FROM valued
    WHERE next_part > part
),
runs AS (
    SELECT part, idx, value, next_idx, next_part = part AS reused,
           CAST(sum(CASE WHEN next_part = part THEN 0 ELSE key_size END) OVER by_idx AS BIGINT)
               AS passed_bytes,
           lead(next_part = part, 1, TRUE) OVER by_idx AS run_ends
    FROM stacked
    WINDOW by_idx AS (PARTITION BY part ORDER BY idx ASC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
stack AS (
    -- Keys reused in the chunk keep their rows; each run of the others between two of them
    -- becomes one row at its last member, its bytes in the value.
    SELECT part, idx, reused, next_idx,
           CASE WHEN reused THEN value
                ELSE {{ encode("idx", "passed_bytes - lag(passed_bytes, 1, 0) OVER by_idx") }} END AS value,
           count(*) OVER (by_idx ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS depth
    FROM runs
    WHERE reused OR run_ends
    WINDOW by_idx AS (PARTITION BY part ORDER BY idx ASC)
),
framed AS (
    -- A key reused in the chunk reaches back to its stack row: past the stack rows from it on
    -- (depth) and the chunk's rows before the access.
    SELECT v.part, v.idx, v.request, v.size, v.key_size, v.value, FALSE AS context,
           CASE WHEN s.depth IS NULL THEN v.gap ELSE s.depth + v.idx - v.part * {{ chunk }} END AS gap
    FROM valued AS v
    LEFT JOIN stack AS s ON s.reused AND s.next_idx = v.idx
    UNION ALL
    SELECT part, idx, NULL AS request, NULL AS size, NULL AS key_size, value, TRUE AS context,
           NULL AS gap
    FROM stack
)
SELECT idx, request, size, key_size, distance, byte_distance
FROM (
    SELECT
        idx, request, size, key_size, context,
        CAST(NULL AS BIGINT) AS distance,
        CASE WHEN gap IS NULL THEN NULL
             ELSE CAST(sum(DISTINCT value) OVER frame % {{ shift }} AS BIGINT) END AS byte_distance
    FROM framed
    WINDOW frame AS (PARTITION BY part ORDER BY idx ASC ROWS BETWEEN COALESCE(gap, 0) PRECEDING AND CURRENT ROW)
) AS distances
WHERE NOT context
{% else %}

SELECT
    idx, request, size, key_size,{% if part %} {{ part }},{% endif %}

{% if bytes %}
    -- One DISTINCT window only: it holds most of the time and memory.
    CAST(NULL AS BIGINT) AS distance,
    CASE WHEN gap IS NULL THEN NULL
         ELSE CAST(sum(DISTINCT {{ encode("kid", "key_size") }}) OVER frame
                   % {{ shift }} AS BIGINT) END AS byte_distance
{% else %}
    CASE WHEN gap IS NULL THEN NULL ELSE CAST(count(DISTINCT kid) OVER frame AS BIGINT) END AS distance,
    CAST(NULL AS BIGINT) AS byte_distance
{% endif %}
FROM keyed
WINDOW frame AS ({% if part %}PARTITION BY {{ part }} {% endif %}ORDER BY idx ASC ROWS BETWEEN COALESCE(gap, 0) PRECEDING AND CURRENT ROW)
{% endif %}
