{#- waves: cut a pack order into load stages by byte budgets.

    src         pack-order relation (see pack_order.sql)
    boundaries  list of SQL expressions: byte offsets where the waves end, ascending (wave i holds
                the objects that end after boundaries[i-1] and at or before boundaries[i]; the
                rest form the last wave). Callers put each end at the furthest object end within
                that wave's budget of the previous end (sqlwave/session.py wave_ends), so no wave
                exceeds its budget.

    Columns: rank, key, wave, byte_offset, aligned_size, size, hits, bytes (one row per key). -#}
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
