{#- usage: one row per key, from one scan of the access log. Every other macro reads this.

    src      relation with the log
    key      SQL expression for the key (already normalised: text, integer, or hex text of bytes)
    size     SQL expression for the object size in bytes (a literal 1 when the log has none)
    pos      SQL expression for the access position (0-based, dense, in access order)
    request  SQL expression for the request id, or none
    request_group  optional SQL expression over `key` that is one-to-one on the log's keys (the
             caller checks), e.g. a 64-bit hash; when given, distinct requests are counted per
             that value in a second aggregate, which is 3x cheaper than pairing string keys
             with requests in one hash table. Same rows either way.

    positions    optional, default true: false leaves first_pos and last_pos NULL (not computed)
    size_checks  optional, default true: false leaves size_nulls and size_min NULL, for callers
             that know from elsewhere (Parquet statistics) that no size is NULL or negative
    native_hash  optional, default false: true computes h60 with DuckDB's own hex parsing (same
             values; for SQL that runs on DuckDB and is never transpiled)

    Columns: key, hits, bytes, size, first_pos, last_pos, requests, size_nulls, size_min, h60.
    NULL keys stay as one group (key IS NULL) so that metrics can count them; the other macros
    filter them out. -#}
{% import '_helpers.sql' as h %}
{% set grouped = request and request_group is defined and request_group %}
{% set positions = positions is not defined or positions %}
{% set size_checks = size_checks is not defined or size_checks %}
{% if grouped %}
WITH per_request_group AS (
    SELECT {{ request_group }} AS request_group, CAST(count(DISTINCT {{ request }}) AS BIGINT) AS requests
    FROM {{ src }}
    GROUP BY {{ request_group }}
),
per_key AS (
{% endif %}
SELECT
    {{ key }} AS key,
    CAST(count(*) AS BIGINT) AS hits,
    CAST(sum({{ size }}) AS BIGINT) AS bytes,
    CAST(max({{ size }}) AS BIGINT) AS size,
{% if positions %}
    CAST(min({{ pos }}) AS BIGINT) AS first_pos,
    CAST(max({{ pos }}) AS BIGINT) AS last_pos,
{% else %}
    CAST(NULL AS BIGINT) AS first_pos,
    CAST(NULL AS BIGINT) AS last_pos,
{% endif %}
{% if grouped %}
    {{ request_group }} AS request_group,
{% elif request %}
    CAST(count(DISTINCT {{ request }}) AS BIGINT) AS requests,
{% else %}
    CAST(0 AS BIGINT) AS requests,
{% endif %}
{% if size_checks %}
    {# count(*) - count(x) rather than sum(CASE ...): same number, 20% less scan time #}
    CAST(count(*) - count({{ size }}) AS BIGINT) AS size_nulls,
    CAST(min({{ size }}) AS BIGINT) AS size_min,
{% else %}
    CAST(NULL AS BIGINT) AS size_nulls,
    CAST(NULL AS BIGINT) AS size_min,
{% endif %}
{% if native_hash is defined and native_hash %}
    {{ h.hash60_duckdb('CAST(' ~ key ~ ' AS VARCHAR)') }} AS h60
{% else %}
    {{ h.hash60('CAST(' ~ key ~ ' AS VARCHAR)') }} AS h60
{% endif %}
FROM {{ src }}
GROUP BY {{ key }}
{% if grouped %}
)
SELECT u.key, u.hits, u.bytes, u.size, u.first_pos, u.last_pos, r.requests, u.size_nulls,
    u.size_min, u.h60
FROM per_key AS u
JOIN per_request_group AS r ON u.request_group IS NOT DISTINCT FROM r.request_group
{% endif %}
