{#- reuse: histogram of reuse times (accesses since the previous access to the same key), in log2
    buckets: bucket b holds reuse times in [2^b, 2^(b+1)); first accesses are not reuses.

    src          log relation with columns key, pos (NULL keys removed, unless null_keys)
    sampled      relation with columns `key` and `hits` listing the keys to keep, or none for all
                 keys; every access of a kept key is kept, so its reuse times stay exact
    sampled_id   optional integer column of `sampled`, one distinct value per key: the window
                 then partitions on it rather than on the key text (2-3x faster, same rows)
    max_bucket   highest bucket to spell out (2^max_bucket must exceed the log length)
    lists        optional, default false: true takes the gaps between neighbours in each key's
                 sorted list of positions instead of a lag() window: the same rows, faster on
                 small samples (0.5M accesses: 0.083 -> 0.069 s). A list aggregate holds every
                 position in memory and cannot spill (a window's sort can), so callers use it
                 on small samples under a roomy memory limit only (sqlwave/reuse.py). DuckDB
                 only; never transpiled.

    null_keys    optional, default false: src keeps its NULL-key rows, and positions are
                 renumbered to count accesses with a key only (a NULL key is no access). The
                 NULL rows before an access are counted per block of 2^20 positions: those of
                 the blocks before (a cross join of the few block totals: ClickHouse joins on
                 equality only) plus a running count
                 within the block, a window partitioned by block, so no step gathers the log
                 into one partition (Spark). Only the sampled keys' accesses and the NULL rows
                 take part, so a sample stays cheap.

    Columns: bucket, hits (of the key, 0 when not sampled), reuses. Grouping by the key's hits
    lets the caller scale a sample per hits class (sqlwave/reuse.py). -#}
{% set renumber = null_keys is defined and null_keys %}
{% set marks = ', CASE WHEN a.key IS NULL THEN 1 ELSE 0 END AS is_null, CAST((a.pos - a.pos % 1048576) / 1048576 AS BIGINT) AS block' %}
WITH {{ 'marked' if renumber else 'accesses' }} AS (
{% if sampled %}
    SELECT {{ ('s.' ~ sampled_id) if sampled_id is defined and sampled_id else 'a.key' }} AS key, a.pos, s.hits{{ marks if renumber }}
    FROM {{ src }} AS a
    {{ 'LEFT JOIN' if renumber else 'JOIN' }} {{ sampled }} AS s ON a.key = s.key
{% if renumber %}
    WHERE a.key IS NULL OR s.key IS NOT NULL
{% endif %}
{% else %}
    SELECT a.key, a.pos, CAST(0 AS BIGINT) AS hits{{ marks if renumber }}
    FROM {{ src }} AS a
{% endif %}
),
{% if renumber %}
block_nulls AS (
    SELECT block, sum(is_null) AS nulls
    FROM marked
    GROUP BY block
),
block_starts AS (
    SELECT b.block, sum(CASE WHEN e.block < b.block THEN e.nulls ELSE 0 END) AS nulls_before
    FROM block_nulls AS b
    CROSS JOIN block_nulls AS e
    GROUP BY b.block
),
accesses AS (
    SELECT c.key, c.pos - s.nulls_before - c.nulls_within AS pos, c.hits
    FROM (
        SELECT key, pos, hits, is_null, block,
            sum(is_null) OVER (PARTITION BY block ORDER BY pos ASC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS nulls_within
        FROM marked
    ) AS c
    JOIN block_starts AS s ON c.block = s.block
    WHERE c.is_null = 0
),
{% endif %}
{% if lists is defined and lists %}
positions AS (
    SELECT hits, list(pos ORDER BY pos ASC) AS p
    FROM accesses
    GROUP BY key, hits
),
gaps AS (
    SELECT hits, unnest(list_slice(p, 2, len(p))) - unnest(list_slice(p, 1, len(p) - 1)) AS reuse_time
    FROM positions
),
{% else %}
gaps AS (
    SELECT hits, pos - lag(pos) OVER (PARTITION BY key ORDER BY pos ASC) AS reuse_time
    FROM accesses
),
{% endif %}
bucketed AS (
    SELECT
        CASE
{% for b in range(max_bucket) %}
            WHEN reuse_time < {{ 2 ** (b + 1) }} THEN {{ b }}
{% endfor %}
            ELSE {{ max_bucket }}
        END AS bucket,
        hits
    FROM gaps
    WHERE reuse_time IS NOT NULL
)
SELECT
    CAST(bucket AS BIGINT) AS bucket,
    CAST(hits AS BIGINT) AS hits,
    CAST(count(*) AS BIGINT) AS reuses
FROM bucketed
GROUP BY bucket, hits
ORDER BY bucket ASC, hits ASC
