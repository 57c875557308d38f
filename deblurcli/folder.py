"""The ``folder`` job: deblur every image in a folder into another folder, or image files named one by one.

Nothing is lost: the input folder is never written to, an input is never
overwritten, an existing output is replaced only when asked, each output is
written under a temporary name and renamed when complete, and a bad file is
reported and skipped while the rest go on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .atomic import clean_stale
from .catalog import IMAGE_FORMATS as FORMATS
from .errors import DeblurError
from .images import IMAGE_EXTS, read_image, write_image
from .metadata import read_metadata
from .pipeline import Deblurrer

# images up to this size are read ahead and written behind the model (a 4K UHD frame is 8.3 MP)
OVERLAP_PIXELS = 8_300_000


@dataclass
class Task:
    src: Path
    dst: Path


@dataclass
class FileResult:
    input: str
    output: str
    status: str  # "ok", "skipped" or "failed"
    width: int | None = None
    height: int | None = None
    bytes: int | None = None
    seconds: float = 0.0
    error: str | None = None

    @property
    def megapixels(self) -> float:
        return (self.width or 0) * (self.height or 0) / 1e6

    def to_dict(self) -> dict:
        d = asdict(self)
        d["megapixels"] = round(self.megapixels, 4)
        return d


def default_output(input_dir: Path) -> Path:
    return input_dir.parent / f"{input_dir.name}-deblurred"


def _is_within(path: Path, parent: Path) -> bool:
    try:
        path.relative_to(parent)
        return True
    except ValueError:
        return False


def find_images(root: Path, recursive: bool, exclude: Path | None = None) -> list[Path]:
    """Image files under ``root`` (hidden files and ``exclude`` left out), sorted."""
    found = []
    walker: Iterable = os.walk(root) if recursive else [(str(root), [], os.listdir(root))]
    for dirpath, dirnames, filenames in walker:
        d = Path(dirpath)
        dirnames[:] = sorted(
            n for n in dirnames if not n.startswith(".") and not (exclude and (d / n).resolve() == exclude)
        )
        for name in filenames:
            p = d / name
            dangling = p.is_symlink() and not p.exists()  # reported as unreadable, never skipped silently
            if not name.startswith(".") and p.suffix.lower() in IMAGE_EXTS and (p.is_file() or dangling):
                found.append(p)
    return sorted(found)


def plan_folder(
    input_dir: Path,
    output_dir: Path | None,
    recursive: bool = False,
    fmt: str = "same",
    skip_existing: bool = False,
    overwrite: bool = False,
    clean: bool = True,
) -> tuple[Path, list[Task], list[FileResult]]:
    """Check the job and map every input to its output.

    Returns the output folder, the tasks to run, and results already decided
    (skipped existing outputs, name collisions). Raises :class:`DeblurError`
    for a job that cannot start. Removes the stale temporaries a killed run
    left in the output folder, unless ``clean`` is false (a dry run).
    """
    if fmt not in FORMATS:
        raise DeblurError(f"unknown format {fmt!r} (use {', '.join(FORMATS)})")
    if not input_dir.exists():
        raise DeblurError(f"input {input_dir} does not exist")
    if not input_dir.is_dir():
        raise DeblurError(f"input {input_dir} is not a folder")
    output_dir = output_dir or default_output(input_dir)
    src_root, dst_root = input_dir.resolve(), output_dir.resolve()
    if dst_root == src_root:
        raise DeblurError("output folder is the input folder; choose another with -o (inputs are never overwritten)")
    if _is_within(dst_root, src_root):
        raise DeblurError(
            f"output folder {output_dir} is inside the input folder; deblurcli never writes into its input"
        )
    if output_dir.exists() and not output_dir.is_dir():
        raise DeblurError(f"output {output_dir} exists and is not a folder")
    images = find_images(input_dir, recursive, exclude=dst_root)
    if not images:
        what = "or below it " if recursive else ""
        raise DeblurError(f"no images ({', '.join(e.lstrip('.') for e in IMAGE_EXTS)}) in {input_dir} {what}".rstrip())

    if clean:
        clean_stale(output_dir, recursive=True)  # temporaries of a killed run: never outputs, never left behind
    mapping = [(src, output_dir / src.relative_to(input_dir).with_suffix(_ext(src, fmt))) for src in images]
    tasks, decided = _map_outputs(mapping, src_root, output_dir, skip_existing, overwrite)
    return output_dir, tasks, decided


def plan_images(
    images: list[Path],
    output: Path | None,
    fmt: str = "same",
    skip_existing: bool = False,
    overwrite: bool = False,
    clean: bool = True,
) -> tuple[Path, list[Task], list[FileResult]]:
    """Check a job on image files named one by one and map each to its output, like :func:`plan_folder`.

    Each output goes beside its input as ``NAME-deblurred.EXT`` unless ``output`` says where: a folder (one that
    exists, or a path ending in a separator or without an image extension) gets ``NAME.EXT`` for each input; a
    file path (with an image extension, one input only) is that image's output, in its extension's format. Returns
    the folder the outputs go to (the inputs' common folder when beside them), the tasks and the results already
    decided. Raises :class:`DeblurError` before anything runs for a missing input, a folder among them or a file
    that is not named as an image."""
    if fmt not in FORMATS:
        raise DeblurError(f"unknown format {fmt!r} (use {', '.join(FORMATS)})")
    first: dict[Path, Path] = {}
    for src in images:  # a file named twice (a.jpg ./a.jpg) runs once
        first.setdefault(src.resolve(), src)
    images = list(first.values())
    for src in images:
        if not src.exists() and not src.is_symlink():
            raise DeblurError(f"input {src} does not exist")
        if src.is_dir():
            raise DeblurError(f"input {src} is a folder; give one folder, or image files")
        if src.suffix.lower() not in IMAGE_EXTS:
            exts = ", ".join(e.lstrip(".") for e in IMAGE_EXTS)
            raise DeblurError(f"input {src} is not named as an image ({exts}) or a folder")
    as_file = output is not None and _names_a_file(output)
    if as_file and len(images) > 1:
        raise DeblurError(f"output {output} names one image, but {len(images)} inputs were given; use a folder")
    if as_file:
        assert output is not None
        if fmt != "same" and output.suffix.lower().replace(".jpeg", ".jpg") != "." + fmt:
            raise DeblurError(f"output {output} has another extension than --format {fmt}")
        mapping = [(images[0], output)]
    elif output is not None:
        if output.exists() and not output.is_dir():
            raise DeblurError(f"output {output} exists and is not a folder")
        mapping = [(src, output / src.with_suffix(_ext(src, fmt)).name) for src in images]
    else:
        mapping = [(src, src.with_name(f"{src.stem}-deblurred{_ext(src, fmt)}")) for src in images]
    inputs = {src.resolve(): src for src in images}
    for _, dst in mapping:
        if dst.resolve() in inputs:
            raise DeblurError(
                f"output {dst} would overwrite the input {inputs[dst.resolve()]}; inputs are never overwritten"
            )
    out_dir = Path(os.path.commonpath([str(dst.parent.absolute()) for _, dst in mapping]))
    for folder in {dst.parent for _, dst in mapping} if clean else ():
        clean_stale(folder)  # a killed run's temporaries, never anything else
    tasks, decided = _map_outputs(mapping, None, out_dir, skip_existing, overwrite)
    return out_dir, tasks, decided


def _names_a_file(output: Path) -> bool:
    """Whether ``-o`` names one image's output rather than a folder for the outputs."""
    return not output.is_dir() and not str(output).endswith(os.sep) and output.suffix.lower() in IMAGE_EXTS


def _ext(src: Path, fmt: str) -> str:
    return src.suffix if fmt == "same" else "." + fmt


def _map_outputs(
    mapping: list[tuple[Path, Path]],
    src_root: Path | None,
    output_dir: Path,
    skip_existing: bool,
    overwrite: bool,
) -> tuple[list[Task], list[FileResult]]:
    """Each (input, output): tasks to run and results already decided (skipped, collisions). No output may lie
    inside ``src_root`` (a folder job's input) or be its input; outputs already there need a decision."""
    tasks: list[Task] = []
    decided: list[FileResult] = []
    claimed: dict[Path, Path] = {}
    existing = []
    for src, dst in mapping:
        key = dst.resolve()
        if key in claimed:
            taken = f"its output name is already taken by {claimed[key].name}; use --format same"
            if src_root is None:
                taken = f"its output {dst.name} is already taken by {claimed[key]}"
            decided.append(FileResult(str(src), str(dst), "failed", error=taken))
            continue
        claimed[key] = src
        if (src_root is not None and _is_within(key, src_root)) or key == src.resolve():
            decided.append(FileResult(str(src), str(dst), "failed", error="output would overwrite an input"))
            continue
        if dst.exists():
            if skip_existing:
                decided.append(FileResult(str(src), str(dst), "skipped", bytes=dst.stat().st_size))
                continue
            if not overwrite:
                existing.append(dst)
        tasks.append(Task(src, dst))
    if existing:
        where = f"in {output_dir} " if src_root is not None else ""
        raise DeblurError(
            f"{len(existing)} output(s) already exist {where}(e.g. {existing[0].name}); "
            "pass --skip-existing to resume or --overwrite to replace them"
        )
    return tasks, decided


def _why(e: BaseException) -> str:
    """A failed file's one-line reason."""
    if isinstance(e, MemoryError):
        return "out of memory (try a smaller --tile or --batch)"
    if isinstance(e, OSError) and not isinstance(e, DeblurError):
        return f"{e.strerror or e}"
    return str(e)


_FAILURES = (DeblurError, MemoryError, OSError)


def _deblurred(task: Task, pixels: Any, deblurrer: Deblurrer, res: FileResult, on_batch=None) -> Any:
    """The model's output for ``pixels``, in a form ``task.dst``'s format holds."""
    res.height, res.width = pixels.shape[:2]
    out = deblurrer.process(pixels, on_batch)
    if task.dst.suffix.lower() in (".jpg", ".jpeg") and out.dtype != "uint8":
        out = (out // 257).astype("uint8")  # JPEG holds 8 bits per sample
    if task.dst.suffix.lower() in (".jpg", ".jpeg") and out.ndim == 3 and out.shape[2] == 4:
        out = out[:, :, :3]  # JPEG has no alpha channel
    return out


def _written(task: Task, out: Any, res: FileResult, t0: float) -> FileResult:
    try:
        task.dst.parent.mkdir(parents=True, exist_ok=True)
        res.bytes = write_image(task.dst, out, read_metadata(task.src))
        res.status = "ok"
    except _FAILURES as e:
        res.error = _why(e)
    res.seconds = time.perf_counter() - t0
    return res


def process_file(task: Task, deblurrer: Deblurrer, on_batch: Callable[[int, int], None] | None = None) -> FileResult:
    """One file: read, deblur, write (atomically); a result, never an exception for a bad file."""
    t0 = time.perf_counter()
    res = FileResult(str(task.src), str(task.dst), "failed")
    try:
        out = _deblurred(task, read_image(task.src), deblurrer, res, on_batch)
    except _FAILURES as e:
        res.error = _why(e)
        res.seconds = time.perf_counter() - t0
        return res
    return _written(task, out, res, t0)


@dataclass
class FolderReport:
    """What a folder job did: every file's result, the time, whether Ctrl-C stopped it."""

    results: list[FileResult]
    seconds: float = 0.0
    interrupted: bool = False

    def with_status(self, status: str) -> list[FileResult]:
        return [r for r in self.results if r.status == status]

    @property
    def exit_code(self) -> int:
        """130 interrupted, 1 when a file failed, else 0 (the CLI's documented codes)."""
        return 130 if self.interrupted else 1 if self.with_status("failed") else 0

    def to_json(self, **head: object) -> dict:
        return {
            **head,
            "seconds": round(self.seconds, 3),
            "interrupted": self.interrupted,
            "files": [r.to_dict() for r in self.results],
        }


def run_folder(
    tasks: list[Task],
    deblurrer: Deblurrer,
    decided: list[FileResult] | None = None,
    on_start: Callable[[Task], None] | None = None,
    on_done: Callable[[FileResult], None] | None = None,
) -> FolderReport:
    """Deblur every task in turn; a bad file is recorded and the rest go on; Ctrl-C stops after the current
    file's output is complete or absent (never half-written).

    Decoding and encoding overlap the model: while one image is deblurred the next is read and the previous
    one written, each in its own thread (OpenCV releases the GIL), for images of at most ``OVERLAP_PIXELS``
    (larger ones are model-bound, and holding three of them would cost memory)."""
    report = FolderReport(list(decided or []))
    t0 = time.perf_counter()
    with ThreadPoolExecutor(1, "deblurcli-read") as reader, ThreadPoolExecutor(1, "deblurcli-write") as writer:
        ahead: Future | None = reader.submit(read_image, tasks[0].src) if tasks else None
        behind: Future | None = None
        try:
            for k, task in enumerate(tasks):
                if on_start:
                    on_start(task)
                started = time.perf_counter()
                res = FileResult(str(task.src), str(task.dst), "failed")
                out = None
                try:
                    fut, ahead = ahead, None
                    pixels = fut.result() if fut is not None else read_image(task.src)
                    if k + 1 < len(tasks) and pixels.shape[0] * pixels.shape[1] <= OVERLAP_PIXELS:
                        ahead = reader.submit(read_image, tasks[k + 1].src)
                    out = _deblurred(task, pixels, deblurrer, res)
                    del pixels
                except _FAILURES as e:
                    res.error, res.seconds = _why(e), time.perf_counter() - started
                if behind is not None:
                    _report(report, behind.result(), on_done)
                    behind = None
                if out is None:
                    _report(report, res, on_done)
                elif out.shape[0] * out.shape[1] <= OVERLAP_PIXELS:
                    behind = writer.submit(_written, task, out, res, started)
                else:
                    _report(report, _written(task, out, res, started), on_done)
                del out
        except KeyboardInterrupt:
            report.interrupted = True
        if ahead is not None:
            ahead.cancel()
        if behind is not None:  # the last file, or the one before a Ctrl-C: its output completes
            _report(report, behind.result(), on_done)
    report.seconds = time.perf_counter() - t0
    return report


def _report(report: FolderReport, res: FileResult, on_done: Callable[[FileResult], None] | None) -> None:
    report.results.append(res)
    if on_done:
        on_done(res)
