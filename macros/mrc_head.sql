{#- mrc_head: the accesses of time windows that classify every cache size up to max_size exactly
    (the head of a SHARDS curve, sqlwave/mrc_head.py).

    Within a window of consecutive accesses, an access whose key was seen earlier in the window
    has its exact stack distance. Any other access has a distance above `seen`, the units (keys,
    or their bytes) of the distinct keys the window saw before it: those keys were all used
    after the key's previous access. So once a window has seen S keys (more than S bytes),
    each of its later accesses is a hit or a miss, exactly, at every cache size <= S. The same
    accesses serve every size, so the head is non-increasing in size by construction. S is what
    every window has seen by its middle row: each window gives at least its second half, and no
    window (no stretch of time) is dropped.

    src        stack_distance output partitioned by `win` (one partition per window)
    stride     windows repeat every `stride` positions ...
    mid        ... and a window's middle row has idx % stride = mid
    bytes      sizes are in bytes (byte_distance, key_size) instead of objects

    Columns: distance (NULL: a miss at every size up to max_size), size, max_size. -#}
{% set unit = 'key_size' if bytes else '1' %}
{% set slack = 1 if bytes else 0 %}
WITH seen AS (
    SELECT
        idx, size, {{ 'byte_distance' if bytes else 'distance' }} AS distance,
        COALESCE(sum(CASE WHEN {{ 'byte_distance' if bytes else 'distance' }} IS NULL THEN {{ unit }} ELSE 0 END)
                 OVER (PARTITION BY win ORDER BY idx ASC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS seen
    FROM {{ src }}
),
cut AS (
    -- An object access needs seen >= S (its distance is at least seen + 1); a byte access needs
    -- seen > S, as an object may weigh 0 bytes.
    SELECT CAST(greatest(0, COALESCE(min(seen), 0) - {{ slack }}) AS BIGINT) AS max_size
    FROM seen
    WHERE idx % {{ stride }} = {{ mid }}
)
SELECT s.distance, s.size, c.max_size
FROM seen AS s, cut AS c
WHERE s.seen >= c.max_size + {{ slack }}
