{#- mrc_prefix: prefix hits of KV-block requests vs LRU capacity, from per-access stack distances.

    A request reads its blocks in order and counts as hits only the longest prefix of blocks found
    in the cache. Block k of a request is a prefix hit at capacity C exactly when every block
    1..k has stack distance <= C (LRU inclusion), i.e. when the running maximum of the distances
    over the request is <= C; a first access counts as infinitely far. So one pass gives the
    whole curve: replace each distance by that running maximum, then bin as mrc_hits does.
    An access without a request id (NULL) is a request of its own, not one with every other
    such access in the log.

    src        relation with columns idx, request, size, distance (from stack_distance)
    unit_col   'distance' or 'byte_distance'

    Columns: distance (running maximum, NULL once a block was cold), size. -#}
{% if unit_col not in ("distance", "byte_distance") %}{{ raise_error("unit_col must be distance or byte_distance") }}{% endif %}
WITH marked AS (
    SELECT
        request, idx, size,
        CASE WHEN {{ unit_col }} IS NULL THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END AS cold,
        {{ unit_col }} AS d
    FROM {{ src }}
),
running AS (
    SELECT
        size,
        max(cold) OVER prefix AS any_cold,
        max(d) OVER prefix AS max_d
    FROM marked
    WINDOW prefix AS (PARTITION BY request, CASE WHEN request IS NULL THEN idx END ORDER BY idx ASC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT CASE WHEN any_cold = 1 THEN NULL ELSE max_d END AS distance, size
FROM running
