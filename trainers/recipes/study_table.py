"""The README's "The study" section: five architectures, one budget, every kind of blur.

    python trainers/recipes/study_table.py collect --eval reds=E.json --eval gopro=E.json --eval shake=E.json \\
        --runs RUNS --speed speed.json [--note KEY=TEXT ...] -o trainers/recipes/study/results.json
    python trainers/recipes/study_table.py           # rewrite the block in README.md from results.json
    python trainers/recipes/study_table.py --check   # exit 1 if the README's block differs

``collect`` reads one ``deblurcli eval --json`` report per validation set (each scoring the five study models,
named by architecture), the runs' ``history.csv``/``run.json`` and ``benchmarks/study_speed.py``'s JSON, and
writes ``results.json``; the block sits between ``<!-- study -->`` and ``<!-- /study -->`` and every number in
it comes from that file (``study.sh`` runs the whole chain).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "trainers" / "recipes" / "study" / "results.json"
README = ROOT / "README.md"
ORDER = ["nafnet", "resunet", "uptimus", "efficientnet_b4", "vgg19"]
SETS = {"reds": "REDS", "gopro": "GoPro-style", "shake": "camera shake"}
NAMES = {
    "nafnet": "NAFNet",
    "resunet": "ResUNet (from scratch)",
    "uptimus": "Uptimus (Uformer-style)",
    "efficientnet_b4": "EfficientNet-B4 U-Net",
    "vgg19": "VGG19 U-Net",
}
BLOCK = re.compile(r"(<!-- study -->\n)(.*?)(<!-- /study -->)", re.S)


def collect(evals: dict[str, Path], runs: Path, speed: Path, notes: dict[str, str]) -> dict[str, Any]:
    from deblurcli.models import create_model
    from deblurcli.models.stats import gmacs_per_megapixel

    sets = {}
    for name, path in evals.items():
        rows = {r["label"].split(":")[0]: r for r in json.loads(path.read_text())["summary"]}
        sets[name] = {"pairs": rows["input"]["images"]}
        for label in ["input", *ORDER]:
            sets[name][label] = [rows[label]["psnr_mean"], rows[label]["ssim_mean"]]
    timing = {r["model"]: r for r in json.loads(speed.read_text())}
    models = {}
    for arch in ORDER:
        run = json.loads((runs / arch / "run.json").read_text())
        with open(runs / arch / "history.csv") as f:
            last = list(csv.DictReader(f))[-1]
        model = create_model(arch, run["variant"])
        steps = int(last["step"])
        models[arch] = {
            "variant": run["variant"],
            "params": sum(p.numel() for p in model.parameters()),
            "gmacs_per_mp": round(gmacs_per_megapixel(model), 2),
            "cpu_seconds_720p": timing[arch]["seconds"],
            "cpu_path": timing[arch]["path"],
            "steps": steps,
            "batch": run["batch"],
            "crops": steps * run["batch"],
            "patch": run["patch"],
            "train_seconds": round(float(last["seconds"]), 1),
            "lr": run["lr"],
            "loss": run["loss"],
        }
    return {**notes, "sets": sets, "models": models}


def render(doc: dict[str, Any]) -> str:
    sets = [s for s in SETS if s in doc["sets"]]
    head = "| model | parameters | GMACs/MP | CPU s per 720p frame | trained |"
    head += "".join(f" {SETS[s]} PSNR / SSIM (gain) |" for s in sets)
    lines = [head, "|" + "---|" * (5 + len(sets))]
    row = "| blurry input | | | | |"
    for s in sets:
        p, q = doc["sets"][s]["input"]
        row += f" {p:.2f} / {q:.4f} ({doc['sets'][s]['pairs']} pairs) |"
    lines.append(row)
    for arch in ORDER:
        m = doc["models"][arch]
        path = m["cpu_path"].replace("-frame", "").replace("-cl", " channels-last").replace("-", " ")
        row = (
            f"| {NAMES[arch]} `{arch}` ({m['variant']}) | {m['params']:,} | {m['gmacs_per_mp']:.1f} | "
            f"{m['cpu_seconds_720p']:.2f} ({path}) | {m['steps']} x {m['batch']} = {m['crops']:,} crops of "
            f"{m.get('patch', 256)} px, {m['train_seconds']:,.0f} s |"
        )
        for s in sets:
            p, q = doc["sets"][s][arch]
            row += f" {p:.2f} / {q:.4f} ({p - doc['sets'][s]['input'][0]:+.2f}) |"
        lines.append(row)
    notes = [
        f"- Budget: {doc['budget']}.",
        f"- Data: {doc['data']}; validation: the suite of `cross_kind_data.sh` (never trained on).",
        f"- Training hardware: {doc['train_hardware']}.",
        f"- Scoring: {doc['eval']}.",
        f"- CPU speed: {doc['cpu']} (`benchmarks/study_speed.py`).",
    ]
    return "\n".join(lines) + "\n\n" + "\n".join(notes) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", nargs="?", choices=["collect"])
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--eval", action="append", default=[], help="SET=eval.json")
    ap.add_argument("--runs", type=Path)
    ap.add_argument("--speed", type=Path)
    ap.add_argument("--note", action="append", default=[], help="budget|data|train_hardware|eval|cpu=TEXT")
    ap.add_argument("-o", "--out", type=Path, default=RESULTS)
    a = ap.parse_args(argv)
    if a.command == "collect":
        evals = {k: Path(v) for k, v in (e.split("=", 1) for e in a.eval)}
        notes = dict(n.split("=", 1) for n in a.note)
        a.out.write_text(json.dumps(collect(evals, a.runs, a.speed, notes), indent=1) + "\n")
        return 0
    text = README.read_text()
    match = BLOCK.search(text)
    if not match:
        print("README.md has no <!-- study --> block", file=sys.stderr)
        return 1
    block = render(json.loads(RESULTS.read_text()))
    if a.check:
        if match.group(2) != block:
            print(
                "README.md's study table differs from results.json; run trainers/recipes/study_table.py",
                file=sys.stderr,
            )
            return 1
        return 0
    README.write_text(text[: match.start(2)] + block + text[match.end(2) :])
    return 0


if __name__ == "__main__":
    sys.exit(main())
