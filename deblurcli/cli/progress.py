"""Training progress on stderr: a rich bar on a terminal, plain lines (every N steps and at each
validation, with every set's gain) otherwise."""

from __future__ import annotations

import sys


def _progress_printer(quiet: bool, every: int):
    """A callback drawing rich progress on a terminal, and plain lines every ``every`` steps otherwise."""
    from .. import console

    if quiet:
        return None, None
    if console.err.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        prog = Progress(
            TextColumn("[bold]training"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "loss {task.fields[loss]:.4f}  lr {task.fields[lr]:.2e}  {task.fields[rate]:.2f} it/s"
                "  {task.fields[val]}"
            ),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console.err,
        )
        state: dict = {}

        def update(row: dict) -> None:
            if "task" not in state:
                state["task"] = prog.add_task(
                    "train", total=row["total"], completed=row["start"], loss=0.0, lr=0.0, rate=0.0, val=""
                )
            rate = (row["step"] - row["start"]) / row["seconds"] if row["seconds"] > 0 else 0.0
            if row["val_psnr"] is not None:
                state["val"] = f"val {row['val_psnr']:.2f} dB / {row['val_ssim']:.4f} ({row.get('val_gain', 0):+.2f})"
            prog.update(
                state["task"],
                completed=row["step"],
                loss=row["loss"],
                lr=row["lr"],
                rate=rate,
                val=state.get("val", ""),
            )

        return prog, update

    def plain(row: dict) -> None:
        if row["step"] % every == 0 or row["val_psnr"] is not None or row["step"] == row["total"]:
            rate = (row["step"] - row["start"]) / row["seconds"] if row["seconds"] > 0 else 0.0
            eta = (row["total"] - row["step"]) / rate if rate else 0.0
            val = ""
            if row["val_psnr"] is not None:
                sets = "  ".join(
                    f"{k[4:-5]} {v:+.2f}" for k, v in row.items() if k.startswith("val/") and k.endswith("/gain")
                )
                val = f"  val {row['val_psnr']:.2f} dB / {row['val_ssim']:.4f}, mean gain {row.get('val_gain', 0):+.3f} [{sets}]"
            print(
                f"step {row['step']}/{row['total']}  loss {row['loss']:.4f}  lr {row['lr']:.2e}  "
                f"{rate:.2f} it/s  ETA {eta / 60:.0f} min{val}",
                file=sys.stderr,
                flush=True,
            )

    return None, plain
