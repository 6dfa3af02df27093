{#- proxies: GEMM problems x tile policies -> performance proxies and an estimated time.

    problems  relation (problem_id, m, n, k, dtype_bytes, peak_flops)
    grid      relation (policy_id, bm, bn, bk, group_m, stages, warps)
    dev       device constants (sqlwave/data/devices.json): sms, smem_per_sm, smem_per_block,
              regs_per_sm, max_warps_per_sm, max_ctas_per_sm, hbm_tbs, l2_bytes,
              l2_bandwidth_tbs, clock_ghz, wgmma
    model     fitted constants: mma_sync_efficiency, k_step_latency_us, k_step_cycles,
              hbm_efficiency, spill_acc_regs, launch_us

    One row per (problem, policy) that fits shared memory. Columns: tiling (tiles_m, tiles_n,
    tiles, k_iters, tile_efficiency = 1 - padding waste), occupancy (ctas_per_sm, occupancy =
    active warps / max), waves and wave_efficiency, dram_bytes (with L2 reuse from the swizzle
    group), the time terms t_compute, t_load, t_latency, t_dram, t_roofline (seconds) and
    est_time_s. See docs/policy.md for the model and why each term is there. -#}
{% if dev.sms <= 0 or dev.smem_per_sm <= 0 %}{{ raise_error("proxies: device constants must be positive") }}{% endif %}
{% macro cdiv(a, b) -%}
CAST((({{ a }}) + ({{ b }}) - 1 - ((({{ a }}) + ({{ b }}) - 1) % ({{ b }}))) / ({{ b }}) AS BIGINT)
{%- endmacro %}
WITH pairs AS (
    SELECT
        p.problem_id, g.policy_id, p.m, p.n, p.k, p.dtype_bytes, p.peak_flops,
        g.bm, g.bn, g.bk, g.group_m, g.stages, g.warps,
        {{ cdiv('p.m', 'g.bm') }} AS tiles_m,
        {{ cdiv('p.n', 'g.bn') }} AS tiles_n,
        {{ cdiv('p.k', 'g.bk') }} AS k_iters,
        (g.bm * g.bk + g.bk * g.bn) * p.dtype_bytes * g.stages AS smem_bytes,
        -- fp32 accumulator registers per thread; past the budget the kernel spills
        CAST(g.bm * g.bn AS DOUBLE) / (32 * g.warps) AS acc_regs
    FROM {{ problems }} AS p
    CROSS JOIN {{ grid }} AS g
    WHERE (g.bm * g.bk + g.bk * g.bn) * p.dtype_bytes * g.stages <= {{ dev.smem_per_block }}
),
occ AS (
    SELECT
        *,
        tiles_m * tiles_n AS tiles,
        GREATEST(1, LEAST(
            CAST(floor({{ dev.smem_per_sm }} / smem_bytes) AS BIGINT),
            CAST(floor({{ dev.max_warps_per_sm }} / warps) AS BIGINT),
            CAST(floor({{ dev.regs_per_sm }} / (32.0 * warps * LEAST(acc_regs + 32, 255))) AS BIGINT),
            {{ dev.max_ctas_per_sm }})) AS ctas_per_sm
    FROM pairs
),
sched AS (
    SELECT
        *,
        {{ cdiv('tiles', dev.sms) }} AS tiles_per_sm,
        LEAST(ctas_per_sm, {{ cdiv('tiles', dev.sms) }}) AS active,
        {{ cdiv('tiles', dev.sms ~ ' * ctas_per_sm') }} AS waves,
        LEAST(tiles, {{ dev.sms }} * ctas_per_sm) AS concurrent
    FROM occ
),
terms AS (
    SELECT
        *,
        -- Hopper's wgmma needs BM a multiple of 64 and whole warp groups; else mma.sync.
        {% if dev.wgmma %}(CASE WHEN bm % 64 = 0 AND warps % 4 = 0 THEN 1.0
              ELSE {{ model.mma_sync_efficiency }} END){% else %}1.0{% endif %}
            -- fewer than 4 resident warps leave tensor-core partitions idle
            * LEAST(1.0, warps * active / 4.0)
            / pow(GREATEST(1.0, acc_regs / {{ model.spill_acc_regs }}), 3) AS mma_efficiency,
        -- rows x columns of tiles that run at once under Triton's grouped order
        LEAST(tiles_m, CASE WHEN concurrent <= group_m * tiles_n THEN LEAST(group_m, concurrent)
                            ELSE {{ cdiv('concurrent', 'tiles_n') }} END) AS wave_rows,
        LEAST(tiles_n, {{ cdiv('concurrent', 'LEAST(group_m, tiles_m)') }}) AS wave_cols
    FROM sched
),
times AS (
    SELECT
        *,
        2.0 * bm * bn * bk * k_iters / (peak_flops / {{ dev.sms }} * mma_efficiency) AS t_compute,
        CAST(bm + bn AS DOUBLE) * bk * dtype_bytes * k_iters
            / ({{ dev.l2_bandwidth_tbs }}e12 / {{ dev.sms }}) AS t_load,
        -- per-K-step cost that co-resident CTAs overlap
        k_iters * {{ model.k_step_cycles }} / ({{ dev.clock_ghz }}e9 * active) AS t_step,
        -- pipeline: stages-1 loads in flight hide the latency of each K step; plus the prologue
        {{ model.k_step_latency_us }}e-6
            * (CAST(k_iters AS DOUBLE) / GREATEST(1, LEAST(stages - 1, k_iters)) + 1) AS t_latency,
        CAST(m * k + k * n AS DOUBLE) * dtype_bytes AS input_bytes,
        CAST(m * k * tiles_n + k * n * tiles_m AS DOUBLE) * dtype_bytes AS naive_bytes,
        CAST(waves AS DOUBLE) * (wave_rows * bm + wave_cols * bn) * k * dtype_bytes AS wave_bytes
    FROM terms
),
sm AS (
    SELECT
        *,
        -- one stage and one CTA per SM: no prefetch and no other CTA overlaps a K step's load,
        -- so the load latency adds to the work instead of hiding behind it
        {{ cdiv('tiles_per_sm', 'ctas_per_sm') }}
            * (CASE WHEN stages = 1 AND ctas_per_sm = 1
                    THEN GREATEST(t_compute, t_load) + t_step + t_latency
                    ELSE GREATEST(active * (GREATEST(t_compute, t_load) + t_step), t_latency)
               END) AS t_sm,
        -- operands that fit L2 are read once; otherwise each wave re-reads what its tiles touch
        (CASE WHEN input_bytes <= {{ dev.l2_bytes }} THEN input_bytes
              ELSE LEAST(naive_bytes, GREATEST(input_bytes, wave_bytes)) END
            + CAST(m * n AS DOUBLE) * dtype_bytes) AS dram_bytes
    FROM times
),
dram AS (
    SELECT *, dram_bytes / ({{ dev.hbm_tbs }}e12 * {{ model.hbm_efficiency }}) AS t_dram
    FROM sm
)
SELECT
    problem_id, policy_id, m, n, k, bm, bn, bk, group_m, stages, warps,
    tiles_m, tiles_n, tiles, k_iters, smem_bytes, ctas_per_sm,
    CAST(m * n AS DOUBLE) / (tiles_m * bm * tiles_n * bn) AS tile_efficiency,
    waves,
    CAST(tiles AS DOUBLE) / (waves * {{ dev.sms }} * ctas_per_sm) AS wave_efficiency,
    CAST(active * warps AS DOUBLE) / {{ dev.max_warps_per_sm }} AS occupancy,
    mma_efficiency, dram_bytes, t_compute, t_load, t_latency, t_dram,
    GREATEST(2.0 * m * n * k / peak_flops,
             (input_bytes + CAST(m * n AS DOUBLE) * dtype_bytes) / {{ dev.hbm_tbs }}e12) AS t_roofline,
    GREATEST(t_sm, t_dram) + {{ model.launch_us }}e-6 AS est_time_s
FROM dram
