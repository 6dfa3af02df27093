{#- Private helpers shared by the macros. Each returns a SQL expression in the portable subset
    (NOTES-portability.md): integer maths with + - * % only, so every engine gives the same rows. -#}

{#- First 15 hex digits of md5(text) as a BIGINT (60 bits): a tie-break that is the same on every
    engine. Parsed digit by digit because no native hex parser transpiles. -#}
{% macro hash60(text) -%}
({% for i in range(15) %}{% if not loop.first %} + {% endif %}CAST(strpos('0123456789abcdef', substr(lower(md5({{ text }})), {{ i + 1 }}, 1)) - 1 AS BIGINT) * {{ 16 ** (14 - i) }}{% endfor %})
{%- endmacro %}

{#- hash60 for DuckDB only (it parses '0x...' text as an integer): the same values, 3x faster.
    Never transpiled; callers pick it when they run on DuckDB. -#}
{% macro hash60_duckdb(text) -%}
CAST('0x' || substr(md5({{ text }}), 1, 15) AS BIGINT)
{%- endmacro %}

{#- floor(x / p) for any BIGINT x, p a power of two up to 2^40, with + - * % and exact divisions
    only (no portable integer division exists). `/` is a double division on most engines, exact
    only below 2^53, so x is split at K = 2^40: x = a*K + b with 0 <= b < K, and
    floor(x / p) = a * (K / p) + floor(b / p), where every division is exact and small. -#}
{% macro page_of(x, p) -%}
{%- set k = 1099511627776 -%}
{%- set b = '((((' ~ x ~ ') % ' ~ k ~ ') + ' ~ k ~ ') % ' ~ k ~ ')' -%}
(CAST((({{ x }}) - {{ b }}) / {{ k }} AS BIGINT) * CAST({{ k }} / ({{ p }}) AS BIGINT)
 + CAST(({{ b }} - {{ b }} % ({{ p }})) / ({{ p }}) AS BIGINT))
{%- endmacro %}

{#- Round x >= 0 up to a multiple of a (a > 0). -#}
{% macro align_up(x, a) -%}
(({{ x }}) + ({{ a }}) - 1 - ((({{ x }}) + ({{ a }}) - 1) % ({{ a }})))
{%- endmacro %}

{#- A double ratio that is NULL instead of an error when the denominator is 0. -#}
{% macro ratio(a, b) -%}
CAST({{ a }} AS DOUBLE) / NULLIF({{ b }}, 0)
{%- endmacro %}

{#- CTEs level_1 .. level_<levels> over `source` (which has a text column k): level_i adds p_i,
    the position of the i-th `delimiter` in k (0 when there are fewer). One CTE per level keeps
    the SQL linear in the depth instead of nesting expressions. Each ends with a comma. -#}
{% macro delimiter_levels(source, delimiter, levels) -%}
{% for i in range(1, levels + 1) %}
{% set prev = source if i == 1 else 'level_' ~ (i - 1) %}
level_{{ i }} AS (
    SELECT {{ prev }}.*,
{% if i == 1 %}
        strpos(k, {{ delimiter }}) AS p_1
{% else %}
        CASE
            WHEN p_{{ i - 1 }} = 0 THEN 0
            WHEN strpos(substr(k, p_{{ i - 1 }} + length({{ delimiter }})), {{ delimiter }}) = 0 THEN 0
            ELSE p_{{ i - 1 }} + length({{ delimiter }}) - 1
                + strpos(substr(k, p_{{ i - 1 }} + length({{ delimiter }})), {{ delimiter }})
        END AS p_{{ i }}
{% endif %}
    FROM {{ prev }}
),
{% endfor %}
{%- endmacro %}

{#- The extents of `rows`, which carry an extent number (within each partition) and the page
    span, objects, hits and bytes of one object or of a group of them: one row per extent. -#}
{% macro extent_totals(rows, partition) -%}
SELECT
{% for c in partition %}
    {{ c }},
{% endfor %}
    CAST(extent AS BIGINT) AS extent,
    CAST(min(first_page) AS BIGINT) AS first_page,
    CAST(max(last_page) AS BIGINT) AS last_page,
    CAST(max(last_page) - min(first_page) + 1 AS BIGINT) AS pages,
    CAST(sum(objects) AS BIGINT) AS objects,
    CAST(sum(hits) AS BIGINT) AS hits,
    CAST(sum(bytes) AS BIGINT) AS bytes
FROM {{ rows }}
GROUP BY {% for c in partition %}{{ c }}, {% endfor %}extent
ORDER BY {% for c in partition %}{{ c }} ASC, {% endfor %}extent ASC
{%- endmacro %}
