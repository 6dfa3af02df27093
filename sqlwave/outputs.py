"""Output files, written whole: checked before any work (names, folders, inputs, pipes and
devices), filled as temp files beside them, then renamed together; a failed write or a signal
leaves each output the old file or the complete new one."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlwave.errors import InputError, ParameterError
from sqlwave.signals import held


def check_outputs(outputs: dict[str, str | None], inputs: Iterable[str] = ()) -> None:
    """Fail before any work when an output cannot be written: an empty name, a folder, a parent
    that is a file or not writable, two outputs at one path, or an output that is an input.

    `outputs` maps each option (e.g. '--out') to its path, or None when not given.
    """
    seen: dict[Any, str] = {}
    read = {_identity(f) for f in inputs}
    for option, path in outputs.items():
        if path is None:
            continue
        if not path.strip():
            raise ParameterError(f"{option} is empty; give a file name")
        try:
            _check_writable(option, path)
            same = _identity(path)
        except OSError as e:  # a name too long for the file system, a loop of links
            raise InputError(f"{option} {path!r}: {e.strerror or e}; give another name") from e
        if same in read:
            raise InputError(f"{option} {path!r} is one of the input files; writing it would "
                             "destroy the input: choose another name")
        if _is_device(path):  # /dev/null twice is fine; a pipe twice would block on its reader
            continue
        if same in seen:
            raise ParameterError(f"{option} and {seen[same]} are the same file {path!r}; give "
                                 "each output its own name")
        seen[same] = option


def _check_writable(option: str, path: str) -> None:
    # os.stat, not Path.is_dir: on Python 3.11 the latter lets ENAMETOOLONG escape as a bare
    # OSError, and the caller turns every OSError into one message.
    if path.endswith(("/", os.sep)) or _is_dir(path):
        raise InputError(f"{option} {path!r} is a folder; give a file name (e.g. "
                         f"{os.path.join(path, 'out.json')!r})")
    mode = _mode(path)
    if mode is not None and _streams(mode):
        if not os.access(path, os.W_OK):
            raise InputError(f"{option} {path!r}: no permission to write to it")
        return
    if mode is not None and not stat.S_ISREG(mode):  # not a folder either (checked above)
        raise InputError(f"{option} {path!r} is not a file, a folder, a pipe or a character "
                         "device (a socket?); give a file name")
    # A link is written through, to the file it names (write_all_atomic): check that folder.
    real = os.path.realpath(path) if os.path.islink(path) else path
    folder = os.path.dirname(os.path.abspath(real))
    while not os.path.exists(folder) and folder != os.path.dirname(folder):
        folder = os.path.dirname(folder)  # write_atomic creates the missing folders
    if not _is_dir(folder):
        raise InputError(f"{option} {path!r}: {folder!r} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        why = ("is on a read-only file system" if os.statvfs(folder).f_flag & os.ST_RDONLY
               else "is not writable (no permission)")
        raise InputError(f"{option} {path!r}: {folder!r} {why}; write the output elsewhere")


def _identity(path: str) -> Any:
    """What makes two names one file: its device and inode when it exists (hard links too),
    else its real path."""
    try:
        info = os.stat(path)
    except OSError:
        return os.path.realpath(path)
    return (info.st_dev, info.st_ino)


def is_stream(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is a named pipe or a character device (/dev/null, /dev/stdout). Those are
    written in place: renaming a temp file over one would replace it (as root, /dev/null became
    a regular file that every later write filled)."""
    mode = _mode(path)
    return mode is not None and _streams(mode)


def _streams(mode: int) -> bool:
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


def _is_device(path: str | os.PathLike[str]) -> bool:
    mode = _mode(path)
    return mode is not None and stat.S_ISCHR(mode)


def _mode(path: str | os.PathLike[str]) -> int | None:
    try:
        return os.stat(path).st_mode
    except OSError:
        return None


def _is_dir(path: str) -> bool:
    """Like os.path.isdir, but a name the system refuses (too long, ...) raises OSError."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False


def write_atomic(path: str | os.PathLike[str], write: Callable[[str], None]) -> None:
    """Call write(tmp_path) on a temp file beside `path`, then rename: never a half-written file."""
    write_all_atomic([(path, write)])


def write_all_atomic(
    outputs: Sequence[tuple[str | os.PathLike[str], Callable[[str], None]]],
) -> None:
    """Write every output to its temp file first, then rename them all: a failure in any write
    leaves every earlier file as it was (the WaveSpec and its sidecar change together). A
    stream (`is_stream`) gets the complete temp file's bytes copied into it instead."""
    staged: list[tuple[str, Path, bool]] = []
    try:
        for path, write in outputs:
            # Through a symlink to the file it names, as open() would write.
            target = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
            stream = is_stream(target)
            tmp = _temp_beside(target, stream=stream)
            staged.append((tmp, target, stream))
            try:
                write(tmp)
                if not stream:
                    os.chmod(tmp, _mode_for(target))
            except Exception as e:
                failed = write_failed(target, e, tmp)
                if failed is None:
                    raise
                raise failed from e
        # Streams first, and not held (a pipe nobody reads must stay stoppable): a reader that
        # went away fails the write before any file is replaced.
        for tmp, target, stream in staged:
            if stream:
                _copy_into(tmp, target)
                os.unlink(tmp)
        with held():
            _rename([(tmp, target) for tmp, target, stream in staged if not stream])
    except BaseException:
        with held():  # a second Ctrl-C here left a complete temp file behind
            for tmp, _, _ in staged:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
        raise


def _rename(files: list[tuple[str, Path]]) -> None:
    """Each temp file over its target; when a rename fails, those renamed before it are put
    back, so the WaveSpec and its sidecar change together or not at all."""
    # (target, a hard link to its old content or None, whether it existed)
    done: list[tuple[Path, str | None, bool]] = []
    olds: list[str | None] = []  # every hard link made, removed at the end
    try:
        for tmp, target in files:
            existed = target.exists()
            old = _keep_old(target) if len(files) > 1 and existed else None
            olds.append(old)
            try:
                os.replace(tmp, target)
            except OSError as e:
                raise _cannot_write(target, e) from e
            done.append((target, old, existed))
    except BaseException:
        for target, old, existed in reversed(done):
            if old is not None:
                os.replace(old, target)
            elif not existed:
                os.unlink(target)
            # else: no hard link could be made; the new file stays rather than none
        raise
    finally:
        for old in olds:
            if old is not None and os.path.lexists(old):
                os.unlink(old)


def _keep_old(target: Path) -> str | None:
    """A hard link to `target`'s current content, to put it back; None when the file system
    has no hard links (the old file cannot come back then)."""
    for _ in range(100):  # a name no file has: os.link does not replace one
        old = str(target.parent / f".{_safe_name(target.name)}.{os.urandom(4).hex()}.old")
        try:
            os.link(target, old)
            return old
        except FileExistsError:
            continue
        except OSError:
            return None
    return None


# What to do when the system refuses a write, by errno.
WRITE_ADVICE = {
    errno.ENOSPC: "the disk is full: free some space, or write it elsewhere",
    errno.EDQUOT: "the disk quota is used up: free some space, or write it elsewhere",
    errno.EFBIG: "it would pass this process's file size limit (ulimit -f): raise the limit",
    errno.EROFS: "the file system is read-only: write it elsewhere",
    errno.EACCES: "no permission: write it elsewhere",
    errno.EPERM: "no permission: write it elsewhere",
}


def write_failed(target: Path, error: BaseException, tmp: str) -> InputError | None:
    """An InputError naming the output and what to do, for an OSError or DuckDB's IO error
    while writing it; None for any other error (a bug: its traceback is wanted)."""
    if isinstance(error, OSError):
        return _cannot_write(target, error)
    if type(error).__name__ != "IOException":  # DuckDB's COPY into the temp file
        return None
    text = str(error)
    code = next((c for c in WRITE_ADVICE if os.strerror(c) in text), None)
    reason = WRITE_ADVICE[code] if code else text.replace(tmp, str(target)).splitlines()[0]
    return InputError(f"cannot write {str(target)!r}: {reason}")


def _cannot_write(target: Path, error: OSError) -> InputError:
    reason = WRITE_ADVICE.get(error.errno or 0) or f"{error.strerror or error}"
    return InputError(f"cannot write {str(target)!r}: {reason}")


def _mode_for(target: Path) -> int:
    """An existing file keeps its permissions; a new one gets what open() would give it
    (mkstemp makes its files private, 0600)."""
    if target.exists():
        return stat.S_IMODE(target.stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _copy_into(tmp: str, target: Path) -> None:
    import shutil

    try:
        with open(tmp, "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
    except OSError as e:
        raise _cannot_write(target, e) from e


def _temp_beside(target: Path, stream: bool = False) -> str:
    """A temp file beside `target` (in the system temp folder for a stream such as /dev/null,
    whose folder is not ours to write in)."""
    try:
        if _is_dir(str(target)):
            raise InputError(f"{str(target)!r} is a folder; give a file name")
        if not stream:
            target.parent.mkdir(parents=True, exist_ok=True)
        # A short prefix: the temp name must fit where the target's name fits (NAME_MAX).
        fd, tmp = tempfile.mkstemp(prefix=f".{_safe_name(target.name)}.", suffix=".tmp",
                                   dir=None if stream else target.parent)
    except OSError as e:
        raise _cannot_write(target, e) from e
    os.close(fd)
    return tmp


def _safe_name(name: str) -> str:
    """The start of a file name for its temp file's name: short (it must fit where the name
    fits) and in UTF-8, which DuckDB's COPY needs (a name of undecodable bytes failed there)."""
    return re.sub("[\ud800-\udfff]", "_", name[:32])


def text_writer(text: str) -> Callable[[str], None]:
    """A writer for write_all_atomic that puts `text` (UTF-8) in the temp file."""

    def write(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")

    return write


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    write_atomic(path, text_writer(text))
