{#- cohorts: keys grouped by a shared prefix, top-k by traffic.

    src        usage relation (see usage.sql)
    text_keys  true when key is text; integer keys are grouped by their decimal text
    mode       'prefix' (first prefix_len characters) or 'delimiter' (up to the depth-th delimiter)
    prefix_len SQL expression, characters kept in 'prefix' mode (bytes keys arrive as hex: 2 per byte)
    delimiter  SQL expression, the delimiter string in 'delimiter' mode
    depth      SQL expression, segments kept in 'delimiter' mode (1 .. max_depth)
    max_depth  how many delimiter positions to compute (the largest depth a caller may pass)
    rank_by    'hits' or 'bytes'
    top_k      SQL expression, cohorts returned
    top_k_limit  optional: the same number as a plain expression for the LIMIT below (where a
               checking expression, one that can raise an error, would cost DuckDB its top-N)

    Columns: rank, cohort, keys, hits, bytes, hit_share, byte_share.
    Ties are broken by the other measure, then hash60 of the cohort, then the cohort itself. -#}
{% import '_helpers.sql' as h %}
{% if mode not in ('prefix', 'delimiter') %}{{ raise_error("cohorts: mode must be 'prefix' or 'delimiter', got " ~ mode) }}{% endif %}
{% if rank_by not in ('hits', 'bytes') %}{{ raise_error("cohorts: rank_by must be 'hits' or 'bytes', got " ~ rank_by) }}{% endif %}
{% set other = 'bytes' if rank_by == 'hits' else 'hits' %}
{% set k = 'key' if text_keys else 'CAST(key AS VARCHAR)' %}
WITH keys AS (
    SELECT {{ k }} AS k, hits, bytes
    FROM {{ src }}
    WHERE key IS NOT NULL
),
{% if mode == 'prefix' %}
prefixed AS (
    SELECT substr(k, 1, {{ prefix_len }}) AS cohort, hits, bytes
    FROM keys
),
{% else %}
{{ h.delimiter_levels('keys', delimiter, max_depth) -}}
prefixed AS (
    SELECT
        CASE
{% for i in range(1, max_depth + 1) %}
            WHEN {{ depth }} = {{ i }} THEN (CASE WHEN p_{{ i }} = 0 THEN k ELSE substr(k, 1, p_{{ i }} - 1) END)
{% endfor %}
            ELSE k
        END AS cohort,
        hits,
        bytes
    FROM level_{{ max_depth }}
),
{% endif %}
grouped AS (
    SELECT
        cohort,
        CAST(count(*) AS BIGINT) AS keys,
        CAST(sum(hits) AS BIGINT) AS hits,
        CAST(sum(bytes) AS BIGINT) AS bytes
    FROM prefixed
    GROUP BY cohort
),
totals AS (
    SELECT CAST(sum(hits) AS BIGINT) AS all_hits, CAST(sum(bytes) AS BIGINT) AS all_bytes
    FROM grouped
),
{#- Only cohorts that can reach the top k need the hash60 tie-break, and its md5 is the costly
    part (most of the query with millions of cohorts): keep those whose (rank_by, other) pair is
    at least the k-th largest one, found with a cheap top-k on the two measures. -#}
top_measures AS (
    SELECT {{ rank_by }} AS m1, {{ other }} AS m2
    FROM grouped
    ORDER BY {{ rank_by }} DESC, {{ other }} DESC
    LIMIT {{ top_k_limit if top_k_limit is defined else top_k }}
),
kth_first AS (
    SELECT CAST(count(*) AS BIGINT) AS n, min(m1) AS m1
    FROM top_measures
),
kth AS (
    SELECT f.n, f.m1, min(t.m2) AS m2
    FROM kth_first AS f
    JOIN top_measures AS t ON t.m1 = f.m1
    GROUP BY f.n, f.m1
),
candidates AS (
    SELECT g.cohort, g.keys, g.hits, g.bytes
    FROM grouped AS g
    LEFT JOIN kth ON 1 = 1
    WHERE kth.n IS NULL OR kth.n < {{ top_k }} OR g.{{ rank_by }} > kth.m1
        OR (g.{{ rank_by }} = kth.m1 AND g.{{ other }} >= kth.m2)
),
ranked AS (
    SELECT
        row_number() OVER (
            ORDER BY {{ rank_by }} DESC, {{ other }} DESC, {{ h.hash60('cohort') }} ASC, cohort ASC
        ) AS rank,
        cohort,
        keys,
        hits,
        bytes
    FROM candidates
)
SELECT
    CAST(rank AS BIGINT) AS rank,
    cohort,
    keys,
    hits,
    bytes,
    {{ h.ratio('hits', 'all_hits') }} AS hit_share,
    {{ h.ratio('bytes', 'all_bytes') }} AS byte_share
FROM ranked
CROSS JOIN totals
WHERE rank <= {{ top_k }}
ORDER BY rank ASC
