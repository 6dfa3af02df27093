{#- layout_score: how a pack order serves a window of accesses (one row of proxies).

    log        access relation of the window (key, size, request, pos); `request` never NULL
    pack       pack-order relation (see pack_order.sql) learned on some window
    extents    extents.sql rendered over `layout_objects` with partition ['request']
    page_size  SQL expression, bytes per page
    hot_bytes  SQL expression, the hot-set budget (first wave) in bytes

    Columns: accesses, accesses_held, requests, requests_held, extents_mean, extents_p90,
    extents_max, bytes_read_mean, bytes_needed_mean, hot_hit_ratio.
    Only keys the layout holds count towards extents (a key the layout never saw has no address);
    keys_in_layout is the share of accesses it holds. Means are integer sums over a count, so
    they do not depend on the order threads add them in. -#}
{% import '_helpers.sql' as h %}
WITH accesses AS (
    SELECT a.request, a.key, a.size, p.byte_offset, p.aligned_size
    FROM {{ log }} AS a
    LEFT JOIN {{ pack }} AS p ON p.key = a.key
),
layout_objects AS (
    SELECT
        request,
        byte_offset AS address,
        CAST(max(size) AS BIGINT) AS size,
        CAST(count(*) AS BIGINT) AS hits,
        CAST(max(size) AS BIGINT) AS bytes
    FROM accesses
    WHERE byte_offset IS NOT NULL
    GROUP BY request, byte_offset
),
runs AS (
{{ extents | indent(4, true) }}
),
per_request AS (
    SELECT
        request,
        CAST(count(*) AS BIGINT) AS extents,
        CAST(sum(pages) AS BIGINT) AS pages,
        CAST(sum(bytes) AS BIGINT) AS bytes
    FROM runs
    GROUP BY request
),
ranked AS (
    SELECT
        extents,
        row_number() OVER (ORDER BY extents ASC, request ASC) AS rn,
        count(*) OVER () AS n
    FROM per_request
),
request_sums AS (
    SELECT
        CAST(count(*) AS BIGINT) AS requests_held,
        CAST(sum(extents) AS BIGINT) AS extents_sum,
        CAST(max(extents) AS BIGINT) AS extents_max,
        CAST(sum(pages) AS BIGINT) AS pages_sum,
        CAST(sum(bytes) AS BIGINT) AS bytes_sum
    FROM per_request
),
p90 AS (
    SELECT CAST(min(extents) AS BIGINT) AS extents_p90 FROM ranked WHERE rn * 10 >= n * 9
),
access_sums AS (
    SELECT
        CAST(count(*) AS BIGINT) AS accesses,
        CAST(sum(CASE WHEN byte_offset IS NULL THEN 0 ELSE 1 END) AS BIGINT) AS accesses_held,
        CAST(count(DISTINCT request) AS BIGINT) AS requests,
        CAST(sum(CASE WHEN byte_offset IS NOT NULL AND byte_offset + aligned_size <= ({{ hot_bytes }})
            THEN 1 ELSE 0 END) AS BIGINT) AS hot_hits
    FROM accesses
)
SELECT
    accesses,
    accesses_held,
    requests,
    requests_held,
    {{ h.ratio('extents_sum', 'requests_held') }} AS extents_mean,
    extents_p90,
    extents_max,
    {{ h.ratio('pages_sum * (' ~ page_size ~ ')', 'requests_held') }} AS bytes_read_mean,
    {{ h.ratio('bytes_sum', 'requests_held') }} AS bytes_needed_mean,
    {{ h.ratio('hot_hits', 'accesses') }} AS hot_hit_ratio
FROM access_sums
CROSS JOIN request_sums
CROSS JOIN p90
