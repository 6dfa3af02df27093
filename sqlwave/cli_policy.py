"""`sqlwave replay` (tune tile policies on a replayed workload) and `sqlwave evaluate-policy`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from sqlwave.cli import handle_errors
from sqlwave.errors import InputError, ParameterError


def _parse_binds(binds: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in binds:
        tag, sep, path = item.partition("=")
        if not sep or not tag or not path:
            raise ParameterError(f"--bind {item!r} must look like tag=path.parquet")
        out[tag] = path
    return out


def _read_previous(path: str) -> dict[str, Any]:
    """An earlier policies.json or vLLM table, checked now so a bad one fails before any work."""
    from sqlwave.replay import previous_table
    from sqlwave.wavespec import read_json

    doc = read_json(path, "--previous", "give the policies.json or vLLM table of an earlier run")
    if not isinstance(doc, dict):
        raise InputError(f"--previous {path!r} must be a policies.json or a vLLM table (a JSON "
                         f"object M -> config), not {json.dumps(doc)[:60]}")
    previous_table(doc)
    return doc


def _parse_keys(text: str | None) -> tuple[int, ...] | None:
    from sqlwave.replay import check_keys

    if text is None:
        return None
    from sqlwave.units import parse_int_list

    return check_keys(parse_int_list(text, "--m-keys", "1,16,64,256"), "--m-keys")


@click.command()
@click.option("--trace", "trace_path", default=None, help="Trace JSON (sqlwave trace); its last "
              "step yields the GEMM problems m, n, k[, dtype, weight].")
@click.option("--sample", default=None, help="Parquet bound to the trace's default input tag.")
@click.option("--bind", "binds", multiple=True, help="tag=path.parquet for other input tags.")
@click.option("--problems", default=None, help="Parquet of GEMM problems (m, n, k[, dtype, "
              "weight]) instead of a trace.")
@click.option("--device", default="h100", show_default=True, help="h100, h200 or a100.")
@click.option("--grid", "grid_path", default=None, help="Policy grid JSON/CSV (default: vLLM's "
              "CUDA tuner space, pruned by shared memory).")
@click.option("--previous", default=None, help="Earlier policies.json: keep its choices unless "
              "a new one is estimated better by more than --threshold.")
@click.option("--threshold", type=float, default=0.03, show_default=True)
@click.option("--m-keys", default=None, help="Table keys (M), e.g. 1,16,64,256 (default: vLLM's).")
@click.option("--chunk-size", type=int, default=256, show_default=True, help="Policies per query.")
@click.option("--out", default="policies.json", show_default=True, help="policies.json to write.")
@click.option("--vllm-out", default=None, help="Also write the bare vLLM table (M -> config).")
@click.option("--timeout", type=float, default=600, show_default=True,
              help="Seconds the trace's steps may run in all (with --trace).")
@handle_errors
def replay(trace_path: str | None, sample: str | None, binds: tuple[str, ...],
           problems: str | None, device: str, grid_path: str | None, previous: str | None,
           threshold: float, m_keys: str | None, chunk_size: int, out: str,
           vllm_out: str | None, timeout: float) -> None:
    """Replay a workload's GEMM problems over a policy grid; write tuned tile policies."""
    from sqlwave.outputs import check_outputs
    from sqlwave.plan_metrics import RUNTIME_ENV
    from sqlwave.policy import MIN_DTYPE_BYTES, load_device, load_grid
    from sqlwave.replay import TuneOptions, replay_and_tune

    bound = _parse_binds(binds)
    # --previous may be the file being replaced: it is read in full before anything is written
    runtime = os.environ.get(RUNTIME_ENV) if trace_path else None
    inputs = [p for p in (problems, trace_path, sample, grid_path, runtime, *bound.values()) if p]
    check_outputs({"--out": out, "--vllm-out": vllm_out}, inputs)
    dev = load_device(device)
    opts = TuneOptions(threshold=threshold, chunk_size=chunk_size)
    if grid_path:
        # Pruned for each workload's element size when it is known (fp8 fits more than bf16).
        opts.grid, opts.grid_source = load_grid(grid_path, dev, MIN_DTYPE_BYTES), grid_path
    if previous:
        opts.previous = _read_previous(previous)
    if keys := _parse_keys(m_keys):
        opts.m_keys = keys
    if not 0 < timeout <= 86_400:
        raise ParameterError(f"--timeout must be between 0 and 86400 seconds, got {timeout:g}")
    source = _problems_source(trace_path, sample, bound, problems, opts, timeout)
    doc = replay_and_tune(source, dev, opts)
    _write_outputs(doc, out, vllm_out)
    click.echo(f"wrote {out}: {len(doc['table'])} M buckets, estimated speed-up "
               + ", ".join(f"{v}x over {k}" for k, v in doc["tuned"]["speedup"].items()), err=True)


def _write_outputs(doc: dict[str, Any], out: str, vllm_out: str | None) -> None:
    """Both files or neither: each is written to its temp file before either is renamed."""
    from sqlwave.outputs import text_writer, write_all_atomic
    from sqlwave.wavespec import dumps

    outputs = [(out, text_writer(dumps(doc)))]
    if vllm_out:
        outputs.append((vllm_out, text_writer(dumps(doc["table"]))))
    write_all_atomic(outputs)


def _problems_source(trace_path: str | None, sample: str | None, binds: dict[str, str],
                     problems: str | None, opts: Any, timeout: float) -> Any:
    if (trace_path is None) == (problems is None):
        raise ParameterError("give exactly one of --trace (with --sample/--bind) or --problems")
    if problems is not None:
        if sample or binds:
            raise ParameterError("--sample and --bind go with --trace, not --problems")
        return problems
    from sqlwave.trace_bridge import problems_from_trace

    assert trace_path is not None
    table, metrics = problems_from_trace(trace_path, sample, binds, timeout)
    opts.plan_metrics = metrics
    opts.extra["trace"] = {"path": trace_path, "sample": sample, "binds": binds}
    return table


@click.command("evaluate-policy")
@click.option("--timings", required=True, help="Measured timings Parquet (format of "
              "h100_timm_timings.parquet; cuBLAS rows are ignored).")
@click.option("--device", default="h100", show_default=True, help="Device the timings ran on.")
@click.option("--split", type=click.Choice(["all", "fit", "holdout"]), default="all",
              show_default=True, help="Shapes to judge: all, or the model's fit/holdout split.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random picker.")
@handle_errors
def evaluate_policy(timings: str, device: str, split: str, seed: int) -> None:
    """Rank each measured shape's candidates with the model; print regret JSON per picker."""
    from sqlwave.evaluate import evaluate_timings
    from sqlwave.policy import load_device
    from sqlwave.wavespec import dumps

    dev = load_device(device)
    if not Path(timings).is_file():
        raise InputError(f"timings file {timings!r} does not exist; check the path")
    click.echo(dumps(evaluate_timings(timings, dev, split=split, seed=seed)), nl=False)


COMMANDS = [replay, evaluate_policy]
