{#- mrc_hits: LRU hits at each cache size of a grid, from per-access stack distances.

    Each access is binned at the smallest grid size that holds it (an ASOF join, DuckDB), so the
    hits at size C are the running sum over grid sizes <= C.

    src        relation with columns distance (NULL for a first access) and size
    grid       list of cache sizes (numbers, ascending), in the unit of `distance`

    Columns: size, hits, hit_bytes (cumulative, ascending size). -#}
{% if grid | length == 0 %}{{ raise_error("the size grid is empty") }}{% endif %}
WITH grid AS (
    SELECT * FROM (VALUES {% for g in grid %}{% if not loop.first %}, {% endif %}(CAST({{ g }} AS DOUBLE)){% endfor %}) AS t(size)
),
hist AS (
    SELECT distance, CAST(count(*) AS BIGINT) AS n, CAST(sum(size) AS BIGINT) AS b
    FROM {{ src }}
    WHERE distance IS NOT NULL
    GROUP BY distance
),
binned AS (
    SELECT g.size, sum(h.n) AS n, sum(h.b) AS b
    FROM hist AS h ASOF JOIN grid AS g ON h.distance <= g.size
    GROUP BY g.size
)
SELECT
    g.size,
    CAST(sum(COALESCE(b.n, 0)) OVER up_to AS BIGINT) AS hits,
    CAST(sum(COALESCE(b.b, 0)) OVER up_to AS BIGINT) AS hit_bytes
FROM grid AS g
LEFT JOIN binned AS b ON b.size = g.size
WINDOW up_to AS (ORDER BY g.size ASC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
ORDER BY g.size ASC
