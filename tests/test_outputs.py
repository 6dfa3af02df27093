"""Outputs: a path that cannot be written is refused before any work, and nothing is lost."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support import run_cli

from sqlwave.errors import InputError
from sqlwave.example import example_log_path

LOG = str(example_log_path())


def refused(*args: str, message: str) -> None:
    result = run_cli(*args)
    assert result.code == 1, result.stderr
    assert result.stderr.startswith("Error: ") and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [
    ["export", "--logs", LOG],
    ["example-logs", "--rows", "10"],
    ["mrc", "--logs", LOG],
])
def test_out_is_a_folder(tmp_path: Path, command: list[str]) -> None:
    refused(*command, "--out", str(tmp_path), message="is a folder; give a file name")


@pytest.mark.parametrize("command", [
    ["export", "--logs", LOG],
    ["example-logs", "--rows", "10"],
    ["mrc", "--logs", LOG],
])
def test_out_name_too_long(tmp_path: Path, command: list[str]) -> None:
    # Path.is_dir() lets ENAMETOOLONG escape as a traceback on Python 3.11
    refused(*command, "--out", str(tmp_path / ("a" * 300 + ".json")), message="name too long")


def test_out_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    refused("export", "--logs", LOG, "--out", str(tmp_path / "afile" / "ws.json"),
            message="is a file, not a folder")


def test_empty_out(tmp_path: Path) -> None:
    refused("export", "--logs", LOG, "--out", "", message="--out is empty")


def test_out_and_sidecar_at_one_path(tmp_path: Path) -> None:
    out = str(tmp_path / "ws.json")
    refused("export", "--logs", LOG, "--out", out, "--pack-order-out", out,
            message="are the same file")


def test_out_is_the_input_log(tmp_path: Path) -> None:
    log = tmp_path / "log.parquet"
    pq.write_table(pa.table({"key": ["a", "b"]}), log)
    before = log.read_bytes()
    refused("export", "--logs", str(log), "--out", str(log), message="is one of the input files")
    refused("export", "--logs", str(tmp_path / "*.parquet"), "--pack-order-out", str(log),
            "--out", str(tmp_path / "ws.json"), message="is one of the input files")
    assert log.read_bytes() == before


def test_mrc_out_is_its_input_log(tmp_path: Path) -> None:
    # mrc once wrote its curve over the log it read; a folder of logs counts too.
    (tmp_path / "logs").mkdir()
    log = tmp_path / "logs" / "log.parquet"
    pq.write_table(pa.table({"key": ["a", "b", "a"]}), log)
    before = log.read_bytes()
    refused("mrc", "--logs", str(log), "--out", str(log), message="is one of the input files")
    refused("mrc", "--logs", str(tmp_path / "logs"), "--out", str(log),
            message="is one of the input files")
    assert log.read_bytes() == before


def test_report_out_is_its_wavespec(tmp_path: Path) -> None:
    spec = tmp_path / "ws.json"
    assert run_cli("export", "--out", str(spec)).code == 0
    before = spec.read_bytes()
    refused("report", str(spec), "--out", str(spec), message="is one of the input files")
    assert spec.read_bytes() == before


@pytest.mark.parametrize("doc, message", [
    ({"strategies": {}, "chosen": "hot"}, "is not a miss-ratio curve"),
    ({"method": "exact", "unit": "objects", "points": []}, "is not a miss-ratio curve"),
])
def test_report_refuses_a_file_of_the_wrong_kind(tmp_path: Path, doc: dict[str, object],
                                                 message: str) -> None:
    spec = tmp_path / "ws.json"
    assert run_cli("export", "--out", str(spec)).code == 0
    (tmp_path / "other.json").write_text(json.dumps(doc))
    refused("report", str(spec), "--mrc", str(tmp_path / "other.json"),
            "--out", str(tmp_path / "r.html"), message=message)
    refused("report", str(spec), "--evaluation", str(spec), "--out", str(tmp_path / "r.html"),
            message="is not an evaluate-layout result")


def test_report_on_a_hand_edited_wavespec(tmp_path: Path) -> None:
    spec = tmp_path / "ws.json"
    assert run_cli("export", "--out", str(spec)).code == 0
    doc = json.loads(spec.read_text())
    doc["metrics"]["rows"] = "many"
    spec.write_text(json.dumps(doc))
    refused("report", str(spec), "--out", str(tmp_path / "r.html"),
            message="a field of the inputs is missing or has the wrong type")
    assert not (tmp_path / "r.html").exists()


def test_evaluate_layout_refuses_negative_sizes(tmp_path: Path) -> None:
    log = tmp_path / "neg.parquet"
    pq.write_table(pa.table({"key": ["a", "b", "a", "c"] * 10, "size": [10, -5, 10, 7] * 10}), log)
    refused("evaluate-layout", "--logs", str(log), "--size", "size", message="negative size")


def test_mrc_sizes_must_be_whole_numbers(tmp_path: Path) -> None:
    sizes = tmp_path / "sizes.json"
    sizes.write_text(json.dumps({"points": [{"size": 1.7}, {"size": 2.2}]}))
    refused("mrc", "--logs", LOG, "--sizes-from", str(sizes), message="sizes must be ascending whole numbers")


def test_a_long_output_name_is_written(tmp_path: Path) -> None:
    # 250 characters fit a file name; the temp name beside it must fit too.
    out = tmp_path / ("a" * 245 + ".json")
    assert run_cli("export", "--out", str(out)).code == 0
    assert json.loads(out.read_text())["format"] == "sqlwave.wavespec/1"


def test_a_failed_write_changes_no_output(tmp_path: Path) -> None:
    from sqlwave.outputs import write_all_atomic

    first, second = tmp_path / "po.parquet", tmp_path / "ws.json"
    first.write_text("SENTINEL")

    def fail(tmp: str) -> None:
        raise OSError("disk full")

    with pytest.raises(InputError, match="cannot write '.*ws.json': disk full"):
        write_all_atomic([(first, lambda tmp: Path(tmp).write_text("new")), (second, fail)])
    assert first.read_text() == "SENTINEL" and not second.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["po.parquet"]  # no temp files left


def _pair(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "po.parquet", tmp_path / "ws.json"
    first.write_text("old sidecar")
    second.write_text("old spec")
    return first, second


def test_a_failed_rename_puts_back_the_file_renamed_before_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The sidecar was replaced and the WaveSpec not: a pair that never existed.
    import errno

    from sqlwave import outputs

    first, second = _pair(tmp_path)
    real, calls = os.replace, []

    def replace(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        real(src, dst)

    monkeypatch.setattr(outputs.os, "replace", replace)
    with pytest.raises(InputError, match="cannot write '.*ws.json'"):
        outputs.write_all_atomic([(first, lambda t: Path(t).write_text("new sidecar")),
                                   (second, lambda t: Path(t).write_text("new spec"))])
    assert (first.read_text(), second.read_text()) == ("old sidecar", "old spec")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["po.parquet", "ws.json"]


def test_a_signal_between_the_renames_waits_for_both(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import signal

    from sqlwave import outputs

    first, second = _pair(tmp_path)
    real = os.replace

    def replace(src: str, dst: str) -> None:
        real(src, dst)
        if dst == first:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C right after the first rename

    monkeypatch.setattr(outputs.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        outputs.write_all_atomic([(first, lambda t: Path(t).write_text("new sidecar")),
                                   (second, lambda t: Path(t).write_text("new spec"))])
    assert (first.read_text(), second.read_text()) == ("new sidecar", "new spec")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["po.parquet", "ws.json"]


def test_a_file_size_limit_is_an_error_that_keeps_the_old_output(tmp_path: Path) -> None:
    # It was an OSError traceback (EFBIG); Python ignores SIGXFSZ, so the write fails instead.
    import shlex
    import subprocess
    import sys

    out = tmp_path / "ws.json"
    out.write_text("old")
    sqlwave = shlex.quote(str(Path(sys.executable).parent / "sqlwave"))
    proc = subprocess.run(["bash", "-c", f"ulimit -f 4; {sqlwave} export --out {shlex.quote(str(out))}"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("Error: cannot write") and "file size limit" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert out.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["ws.json"]


def test_out_through_a_symlink_writes_the_file_it_names(tmp_path: Path) -> None:
    target = tmp_path / "target.json"
    target.write_text("old")
    target.chmod(0o600)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert run_cli("export", "--out", str(link)).code == 0
    assert link.is_symlink() and json.loads(target.read_text())["format"] == "sqlwave.wavespec/1"
    assert target.stat().st_mode & 0o777 == 0o600  # an existing file keeps its permissions


@pytest.mark.parametrize("error, code, message", [
    (KeyboardInterrupt(), 130, "Error: interrupted"),
    (RuntimeError("Query interrupted"), 130, "Error: interrupted"),  # Ctrl-C inside DuckDB
])
def test_an_interrupted_command_exits_cleanly(error: BaseException, code: int, message: str,
                                              monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    import sqlwave.writer

    def stop(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(sqlwave.writer, "build_wave_spec", stop)
    result = run_cli("export", "--out", str(tmp_path / "never.json"))
    assert result.code == code and result.stderr.startswith(message), result.stderr
    assert "Traceback" not in result.stderr and not list(tmp_path.iterdir())


def test_sigterm_stops_like_ctrl_c() -> None:
    import signal

    import sqlwave.cli as cli

    with pytest.raises(KeyboardInterrupt):
        cli._terminate(signal.SIGTERM, None)
    assert cli._stop_signal == signal.SIGTERM
    cli._stop_signal = signal.SIGINT


def test_spills_go_to_a_folder_of_our_own() -> None:
    import tempfile

    from sqlwave.engine import connect

    folder = connect().execute("SELECT current_setting('temp_directory')").fetchall()[0][0]
    assert folder.startswith(tempfile.gettempdir()) and "sqlwave-spill-" in folder


@pytest.mark.parametrize(("text", "message"), [
    ('{"format": "sqlwave.wavespec/1", "waves": [], "x": NaN}', "NaN is not a JSON number"),
    ('{"format": "sqlwave.wavespec/1", "waves": [], "x": 1e999}', "too large for a number"),
    ('{"format": "sqlwave.wavespec/1", "waves": [], "x": ' + "[" * 5000 + "]" * 5000 + "}",
     "nests too deeply"),
    ('{"format": "sqlwave.wavespec/1", "waves": [], "x": ' + "1" * 5000 + "}",
     "is not valid JSON"),
])
def test_report_refuses_json_python_reads_but_json_has_not(tmp_path: Path, text: str,
                                                           message: str) -> None:
    spec = tmp_path / "ws.json"
    spec.write_text(text)
    refused("report", str(spec), "--out", str(tmp_path / "r.html"), message=message)
    assert not (tmp_path / "r.html").exists()


def test_a_named_pipe_is_written_in_place(tmp_path: Path) -> None:
    import os
    import stat
    import threading

    pipe = tmp_path / "out.pipe"
    os.mkfifo(pipe)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(pipe.read_bytes()))
    reader.start()
    result = run_cli("export", "--out", str(pipe))
    reader.join(timeout=60)
    assert result.code == 0, result.stderr
    assert json.loads(got[0])["format"] == "sqlwave.wavespec/1"
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    assert not list(tmp_path.glob(".out.pipe.*"))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="making a device node needs root (CI runs as root)")
def test_a_device_such_as_dev_null_stays_a_device(tmp_path: Path) -> None:
    # Renamed over, /dev/null became a regular file that every later write filled.
    import stat

    null = tmp_path / "null"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    result = run_cli("export", "--out", str(null), "--pack-order-out", str(null))
    assert result.code == 0, result.stderr
    assert stat.S_ISCHR(null.stat().st_mode)


def _drain_later(*pipes: Path, after: float = 20.0) -> None:
    """Read the pipes after a while, so that a regression that writes to a pipe it should have
    refused fails the test instead of blocking it for ever."""
    import threading

    def drain() -> None:
        time.sleep(after)
        for pipe in pipes:
            with open(os.open(pipe, os.O_RDONLY | os.O_NONBLOCK), "rb") as f:
                f.read()

    threading.Thread(target=drain, daemon=True).start()


def test_a_pipe_named_twice_or_a_socket_is_refused(tmp_path: Path) -> None:
    import socket

    pipe = tmp_path / "p"
    os.mkfifo(pipe)
    _drain_later(pipe)
    refused("export", "--out", str(pipe), "--pack-order-out", str(pipe),
            message="are the same file")
    sock = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(sock))
        refused("export", "--out", str(sock), message="is not a file, a folder, a pipe")


def test_a_pipe_whose_reader_leaves_changes_no_file(tmp_path: Path) -> None:
    import threading

    side = tmp_path / "side.parquet"
    assert run_cli("export", "--out", str(tmp_path / "old.json"), "--pack-order-out",
                   str(side)).code == 0
    before = side.read_bytes()
    pipe = tmp_path / "p"
    os.mkfifo(pipe)

    def read_a_little() -> None:
        with open(pipe, "rb") as f:
            f.read(10)

    reader = threading.Thread(target=read_a_little)
    reader.start()
    refused("export", "--order", "first-touch", "--out", str(pipe), "--pack-order-out",
            str(side), message="cannot write")
    reader.join(timeout=30)
    assert side.read_bytes() == before


def test_outputs_that_are_hard_links_of_one_file_are_refused(tmp_path: Path) -> None:
    pipe = tmp_path / "p"
    os.mkfifo(pipe)
    os.link(pipe, tmp_path / "p2")
    _drain_later(pipe)
    refused("export", "--out", str(pipe), "--pack-order-out", str(tmp_path / "p2"),
            message="are the same file")
    log = tmp_path / "log.parquet"
    pq.write_table(pa.table({"key": ["a", "b"]}), log)
    os.link(log, tmp_path / "same.parquet")
    refused("export", "--logs", str(log), "--out", str(tmp_path / "same.parquet"),
            message="is one of the input files")


def test_a_link_to_a_place_that_cannot_be_written_is_refused_before_any_work(
        tmp_path: Path) -> None:
    # The check looked at the link's folder; the export ran, then failed on the target's.
    (tmp_path / "plain").write_text("a file, not a folder")
    link = tmp_path / "out.json"
    link.symlink_to(tmp_path / "plain" / "ws.json")
    refused("export", "--out", str(link), message="is a file, not a folder")


def test_ctrl_c_while_the_reuse_pass_runs_stops_cleanly(tmp_path: Path) -> None:
    # The reuse pass runs on a second cursor in a thread; a Ctrl-C while the export waited for
    # it left the thread inside DuckDB as the interpreter exited: "terminate called ...", SIGABRT
    # and a core file, in 9 of 20 runs on a 3M-row log.
    import random
    import signal
    import subprocess
    import sys

    log = tmp_path / "log.parquet"
    assert run_cli("example-logs", "--rows", "1500000", "--out", str(log)).code == 0
    sqlwave = str(Path(sys.executable).parent / "sqlwave")
    command = [sqlwave, "export", "--logs", str(log), "--size", "size", "--reuse-exact",
               "--out", str(tmp_path / "ws.json")]
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, check=True, timeout=120)
    whole = time.perf_counter() - start
    rnd = random.Random(3)
    for _ in range(10):
        proc = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        time.sleep(rnd.uniform(0.4, 0.95) * whole)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode in (0, 130), err.decode()[-500:]
        assert b"terminate called" not in err and b"Traceback" not in err
        if proc.returncode:  # one line: click's Abort had put a blank line before it
            assert err == b"Error: interrupted\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.parquet", "ws.json"]


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_a_signal_during_the_imports_is_an_error_line(signame: str) -> None:
    # Before the commands were registered, Ctrl-C printed a KeyboardInterrupt traceback and
    # SIGTERM ended the process without a word.
    import signal
    import subprocess
    import sys

    code = ("import builtins, os, signal\n"
            "from sqlwave import console\n"
            "real = builtins.__import__\n"
            "def importing(name, *args, **kwargs):\n"
            f"    if name == 'sqlwave.cli': os.kill(os.getpid(), signal.{signame})\n"
            "    return real(name, *args, **kwargs)\n"
            "builtins.__import__ = importing\n"
            "console.main()\n")
    proc = subprocess.run([sys.executable, "-c", code, "export"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 128 + getattr(signal, signame), proc.stderr
    assert proc.stderr == ("Error: interrupted\n" if signame == "SIGINT" else "Error: terminated\n")


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_a_signal_interrupts_every_open_connection(signame: str) -> None:
    # Python runs its handlers between DuckDB's tasks, in the main thread only: `mrc --method
    # exact` ran on for 2-4 s after Ctrl-C or SIGTERM, and a query on another thread until it
    # ended. Here the query runs on a second thread and would take hours.
    import signal
    import subprocess
    import sys

    code = ("import signal, threading\n"
            "from sqlwave.engine import connect\n"
            "from sqlwave.signals import interrupt_on_signal, stopped_by\n"
            f"signal.signal(signal.{signame}, lambda *args: None)\n"
            "interrupt_on_signal()\n"
            "con = connect()\n"
            "def query():\n"
            "    try:\n"
            "        con.execute('SELECT count(*) FROM range(10000000000000) t(i) '\n"
            "                    'WHERE hash(i) % 7 = 1').fetchall()\n"
            "    except Exception as e:\n"
            "        print('stopped', type(e).__name__, flush=True)\n"
            "worker = threading.Thread(target=query)\n"
            "worker.start()\n"
            "print('running', flush=True)\n"
            "worker.join()\n"
            "print('by', stopped_by(), flush=True)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "running\n"
        time.sleep(0.5)
        proc.send_signal(getattr(signal, signame))
        out, _ = proc.communicate(timeout=60)  # without the fix the query runs on, past this
    finally:
        proc.kill()  # it ignores the signal itself
    assert out.startswith("stopped") and f"by {int(getattr(signal, signame))}" in out


def test_a_pipe_nobody_reads_can_still_be_stopped(tmp_path: Path) -> None:
    # Copied to the pipe while signals were held, the export waited for a reader for ever:
    # only SIGKILL stopped it, and its temp file stayed.
    import signal
    import subprocess
    import sys

    pipe = tmp_path / "out.pipe"
    os.mkfifo(pipe)
    temp = tmp_path / "temp"
    temp.mkdir()
    sqlwave = str(Path(sys.executable).parent / "sqlwave")
    proc = subprocess.Popen([sqlwave, "export", "--out", str(pipe)], stderr=subprocess.PIPE,
                            env=dict(os.environ, TMPDIR=str(temp)))
    try:
        time.sleep(3)  # the export is done and waits for a reader
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130 and err == b"Error: interrupted\n"
    assert not [p for p in temp.iterdir() if p.name.startswith(".out.pipe")]


def test_a_sigint_the_parent_ignores_stays_ignored(tmp_path: Path) -> None:
    # `sqlwave ... &` in a script runs with SIGINT ignored, so Ctrl-C in the terminal leaves
    # it be; the CLI installed its own handler and stopped.
    import signal
    import subprocess
    import sys

    out = tmp_path / "log.parquet"
    sqlwave = str(Path(sys.executable).parent / "sqlwave")
    proc = subprocess.Popen([sqlwave, "example-logs", "--rows", "1000000", "--out", str(out)],
                            stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert pq.read_metadata(out).num_rows == 1_000_000
