{#- layout_features: the usage aggregate plus the per-key columns that layout strategies sort by.

    src         usage relation (see usage.sql), learned on the training window
    log         access relation (key, size, request, pos) of the same window; `request` is never
                NULL here (without request ids the caller passes fixed windows of accesses)
    align       SQL expression, alignment in bytes (aligned sizes decide the hotness waves)
    boundaries  list of SQL expressions: where the hotness waves end in the hot order, ascending
                (sqlwave.layout.wave_boundaries: no wave over its budget)
    mode, prefix_len, delimiter, depth   the cohort definition, as in cohorts.sql

    Columns: the usage columns, then
      first_req   start position of the request holding the key's first access (co-access: keys
                  first used by the same request share it); ordering by (first_req, first_pos)
                  lays each request's new keys out together, in request order
      last_req    start position of the request holding the key's last access
      hot_wave    hotness wave: keys in hot order (hits, bytes, hash), cut by the byte budgets
      cohort_rank rank of the key's cohort by hits (1 = hottest), total order by hash then text -#}
{% import '_helpers.sql' as h %}
WITH keys AS (
    SELECT * FROM {{ src }} WHERE key IS NOT NULL
),
req AS (
    SELECT request, CAST(min(pos) AS BIGINT) AS req_start
    FROM {{ log }}
    GROUP BY request
),
touch AS (
    SELECT
        keys.key,
        CAST(min(CASE WHEN a.pos = keys.first_pos THEN req.req_start ELSE NULL END) AS BIGINT) AS first_req,
        CAST(max(CASE WHEN a.pos = keys.last_pos THEN req.req_start ELSE NULL END) AS BIGINT) AS last_req
    FROM keys
    JOIN {{ log }} AS a ON a.key = keys.key AND (a.pos = keys.first_pos OR a.pos = keys.last_pos)
    JOIN req ON req.request = a.request
    GROUP BY keys.key
),
hot AS (
    SELECT
        key,
        sum({{ h.align_up('size', align) }}) OVER (
            ORDER BY hits DESC, bytes DESC, h60 ASC, key ASC
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS hot_end
    FROM keys
),
level_0 AS (
    SELECT key, CAST(key AS VARCHAR) AS k, hits, bytes
    FROM keys
),
{% set levels = depth if mode == 'delimiter' else 0 %}
{{ h.delimiter_levels('level_0', delimiter, levels) -}}
named AS (
    SELECT
        key,
{% if mode == 'delimiter' %}
        CASE WHEN p_{{ levels }} = 0 THEN k ELSE substr(k, 1, p_{{ levels }} - 1) END AS cohort,
{% else %}
        substr(k, 1, {{ prefix_len }}) AS cohort,
{% endif %}
        hits,
        bytes
    FROM level_{{ levels }}
),
cohort_sums AS (
    SELECT cohort, CAST(sum(hits) AS BIGINT) AS hits, CAST(sum(bytes) AS BIGINT) AS bytes
    FROM named
    GROUP BY cohort
),
cohort_ranks AS (
    SELECT
        cohort,
        row_number() OVER (
            ORDER BY hits DESC, bytes DESC, {{ h.hash60('cohort') }} ASC, cohort ASC
        ) AS cohort_rank
    FROM cohort_sums
)
SELECT
    keys.*,
    COALESCE(touch.first_req, keys.first_pos) AS first_req,
    COALESCE(touch.last_req, keys.last_pos) AS last_req,
    CAST(0{% for b in boundaries %} + (CASE WHEN hot.hot_end > ({{ b }}) THEN 1 ELSE 0 END){% endfor %} AS BIGINT) AS hot_wave,
    CAST(cohort_ranks.cohort_rank AS BIGINT) AS cohort_rank
FROM keys
JOIN hot ON hot.key = keys.key
JOIN named ON named.key = keys.key
JOIN cohort_ranks ON cohort_ranks.cohort = named.cohort
LEFT JOIN touch ON touch.key = keys.key
