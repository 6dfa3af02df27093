-- A request log -> the GEMM problems a dense decoder model runs while serving it.
--
-- Input `requests`: one row per request with `ts`, `request_id`, `context_tokens` and
-- `generated_tokens` (the columns of the Azure LLM inference trace, Splitwise ISCA'24).
-- Requests are batched in arrival order, 8 to a batch: one prefill GEMM per batch
-- (M = the batch's context tokens) and decode steps (M = requests in the batch, repeated for
-- as many steps as its longest generation). The linear layers are Llama-3-8B shaped.
--
--   sqlwave trace --sql examples/gemm_pipeline.sql --out trace.json
--   sqlwave replay --trace trace.json --sample requests.parquet --device h100 --out policies.json
--
-- input: requests

-- step: batches
WITH ranked AS (
    SELECT
        row_number() OVER (ORDER BY ts ASC, request_id ASC
                           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - 1 AS pos,
        request_id,
        context_tokens,
        generated_tokens
    FROM requests
)
-- exact division (pos - pos % 8 is a multiple of 8): no rounding of a double cast
SELECT CAST((pos - pos % 8) / 8 AS BIGINT) AS batch, request_id, context_tokens, generated_tokens
FROM ranked;

-- step: batch_m
SELECT batch, 'prefill' AS phase, CAST(sum(context_tokens) AS BIGINT) AS m, CAST(1 AS BIGINT) AS steps
FROM batches
GROUP BY batch
UNION ALL
SELECT batch, 'decode' AS phase, CAST(count(*) AS BIGINT) AS m, CAST(max(generated_tokens) AS BIGINT) AS steps
FROM batches
GROUP BY batch;

-- step: layers
SELECT 'qkv' AS layer, CAST(6144 AS BIGINT) AS n, CAST(4096 AS BIGINT) AS k
UNION ALL SELECT 'o', 4096, 4096
UNION ALL SELECT 'gate_up', 28672, 4096
UNION ALL SELECT 'down', 4096, 14336;

-- step: problems
SELECT
    b.m AS m,
    l.n AS n,
    l.k AS k,
    'bfloat16' AS dtype,
    CAST(sum(b.steps) AS BIGINT) AS weight
FROM batch_m AS b
CROSS JOIN layers AS l
WHERE b.m > 0
GROUP BY b.m, l.n, l.k
ORDER BY weight DESC NULLS LAST, m ASC, n ASC, k ASC;
