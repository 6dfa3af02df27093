{#- Private helpers shared by the macros. Each returns a SQL expression in the portable subset
    (NOTES-portability.md): integer maths with + - * % only, so every engine gives the same rows. -#}

{#- First 15 hex digits of md5(text) as a BIGINT (60 bits): a tie-break that is the same on every
    engine. Parsed digit by digit because no native hex parser transpiles. -#}
{% macro hash60(text) -%}
({% for i in range(15) %}{% if not loop.first %} + {% endif %}CAST(strpos('0123456789abcdef', substr(lower(md5({{ text }})), {{ i + 1 }}, 1)) - 1 AS BIGINT) * {{ 16 ** (14 - i) }}{% endfor %})
{%- endmacro %}

{#- floor(x / p) for any sign of x, with p > 0: exact division after removing the remainder. -#}
{% macro page_of(x, p) -%}
CAST((({{ x }}) - ((({{ x }}) % ({{ p }})) + ({{ p }})) % ({{ p }})) / ({{ p }}) AS BIGINT)
{%- endmacro %}

{#- Round x >= 0 up to a multiple of a (a > 0). -#}
{% macro align_up(x, a) -%}
(({{ x }}) + ({{ a }}) - 1 - ((({{ x }}) + ({{ a }}) - 1) % ({{ a }})))
{%- endmacro %}

{#- A double ratio that is NULL instead of an error when the denominator is 0. -#}
{% macro ratio(a, b) -%}
CAST({{ a }} AS DOUBLE) / NULLIF({{ b }}, 0)
{%- endmacro %}
