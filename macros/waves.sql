{#- waves: cut a pack order into load stages by byte budgets.

    src         pack-order relation (see pack_order.sql)
    boundaries  list of SQL expressions: cumulative byte budgets, ascending (wave i holds the
                objects that end at or before boundaries[i]; the rest form the last wave)

    Columns: rank, key, wave, byte_offset, aligned_size, size, hits, bytes (one row per key).
    An object that would cross a boundary starts the next wave, so a wave never exceeds its budget. -#}
SELECT
    rank,
    key,
    CAST(0{% for b in boundaries %} + (CASE WHEN byte_offset + aligned_size > ({{ b }}) THEN 1 ELSE 0 END){% endfor %} AS BIGINT) AS wave,
    byte_offset,
    aligned_size,
    size,
    hits,
    bytes
FROM {{ src }}
