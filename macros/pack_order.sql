{#- pack_order: a byte layout of the keys, with offsets aligned to `align` bytes.

    src         usage relation (see usage.sql)
    strategy    SQL expression naming a strategy ('hot', 'first-touch', ...)
    strategies  the strategy table (sqlwave/strategies.py): name -> [(column, 'ASC'|'DESC')]
    align       SQL expression, the alignment in bytes (a power of two, e.g. the page size)
    tie_key     optional, default true: false leaves the key text out of the tie-break, for callers
                that have checked that no two keys share h60 (sorting on text costs 2x at 4M keys)
    ordered     optional, default false: true sorts once in a subquery and numbers the rows with
                OVER (), whose order DuckDB documents as kept (one sort instead of three, the same
                rows). DuckDB only; never transpiled.

    Columns: rank (1-based), key, size, aligned_size, byte_offset, hits, bytes, first_pos, last_pos, h60.
    Every strategy's order is a list of CASE columns, so one query serves them all and the shell
    macro can take the strategy as an argument; DESC is spelled as an ascending negation. -#}
{% import '_helpers.sql' as h %}
{% set width = strategies.values() | map('length') | max %}
{% set order_by %}
{% for i in range(width) %}
                CASE {{ strategy }}
{% for name, columns in strategies.items() if columns | length > i %}
                    WHEN '{{ name }}' THEN {{ '-' if columns[i][1] == 'DESC' else '' }}{{ columns[i][0] }}
{% endfor %}
                    ELSE 0
                END ASC,
{% endfor %}
                h60 ASC{{ ',\n                key ASC' if tie_key is not defined or tie_key else '' }}
{% endset %}
{% set ordered = ordered is defined and ordered %}
SELECT
    CAST({{ 'row_number() OVER ()' if ordered else 'rank' }} AS BIGINT) AS rank,
    key,
    size,
    CAST(aligned_size AS BIGINT) AS aligned_size,
    CAST(sum(aligned_size) OVER (
        {{ '' if ordered else 'ORDER BY rank ASC ' }}ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) - aligned_size AS BIGINT) AS byte_offset,
    hits,
    bytes,
    first_pos,
    last_pos,
    h60
FROM (
    SELECT
{% if not ordered %}
        row_number() OVER (
            ORDER BY
{{ order_by }}        ) AS rank,
{% endif %}
        key,
        size,
        {{ h.align_up('size', align) }} AS aligned_size,
        hits,
        bytes,
        first_pos,
        last_pos,
        h60
    FROM {{ src }}
    WHERE key IS NOT NULL
{% if ordered %}
    ORDER BY
{{ order_by }}{% endif %}
) AS ranked
{% if not ordered %}
ORDER BY rank ASC
{% endif %}
