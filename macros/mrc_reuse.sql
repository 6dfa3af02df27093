{#- mrc_reuse: fine histograms of reuse times for the Average Eviction Time (AET) model.

    Three kinds of values, binned alike (times below 1024 in their own bin, above that 64 bins
    per octave), each bin with exact sums so the model reads its inputs exactly at bin edges:
      reuse   rows since the previous access to the same key
      cold    a first access at row p counts as a reuse of p + 1 (as if every key had been read
              just before the log began): this makes the window sums exact for windows inside
              the log (see sqlwave/mrc_curve.py)
      last    for the last access to each key, rows from it to the end of the log

    src      log relation with columns key, size, pos (NULL keys already removed, pos dense from 0)
    rows     the number of rows in src

    Columns: kind, lo, hi, n, t_sum, size_sum, size_t_sum. -#}
WITH gaps AS (
    SELECT
        pos, size,
        pos - lag(pos) OVER by_key AS rt,
        lead(pos) OVER by_key AS next_pos
    FROM {{ src }}
    WINDOW by_key AS (PARTITION BY key ORDER BY pos ASC)
),
valued AS (
    SELECT CASE WHEN rt IS NULL THEN 'cold' ELSE 'reuse' END AS kind, size, COALESCE(rt, pos + 1) AS t
    FROM gaps
    UNION ALL
    SELECT 'last' AS kind, size, {{ rows }} - pos AS t
    FROM gaps
    WHERE next_pos IS NULL
),
binned AS (
    SELECT kind, size, t,
        CASE WHEN t < 1024 THEN t ELSE 1024 + CAST(floor((log2(t) - 10) * 64) AS BIGINT) END AS bin
    FROM valued
)
SELECT
    kind,
    CAST(min(t) AS BIGINT) AS lo,
    CAST(max(t) AS BIGINT) AS hi,
    CAST(count(*) AS BIGINT) AS n,
    CAST(sum(t) AS HUGEINT) AS t_sum,
    CAST(sum(size) AS HUGEINT) AS size_sum,
    CAST(sum(CAST(size AS HUGEINT) * t) AS HUGEINT) AS size_t_sum
FROM binned
GROUP BY kind, bin
ORDER BY kind ASC, lo ASC
