{#- extents: coalesce the pages that objects span into runs of consecutive pages (gaps and islands).

    src        relation with one row per object: address, size (bytes), hits, bytes, and the
               partition columns; an object covers pages page(address) .. page(address + size - 1),
               and a zero-size object the page it sits on (it is accessed, so it belongs to an
               extent; its bytes, 0, are counted as they are)
    page_size  SQL expression, bytes per page (2^page_bits)
    partition  list of column names to coalesce within (e.g. ['wave'] or ['request']); may be empty

    Columns: the partition columns, extent (0-based within its partition), first_page, last_page,
    pages, objects, hits, bytes. Objects are merged as intervals rather than expanded into pages,
    so the work is one sort of the objects whatever their sizes. Objects that start on the same
    page are in one extent whatever else they differ in, so they are summed first: the windows
    then order by first_page alone, a total order (two windows over tied rows may order them
    differently, and did: zero-size objects at one offset moved between extents run to run). -#}
{% import '_helpers.sql' as h %}
{% set part = partition | join(', ') %}
{% set by = ('PARTITION BY ' ~ part ~ ' ') if partition else '' %}
WITH spans AS (
    SELECT
{% for c in partition %}
        {{ c }},
{% endfor %}
        {{ h.page_of('address', page_size) }} AS first_page,
        {{ h.page_of('address + (CASE WHEN size > 0 THEN size - 1 ELSE 0 END)', page_size) }} AS last_page,
        hits,
        bytes
    FROM {{ src }}
),
starts AS (
    SELECT
{% for c in partition %}
        {{ c }},
{% endfor %}
        first_page,
        max(last_page) AS last_page,
        count(*) AS objects,
        sum(hits) AS hits,
        sum(bytes) AS bytes
    FROM spans
    GROUP BY {% for c in partition %}{{ c }}, {% endfor %}first_page
),
reach AS (
    SELECT
        starts.*,
        max(last_page) OVER (
            {{ by }}ORDER BY first_page ASC
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS reach_before
    FROM starts
),
islands AS (
    SELECT
        reach.*,
        sum(CASE WHEN reach_before IS NULL OR first_page > reach_before + 1 THEN 1 ELSE 0 END) OVER (
            {{ by }}ORDER BY first_page ASC
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) - 1 AS extent
    FROM reach
)
{{ h.extent_totals('islands', partition) }}
