{#- wave_summary: one row per wave of a waves relation.

    src  waves relation (see waves.sql)

    Columns: wave, keys, bytes (aligned, as loaded), hits, hit_share, first_rank, last_rank,
    start_offset, end_offset. -#}
{% import '_helpers.sql' as h %}
WITH per_wave AS (
    SELECT
        wave,
        CAST(count(*) AS BIGINT) AS keys,
        CAST(sum(aligned_size) AS BIGINT) AS bytes,
        CAST(sum(hits) AS BIGINT) AS hits,
        CAST(min(rank) AS BIGINT) AS first_rank,
        CAST(max(rank) AS BIGINT) AS last_rank,
        CAST(min(byte_offset) AS BIGINT) AS start_offset,
        CAST(max(byte_offset + aligned_size) AS BIGINT) AS end_offset
    FROM {{ src }}
    GROUP BY wave
),
totals AS (
    SELECT CAST(sum(hits) AS BIGINT) AS all_hits FROM per_wave
)
SELECT
    wave,
    keys,
    bytes,
    hits,
    {{ h.ratio('hits', 'all_hits') }} AS hit_share,
    first_rank,
    last_rank,
    start_offset,
    end_offset
FROM per_wave
CROSS JOIN totals
ORDER BY wave ASC
