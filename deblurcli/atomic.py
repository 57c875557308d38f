"""Atomic writes: a file appears complete under its final name, or not at all.

Every output is written to a temporary file in the target folder and renamed
over the final name when complete (a rename within one file system is
atomic). The temporary file is created exclusively (``O_CREAT | O_EXCL``, via
:func:`tempfile.mkstemp`), so a symlink planted in the output folder is never
followed and no file outside it can be overwritten; its name is short, so it
fits wherever the final name fits (a 255-byte final name included); and it
names the host and process that made it, so a later run can remove the
temporaries a killed run left behind (:func:`clean_stale`) without touching
those of a run still going, on this machine or another sharing the folder.
A process working for a distributed job (a Ray worker) also puts the job's tag
in the name (:func:`set_job_tag`), so that the job, once every file is done,
removes what a worker killed mid-write left on any machine (:func:`clean_job`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PREFIX = ".deblurcli-"
SUFFIX = ".part"
STALE_AFTER = 24 * 3600  # a temporary of another host is stale after a day
_job_tag = ""  # set in a process that writes for a distributed job: the job's tag, in every temporary's name


def _host() -> str:
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a fresh, exclusively created temporary path beside ``path``; rename it to ``path`` on success.

    On an exception the temporary file is removed and ``path`` is untouched. The file gets the mode any new
    file gets (0666 minus the umask; mkstemp's own is 0600), or the mode of the file it replaces.
    """
    path = Path(path)
    tag = f"{_job_tag}-" if _job_tag else ""
    fd, name = tempfile.mkstemp(prefix=f"{PREFIX}{_host()}-{os.getpid()}-{tag}", suffix=SUFFIX, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        set_mode(tmp, path)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def set_mode(tmp: Path, final: Path) -> None:
    """Give ``tmp`` the mode of the regular file ``final`` it replaces, else 0666 minus the umask (as open())."""
    try:
        st = os.stat(final, follow_symlinks=False)  # a planted symlink lends nothing
        mode = st.st_mode & 0o777 if stat.S_ISREG(st.st_mode) else None
    except OSError:
        mode = None
    if mode is None:
        mode = 0o666 & ~_umask()
    with contextlib.suppress(FileNotFoundError):  # the caller may have moved its temporary file away
        os.chmod(tmp, mode)


def _umask() -> int:
    """The process's umask, read without changing it where Linux says it (/proc/self/status): setting it to read
    it would, for a moment, give files other threads create (the video encoder's segments) mode 0666."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o077)  # elsewhere: the safe way round, briefly stricter, never looser
    os.umask(mask)
    return mask


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (fsynced before the rename). Raises OSError."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def write_json(path: str | Path, doc: Any) -> None:
    """``doc`` as indented JSON, atomically."""
    write_bytes(path, (json.dumps(doc, indent=2) + "\n").encode())


def is_temporary(name: str) -> bool:
    return name.startswith(PREFIX) and name.endswith(SUFFIX)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def is_stale(path: Path, now: float | None = None) -> bool:
    """A temporary whose writer is gone: its process on this host has ended, or it is a day old."""
    parts = path.name[len(PREFIX) :].split("-")
    try:
        host, pid = parts[0], int(parts[1])
        age = (now or time.time()) - path.lstat().st_mtime
    except (IndexError, ValueError, OSError):
        return False
    if host == _host() and pid != os.getpid():
        return not _alive(pid) or age > STALE_AFTER
    return age > STALE_AFTER


def set_job_tag(tag: str) -> None:
    """Name this process's temporaries after the distributed job ``tag`` (letters and digits) it works for."""
    global _job_tag
    if not tag.isalnum():
        raise ValueError(f"a job tag is letters and digits, not {tag!r}")
    _job_tag = tag


def clean_job(folder: str | Path, tag: str, recursive: bool = False) -> list[Path]:
    """Remove the temporaries of the finished job ``tag`` in ``folder``: with every file of the job done, one
    left is a worker's that was killed mid-write, on whichever machine it ran."""
    folder = Path(folder)
    if not tag or not folder.is_dir():
        return []
    pattern = f"{PREFIX}*-*-{tag}-*{SUFFIX}"
    removed = []
    for p in folder.rglob(pattern) if recursive else folder.glob(pattern):
        if not p.is_symlink() and p.is_file() and p.name[len(PREFIX) :].split("-")[2] == tag:
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
    return removed


def clean_stale(folder: str | Path, recursive: bool = False) -> list[Path]:
    """Remove the stale temporaries (see :func:`is_stale`) in ``folder``; returns what was removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = folder.rglob(f"{PREFIX}*{SUFFIX}") if recursive else folder.glob(f"{PREFIX}*{SUFFIX}")
    removed = []
    for p in found:
        if not p.is_symlink() and p.is_file() and is_stale(p):
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
    return removed
