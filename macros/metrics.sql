{#- metrics: whole-log figures from the usage aggregate (no second scan).

    src       usage relation (see usage.sql), NULL-key group included
    capacity  SQL expression, cache capacity in bytes

    Columns: rows, distinct_keys, null_keys, bytes_moved, unique_bytes, max_object_bytes,
    reuse_ratio (share of accesses that are re-accesses), bytes_reuse_ratio, occupancy
    (working set / capacity), single_use_keys. -#}
{% import '_helpers.sql' as h %}
WITH sums AS (
    SELECT
        CAST(sum(hits) AS BIGINT) AS rows,
        CAST(sum(CASE WHEN key IS NULL THEN 0 ELSE 1 END) AS BIGINT) AS distinct_keys,
        CAST(sum(CASE WHEN key IS NULL THEN hits ELSE 0 END) AS BIGINT) AS null_keys,
        CAST(sum(CASE WHEN key IS NULL THEN 0 ELSE bytes END) AS BIGINT) AS bytes_moved,
        CAST(sum(CASE WHEN key IS NULL THEN 0 ELSE size END) AS BIGINT) AS unique_bytes,
        CAST(max(CASE WHEN key IS NULL THEN 0 ELSE size END) AS BIGINT) AS max_object_bytes,
        CAST(sum(CASE WHEN key IS NOT NULL AND hits = 1 THEN 1 ELSE 0 END) AS BIGINT) AS single_use_keys
    FROM {{ src }}
)
SELECT
    COALESCE(rows, 0) AS rows,
    COALESCE(distinct_keys, 0) AS distinct_keys,
    COALESCE(null_keys, 0) AS null_keys,
    COALESCE(bytes_moved, 0) AS bytes_moved,
    COALESCE(unique_bytes, 0) AS unique_bytes,
    COALESCE(max_object_bytes, 0) AS max_object_bytes,
    {{ h.ratio('rows - null_keys - distinct_keys', 'rows - null_keys') }} AS reuse_ratio,
    {{ h.ratio('bytes_moved - unique_bytes', 'bytes_moved') }} AS bytes_reuse_ratio,
    {{ h.ratio('unique_bytes', capacity) }} AS occupancy,
    COALESCE(single_use_keys, 0) AS single_use_keys
FROM sums
