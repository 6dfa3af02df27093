{#- layout_keep: keep a previous layout; place only the keys it lacks, after its end.

    new    pack-order relation (see pack_order.sql) of the current layout
    prev   relation (key, prev_offset, prev_aligned): the previous layout's offsets
    align  SQL expression, the alignment in bytes
    prev_end  SQL expression, where the previous buffer ended (its last wave's end): keys `prev`
           does not list (a WaveSpec without its sidecar) may lie anywhere before it

    Columns: those of pack_order.sql. A key keeps its previous offset when it still fits in its
    previous slot (aligned size not grown); every other key is appended after the end of the
    previous layout, in the current layout's order, so nothing that stayed has to move. Slots of
    keys that left stay empty: reusing them would move bytes for no locality gain. Ranks follow
    offsets; an empty key comes before the key that starts where it sits, as in a fresh pack
    order, so the last pages of the pack never go back (pack_extents.sql relies on it). -#}
{% import '_helpers.sql' as h %}
WITH joined AS (
    SELECT
        n.*,
        p.prev_offset,
        CASE WHEN p.prev_offset IS NOT NULL AND n.aligned_size <= p.prev_aligned THEN 1 ELSE 0 END AS kept
    FROM {{ new }} AS n
    LEFT JOIN {{ prev }} AS p ON p.key = n.key
),
listed_end AS (
    SELECT COALESCE(max(prev_offset + prev_aligned), 0) AS e FROM {{ prev }}
),
prev_end AS (
    SELECT CAST({{ h.align_up('CASE WHEN e > (' ~ prev_end ~ ') THEN e ELSE (' ~ prev_end ~ ') END', align) }} AS BIGINT) AS start_at
    FROM listed_end
),
placed AS (
    SELECT
        joined.*,
        CASE WHEN kept = 1 THEN prev_offset
            ELSE start_at + sum(CASE WHEN kept = 1 THEN 0 ELSE aligned_size END) OVER (
                ORDER BY rank ASC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
            ) - aligned_size
        END AS offset_kept
    FROM joined
    CROSS JOIN prev_end
)
SELECT
    CAST(row_number() OVER (ORDER BY offset_kept ASC, aligned_size ASC, rank ASC) AS BIGINT) AS rank,
    key,
    size,
    aligned_size,
    CAST(offset_kept AS BIGINT) AS byte_offset,
    hits,
    bytes,
    first_pos,
    last_pos,
    h60
FROM placed
ORDER BY rank ASC
