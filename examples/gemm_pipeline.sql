-- A request log -> the GEMM problems a dense decoder model runs while serving it.
--
-- Input: one row per request with `context_tokens` and `generated_tokens`
-- (the Azure LLM inference trace has exactly these columns, as ContextTokens/GeneratedTokens;
-- examples/make_requests.py writes a small synthetic one). Requests are batched by arrival
-- order: a prefill batch per 8 requests (M = total context tokens) and decode steps
-- (M = requests still generating). The model's linear layers are Llama-3-8B shaped.
--
-- input: requests

-- step: batches
SELECT
    CAST((row_number() OVER (ORDER BY arrival ASC, request_id ASC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - 1) / 8 AS BIGINT) AS batch,
    request_id,
    context_tokens,
    generated_tokens
FROM requests;

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
