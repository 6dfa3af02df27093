{#- pack_extents: the extents of a packed layout, in one pass, cut where a wave ends.
    src        waves relation (see waves.sql): rank, wave, byte_offset, size, hits, bytes
    page_size  SQL expression, bytes per page (2^page_bits)
    ordered    optional, default false: true sorts once by rank in a subquery and reads it with
               OVER () windows, whose order DuckDB documents as kept (one sort instead of three,
               the same rows). DuckDB only; never transpiled.

    Columns: extent (0-based over the whole layout), wave, first_page, last_page, objects, hits,
    bytes: one row per piece of an extent inside one wave, in layout order.

    Packed objects sit in rank order at offsets that never decrease, so their first and last pages
    never decrease either: the running maximum that extents.sql needs (objects at any address may
    overlap) is here the previous row's last page. Waves are runs of ranks too, so each (extent,
    wave) pair is one run of objects: one piece. Group the pieces by extent for the layout's
    extents (extent_totals in _helpers.sql, as extents.sql ends: the same rows as extents.sql
    over these objects); count them per wave for each wave's extents. An object of size 0 has
    no bytes in the packed file, so it covers no page (at the buffer's end, the page it sits on
    lay past the buffer); extents.sql gives an accessed address of size 0 its page. -#}
{% import '_helpers.sql' as h %}
{% set ordered = ordered is defined and ordered %}
{% set by_rank = '' if ordered else 'ORDER BY rank ASC' %}
{% set running = ('' if ordered else 'ORDER BY rank ASC ') ~ 'ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW' %}
WITH spans AS (
    SELECT
        rank,
        wave,
        {{ h.page_of('byte_offset', page_size) }} AS first_page,
        {{ h.page_of('byte_offset + (CASE WHEN size > 0 THEN size - 1 ELSE 0 END)', page_size) }} AS last_page,
        hits,
        bytes
    FROM {{ src }}
    WHERE size > 0
{% if ordered %}
    ORDER BY rank ASC
{% endif %}
),
marked AS (
    SELECT
        spans.*,
        CASE
            WHEN first_page > lag(last_page) OVER ({{ by_rank }}) + 1 THEN 1 ELSE 0
        END AS extent_start
    FROM spans
),
numbered AS (
    SELECT
        marked.*,
        sum(extent_start) OVER ({{ running }}) AS extent
    FROM marked
)
SELECT
    CAST(extent AS BIGINT) AS extent,
    CAST(wave AS BIGINT) AS wave,
    CAST(min(first_page) AS BIGINT) AS first_page,
    CAST(max(last_page) AS BIGINT) AS last_page,
    CAST(count(*) AS BIGINT) AS objects,
    CAST(sum(hits) AS BIGINT) AS hits,
    CAST(sum(bytes) AS BIGINT) AS bytes
FROM numbered
GROUP BY extent, wave
ORDER BY extent ASC, wave ASC
