{#- reuse: histogram of reuse times (accesses since the previous access to the same key), in log2
    buckets: bucket b holds reuse times in [2^b, 2^(b+1)); first accesses are not reuses.

    src          log relation with columns key, pos (NULL keys already removed)
    sampled      relation with one column `key` listing the keys to keep, or none for all keys
                 (hash sampling keeps every access of a kept key, so reuse times stay exact)
    sampled_id   optional integer column of `sampled`, one distinct value per key: the window
                 then partitions on it rather than on the key text (faster, same result)
    max_bucket   highest bucket to spell out (2^max_bucket must exceed the log length)

    Columns: bucket, reuses. -#}
WITH accesses AS (
{% if sampled and sampled_id is defined and sampled_id %}
    SELECT s.{{ sampled_id }} AS key, a.pos
{% else %}
    SELECT a.key, a.pos
{% endif %}
    FROM {{ src }} AS a
{% if sampled %}
    JOIN {{ sampled }} AS s ON a.key = s.key
{% endif %}
),
gaps AS (
    SELECT pos - lag(pos) OVER (PARTITION BY key ORDER BY pos ASC) AS reuse_time
    FROM accesses
),
bucketed AS (
    SELECT
        CASE
{% for b in range(max_bucket) %}
            WHEN reuse_time < {{ 2 ** (b + 1) }} THEN {{ b }}
{% endfor %}
            ELSE {{ max_bucket }}
        END AS bucket
    FROM gaps
    WHERE reuse_time IS NOT NULL
)
SELECT
    CAST(bucket AS BIGINT) AS bucket,
    CAST(count(*) AS BIGINT) AS reuses
FROM bucketed
GROUP BY bucket
ORDER BY bucket ASC
