{#- mrc_hits: LRU hits at each cache size of a grid, from per-access stack distances.

    Each access is binned at the smallest grid size that holds it by a binary search written
    out as nested CASEs (a few comparisons per access), so the hits at size C are the running
    sum over grid sizes <= C. Binning before grouping keeps one group per grid size: byte
    distances are nearly all distinct, and a group per distance cost ~1 GB on 10M accesses.

    src        relation with columns distance (NULL for a first access) and size
    grid       list of cache sizes (numbers, ascending), in the unit of `distance`

    Columns: size, hits, hit_bytes (cumulative, ascending size). -#}
{% if grid | length == 0 %}{{ raise_error("the size grid is empty") }}{% endif %}
{#- bin(lo, hi): the number of grid sizes below distance, known to lie in [lo, hi). -#}
{% macro bin(lo, hi) -%}
{% if hi - lo == 1 %}{{ lo }}{% else %}{% set mid = (lo + hi) // 2 -%}
CASE WHEN distance <= CAST({{ grid[mid - 1] }} AS DOUBLE) THEN {{ bin(lo, mid) }} ELSE {{ bin(mid, hi) }} END
{%- endif %}
{%- endmacro %}
WITH grid AS (
    SELECT * FROM (VALUES {% for g in grid %}{% if not loop.first %}, {% endif %}({{ loop.index0 }}, CAST({{ g }} AS DOUBLE)){% endfor %}) AS t(bin, size)
),
binned AS (
    -- bin {{ grid | length }}: above the largest size, a miss everywhere
    SELECT {{ bin(0, grid | length + 1) }} AS bin,
           CAST(count(*) AS BIGINT) AS n, CAST(sum(size) AS BIGINT) AS b
    FROM {{ src }}
    WHERE distance IS NOT NULL
    GROUP BY 1
)
SELECT
    g.size,
    CAST(sum(COALESCE(b.n, 0)) OVER up_to AS BIGINT) AS hits,
    CAST(sum(COALESCE(b.b, 0)) OVER up_to AS BIGINT) AS hit_bytes
FROM grid AS g
LEFT JOIN binned AS b ON b.bin = g.bin
WINDOW up_to AS (ORDER BY g.size ASC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
ORDER BY g.size ASC
