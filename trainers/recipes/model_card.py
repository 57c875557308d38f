"""Write the README's model cards from the cards ship.py left beside the shipped weights.

    python trainers/recipes/model_card.py          # rewrite every card block in README.md
    python trainers/recipes/model_card.py --check  # exit 1 if a block differs from its weights' card

A block sits between ``<!-- card: NAME -->`` and ``<!-- /card: NAME -->``
(NAME as in ``deblurcli/weights/NAME.json``); the default model's numbers in
the README's status paragraph sit between ``<!-- status: NAME -->`` and
``<!-- /status: NAME -->``, so they cannot fall behind its card. Every number
in a block comes from that JSON, which ship.py measured on the fp16 file users get; the prose
(architecture, schedule, commands) lives in ``ABOUT`` below, one entry per
shipped model.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from deblurcli.catalog import DEFAULT_VARIANTS
from deblurcli.loading import DEFAULT_MODEL

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = ROOT / "deblurcli" / "weights"
README = ROOT / "README.md"
FRAME_MP = 1280 * 720 / 1e6
DEFAULT = f"{DEFAULT_MODEL}-{DEFAULT_VARIANTS[DEFAULT_MODEL]}"  # what `deblurcli folder` uses with no -m

REAL_MIX = (
    'the "real mix" of 766 pairs: REDS `reds_train_000` (720p, oversampled x30, 39% of samples), GoPro '
    "240 fps averages x8, 98 GoPro-style windows of 7-13 frames averaged from the raw 240 fps clip, 208 "
    "camera-shake pairs (random trajectories and measured kernels), the 4x-downscaled REDS sets, GoPro "
    "crops, real handheld 60 fps averages"
)
CROSS_MIX = (
    'the "cross-kind mix" of 5,088 distinct pairs (`cross_kind_data.sh`), sampled by repetition as 10,474: camera '
    "shake through the camera model (BSDS500 train+val x10 per photo, Urban100 and GoPro test frames x12 crops, "
    "the photos x8; 45% of samples), GoPro-style 240 fps windows averaged both ways (290 pairs x10) and the real "
    "GOPR0477 averages (x50) (31%), REDS `reds_train_000` (x150) and the 4x-downscaled REDS sets (x15) (20%), "
    "handheld 60 fps averages (x25, 4%)"
)
SUITE_SHIP = (
    "python trainers/recipes/ship.py runs/{stage}/{checkpoint}.safetensors {vals} \\\n"
    "        {targets} --sets ../shared/data/pairs --out deblurcli/weights/{name}.safetensors{extra} \\\n"
    '        --command "{command}"'
)
SHIP = (
    "python trainers/recipes/ship.py runs/{stage}/best.safetensors --val ../shared/data/pairs/reds_train_001 \\\n"
    "        --sets ../shared/data/pairs --out deblurcli/weights/{name}.safetensors{extra} \\\n"
    '        --command "{command}"'
)

ABOUT: dict[str, dict[str, Any]] = {
    "nafnet-small": {
        "title": "`nafnet-small` (the default)",
        "intro": "`deblurcli folder DIR` with no `-m` and no `--weights` uses it; `deblurcli models` lists it. "
        "Scored through that default pipeline, which since 2026-11-28 averages the model over the four rotations "
        "of its input (`--ensemble 4`), against the same weights in one pass (`--ensemble 1`, the default before) "
        "in the same pipeline: REDS +1.450 dB (+1.361), GoPro-style +1.863 dB (+1.702), camera shake +1.370 dB "
        "(+1.285), SSIM up on all three (0.7254, 0.7227, 0.6125 against 0.7228, 0.7159, 0.6076), and every real "
        "set 0.09 to 0.20 dB higher, for about three times the time per frame. The weights are `ssim-soup`: their "
        "last stages fine-tuned the previous default on the CPU with an SSIM term in the loss, which raised SSIM on "
        "every kind and gave back PSNR, and averaged that fine-tune's step 200 with the previous default and the "
        "soup of the last GPU run, which gain PSNR (thirds). It helps every kind and every real set, meets issue "
        "18's GoPro-style target and still misses its REDS and camera-shake targets, as its card says.",
        "architecture": "NAFNet (Chen et al. 2022), variant `small`: width 16, encoder blocks (1, 1, 2, 4), "
        "2 middle blocks, decoder (1, 1, 1, 1)",
        "training": "twenty stages, 256 px crops, PSNR loss (PSNR + 5 x (1 - SSIM) in `accum-ssim`), AdamW, EMA 0.999 (0.99 in `accum-ft`, `accum-ft3` and `accum-ssim`). On this project's 2-core CPU, batch 4: "
        "`nafnet-real`, 5000 steps from scratch at lr 8e-4 (200 warm-up, cosine), `nafnet-real-ft`, a warm restart "
        "of 2000 steps at lr 2e-4, both on the real mix; `nafnet-cross`, 2400 steps at lr 2e-4 (100 warm-up, "
        "cosine) on the cross-kind mix with bf16 autocast and channels-last, best by the mean gain over the "
        "validation suite; `cap-small`, 1132 steps of a 1600-step cosine at lr 1e-4 (50 warm-up) on the same "
        "mix, stopped by `--time-limit 110m` on one thread beside its `cap-deep` twin (issue 18's capacity "
        "comparison), its EMA weights at the stop (the previous default). On one NVIDIA H200 (bf16 autocast, "
        "channels-last): `gpu-ft`, cap-small fine-tuned at batch 64, lr 2e-4 (100 warm-up, 1500-step cosine) on "
        "`gpu_pack.py`'s 664-pair sample of the mix (51% camera shake, JPEG q90), stopped by `--time-limit` at "
        "step 557 (6.3 minutes, sharing the GPU with four other runs), its EMA weights. Then `soup`: cap-small and "
        "gpu-ft averaged 0.65 : 0.35 (a model soup, Wortsman et al. 2022; gpu-ft alone gains on camera shake but "
        "loses 0.09-0.26 dB on REDS and GoPro-style blur; of the shares 0.35, 0.5 and 0.7 scored on the validation "
        "suite, 0.35 is the one that gains on every kind). Last, on the CPU again (bf16 autocast, channels-last, 2 "
        "threads, `nice -n 19`): `smooth-ft`, the soup fine-tuned for 2800 steps at lr 1e-4 (50 warm-up, "
        "cosine) on the cross-kind mix with its camera-shake share redrawn on smooth paths, 66.7 minutes, then "
        "`smooth-restart`, a warm restart of it on the same mix: 3800 steps at lr 1e-4 (50 warm-up, cosine, a "
        "new seed), 100 minutes (a 95-minute `--time-limit` leg that stopped at step 3621, shared with other work, "
        "and a 5-minute `--resume`), and `smooth-restart2`, a warm restart of that on the same mix: 6000 steps at "
        "lr 1e-4 (50 warm-up, cosine, seed 18), 142 minutes in four resumed legs over two sessions (stopped by "
        "`--time-limit` at 2281, by `kill` at 2750 to rebuild the camera-shake validation set, and after 35 steps "
        "run on a 4500-step schedule by mistake, at 2785), its EMA weights at the end. On one NVIDIA H200 again "
        "(bf16 autocast, channels-last): `gpu-kit`, smooth-restart2 trained at batch 64, lr 2e-4 (100 warm-up, "
        "2800-step cosine) on the mix rebuilt on the GPU machine (`gpu_kit.py`, `gpu_job.sh`: 3,816 camera-shake "
        "pairs drawn there), 2800 steps in 8.5 minutes (a 385-second `--time-limit` leg and a `--resume`), fp16 "
        "exports of its EMA weights every 500 steps; `gpu-soup`, smooth-restart2 and gpu-kit's step 2000 averaged "
        "0.5 : 0.5 (gpu-kit alone loses 0.02-0.06 dB on REDS). Then on the CPU (bf16 autocast, 2 threads, `nice -n "
        "19`): `gpu-soup-ft`, gpu-soup fine-tuned for {steps} steps at lr 1e-4 (50 warm-up, cosine, seed 21) on "
        "the smooth-path cross-kind mix, 44 minutes (it gained REDS and GoPro-style and gave back camera shake); "
        "last, `gpu-soup2`, gpu-soup-ft and gpu-kit's step 2800 averaged 0.5 : 0.5, better on the validation suite "
        "than either alone and than every other soup scored (README); last, on the CPU (2 threads, `nice -n 19`, "
        "bf16 autocast, `--compile`), `accum-ft`: gpu-soup2 fine-tuned at an effective batch of 64 (batch 4, "
        "`--accum 16`) at lr 2e-4 (20 warm-up, 600-step cosine, EMA 0.99, seed 27) on the cross-kind mix with its "
        "camera shake drawn with centred kernels (`TRAINDATA/centred`), 600 steps in 87 minutes, its best checkpoint by the "
        "mean gain over the validation suite (step 400, reached at 55 minutes; steps 500 and 600 read +1.405 and "
        "+1.411 against +1.421). On one NVIDIA H200 again (bf16 autocast, channels-last): `gpu-centre`, accum-ft's "
        "best trained at batch 64, lr 2e-4 (100 warm-up, 2300-step cosine, EMA 0.999, seed 43) on the kit's mix with "
        "its 3,816 camera-shake pairs drawn there with centred kernels (`OFFSET=centre`), stopped by `--time-limit "
        "380s` at step 2247 (5.9 steps/s), fp16 exports of its EMA weights every 575 steps; `gpu-centre-soup`, "
        "accum-ft's best and gpu-centre's step 2247 averaged 0.5 : 0.5. Then on the CPU (2 threads, `nice -n 19`, "
        "bf16 autocast, `--compile`): `accum-ft3`, that soup fine-tuned as accum-ft was (batch 4 x `--accum 16`, "
        "lr 2e-4, 20 warm-up, 500-step cosine, EMA 0.99, seed 31) on the centred mix, step 400 at 70 minutes; "
        "`accum-soup3`: accum-ft's best, accum-ft3's step 400 and gpu-centre's step 2247 averaged 0.45 : 0.45 : 0.1; "
        "`accum-ssim`: accum-soup3 fine-tuned as accum-ft3 was, with the loss PSNR + 5 x (1 - SSIM) (seed 41), "
        "step 200 at 34 minutes (500 steps in 84 minutes); last, `ssim-soup`: accum-soup3, accum-ssim's step 200 "
        "and gpu-centre-soup averaged 0.34 : 0.33 : 0.33 (README). Sessions that lost the runs "
        "folder started a stage from "
        "the previous stage's shipped fp16 file, which the recipe names `runs/STAGE/best.safetensors` (gpu-ft "
        "started from cap-small's fp16 file and came back as an fp16 export)",
        "data": CROSS_MIX + "; `gpu-ft` on `gpu_pack.py`'s 664-pair sample of it; `smooth-ft` on the same mix with "
        "its four camera-shake folders (4,724 pairs) drawn again on `--trajectory smooth` paths with new seeds "
        "(`TRAINDATA/smooth`, built by the same `cross_kind_data.sh`), and `smooth-restart`, `smooth-restart2` and "
        "`gpu-soup-ft` on that mix again; `accum-ft` on it with the four folders drawn again with centred kernels "
        "(`TRAINDATA/centred`, `cross_kind_data.sh PART=centred`), and `accum-ft3` and `accum-ssim` on that mix again; `gpu-kit` on the same sources rebuilt on the GPU machine (`gpu_kit.py`: "
        "8,450 samples, 45% camera shake drawn there on smooth paths from 130 BSDS500 train/val photos and crops "
        "of Urban100, the GoPro test frames and the photos, 31% GoPro-style, 20% REDS, 4% handheld, the real pairs "
        "as JPEG q90), and `gpu-centre` on the same kit with its camera shake drawn there with centred kernels",
        "holdout": "none of the suite is in the cross-kind mix its last eighteen stages trained on, but its first two "
        "stages (`nafnet-real`, `nafnet-real-ft`, on `shipped_data.sh`'s real mix) trained on both GoPro-style sets "
        "(GOPR0374 x8, the 0372 crops) and on camera shake drawn with all eight of Levin's kernels, so only the REDS "
        "clip and the camera-shake set's photos are unseen by the weights' whole history. Since 2026-11-27 (second "
        "session) the camera-shake set's kernels are centred by their centre of mass (stored as measured, Levin's "
        "k6 shifted its photos 4 px against their sharp originals): the same photos, kernels and noise, input "
        "21.76 -> 22.69 dB",
        "stage": "ssim-soup",  # the last one: ship.py reads its last.safetensors (a soup has no best)
        "checkpoint": "last",
        "picture": True,
    },
    "uptimus-default": {
        "title": "`uptimus-default` (the study's model)",
        "intro": "`deblurcli folder DIR -m uptimus` uses it. It is the origin study's configuration, "
        "fine-tuned from the study's own checkpoint (`Uptimus.pth`, which scores 23.33 dB / 0.6884 on "
        "the validation clip, below the blurry input). It was trained on the earlier real mix only and "
        "scored on the same validation suite as the default (`TRAINDATA/val`, built by `cross_kind_data.sh`): it gains less than the default on every "
        "kind (the two cards' tables), takes about three times as long per frame on a CPU (1.23 s per megapixel "
        "against the default's 0.41 in one `deblurcli eval -m nafnet,uptimus` run on the REDS clip, nothing else "
        "running, 2026-11-27), and makes the GoPro "
        "clip GOPR0374 slightly worse.",
        "architecture": "Uptimus, a Uformer-style U-shaped transformer (Wang et al. 2022): base width 24, "
        "LeWin blocks (8x8 window attention with 2 heads, a depthwise-convolution feed-forward) "
        "at three scales (two 2x downsamples)",
        "training": "fine-tuned from the study's checkpoint (converted with `deblurcli convert`): {steps} steps, "
        "batch 4 x 256 px crops, Charbonnier loss, AdamW lr 2e-4, 100 warm-up steps, cosine decay, "
        "EMA 0.999",
        "data": REAL_MIX,
        "holdout": "its real mix includes both GoPro-style sets (GOPR0374 x8, the 0372 crops) and camera shake "
        "drawn with all eight of Levin's kernels, so only the REDS clip and the camera-shake set's photos are unseen. "
        "Scored before the camera-shake set's kernels were centred: on the centred set camera shake reads +0.26 dB "
        '(README, "The camera-shake set, centred")',
        "stage": "uptimus",
    },
    "resunet-small": {
        "title": "`resunet-small` (the study's ResUNet)",
        "intro": '`deblurcli folder DIR -m resunet` uses it. It is the study run\'s ResUNet (README, "The study"): '
        "trained from scratch for 34 s on one H200, it deblurs every kind a little and is the fastest model on a "
        "CPU, but far behind the default; it ships so that `deblurcli eval -m all` compares the study's "
        "architectures on your own pairs.",
        "architecture": "a U-Net of double 3x3 convolutions (BatchNorm, ReLU) with a global residual, from "
        "scratch (Ronneberger et al. 2015), variant `small`: width 16, four levels",
        "training": "the study's budget: {steps} steps of batch 32 x 256 px crops (32,000 crops) from scratch, "
        "MAE + SSIM loss, AdamW lr 1e-3, 100 warm-up steps, cosine decay, EMA 0.999, bf16 autocast on one "
        "NVIDIA H200 (34 s)",
        "data": "`gpu_pack.py`'s 549-pair sample of the cross-kind mix (JPEG q95 4:4:4 crops: 225 camera-shake pairs "
        "through the camera model, 168 GoPro-style, 120 REDS, 36 handheld 60 fps)",
        "holdout": "its sample of the cross-kind mix holds none of the suite. Scored before the camera-shake set's "
        'kernels were centred: on the centred set camera shake reads +0.30 dB (README, "The camera-shake set, '
        'centred")',
        "stage": "study/resunet",
    },
}


def render(name: str, card: dict[str, Any], size_mb: float) -> str:
    about = ABOUT[name]
    suite = card.get("validation_suite")
    out = [
        f"## Shipped model: {about['title']}",
        "",
        f"`deblurcli/weights/{name}.safetensors`, fp16, {size_mb:.1f} MB, with its numbers in the file's "
        f"metadata and in `{name}.json` beside it. {about['intro']}",
        "",
        "| | |",
        "|---|---|",
        f"| architecture | {about['architecture']} |",
        f"| parameters | {card['parameters']:,} |",
        f"| GMACs per megapixel | {card['gmacs_per_mp']:.2f} |",
        *(_suite_facts(card, about) if suite else _clip_facts(card)),
        f"| training | {about['training'].format(steps=card['steps'])} |",
        f"| training data | {about['data']} |",
        "",
        "Exact commands (the data, the training stages, then `ship.py`, which scores the fp16 file through "
        "the `folder` pipeline and writes the card):",
        "",
        *[f"    {c}" for c in _commands(name, card)],
        "",
    ]
    if suite:
        out += [
            "Every validation set (one per blur kind; what training saw of them is in the card above), input -> "
            "output (PSNR dB / SSIM):",
            "",
            "| kind | pairs | input | output | gain dB | target dB |",
            "|---|---|---|---|---|---|",
        ]
        targets = card["bar"]["targets"]
        out += [
            f"| {k} | {v['pairs']} | {v['input_psnr']:.2f} / {v['input_ssim']:.4f} | {v['psnr']:.2f} / "
            f"{v['ssim']:.4f} | {v['psnr'] - v['input_psnr']:+.2f} | +{targets[k]:.1f} |"
            for k, v in suite.items()
        ]
        out.append("")
    out += [
        "Every real set in `../shared/data/pairs`, input -> output (PSNR dB / SSIM), through the shipped file:",
        "",
        "| set | pairs | input | output | gain dB |",
        "|---|---|---|---|---|",
    ]
    out += [
        f"| `{k}` | {s['pairs']} | {s['input_psnr']:.2f} / {s['input_ssim']:.4f} | {s['psnr']:.2f} / "
        f"{s['ssim']:.4f} | {s['psnr'] - s['input_psnr']:+.2f} |"
        for k, s in card["sets"].items()
    ]
    if about.get("picture"):
        out += [
            "",
            "![before and after](examples/before_after.png)",
            "",
            "*Before (left), the shipped default model, and the sharp frame (right), on the three example "
            "crops of the held-out clip, drawn by `bash trainers/recipes/before_after.sh`.*",
        ]
    return "\n".join(out)


def _commands(name: str, card: dict[str, Any]) -> list[str]:
    about, b = ABOUT[name], card["bar"]
    commands = [c.strip() for c in card["training_command"].split("&&")]
    if "validation_suite" in card:
        vals = " ".join(f"--val {v}" for v in card["validation_folders"])
        targets = " ".join(f"--target {k}={t:g}" for k, t in b["targets"].items())
        extra = "" if b["passed"] else " --force"
        commands.append(
            SUITE_SHIP.format(
                stage=about["stage"],
                checkpoint=about.get("checkpoint", "best"),
                vals=vals,
                targets=targets,
                name=name,
                extra=extra,
                command=card["training_command"],
            )
        )
        return commands
    extra = f" --min-gain {b['min_gain_db']:g}" if b["min_gain_db"] != 1.0 else ""
    extra += "" if b["passed"] else " --force"
    commands.append(SHIP.format(stage=about["stage"], name=name, extra=extra, command=card["training_command"]))
    return commands


def _speed(v: dict[str, Any], engine: dict[str, Any] | None) -> str:
    how = (
        f"{engine['name']} {engine['precision']}, {engine['tiling']}, {_passes(engine)}"
        if engine
        else "PyTorch fp32 compute, default tiles"
    )
    return (
        f"| seconds per 1280x720 frame | {v['seconds_per_mp'] * FRAME_MP:.2f} (this project's 2-core CPU, "
        f"{how}; {v['seconds_per_mp']:.2f} s/MP while scoring the REDS clip) |"
    )


def _passes(engine: dict[str, Any]) -> str:
    """How many passes of the model the scores took: cards scored before the default self-ensemble have no key."""
    n = int(engine.get("ensemble", 1))
    over = {2: "the input and its mirror image", 4: "the input's four turns", 8: "the input's turns and mirrors"}
    return f"the mean over {over[n]}, `--ensemble {n}`" if n > 1 else "one pass, `--ensemble 1`"


def _kernels(names: list[str]) -> str:
    """['levin09_k1', 'levin09_k2'] -> "Levin et al.'s measured kernels k1, k2"."""
    levin = [n.split("_")[-1] for n in names if n.startswith("levin09_")]
    if not names or len(levin) != len(names):
        return "measured kernels" + (f" ({', '.join(names)})" if names else "")
    return f"Levin et al.'s measured kernels {', '.join(levin)}"


def _suite_facts(card: dict[str, Any], about: dict[str, Any]) -> list[str]:
    suite, b = card["validation_suite"], card["bar"]
    gains = ", ".join(f"{k} {v['psnr'] - v['input_psnr']:+.2f} dB" for k, v in suite.items())
    verdict = (
        "meets every target"
        if b["passed"]
        else (
            "**misses the bar**: "
            + "; ".join(b["misses"] + [f"`{w}` worse than its input" for w in b["worse_sets"]])
            + "; shipped with `--force`, recorded as `bar_passed=false` in its metadata"
        )
    )
    return [
        _speed(card["validation"], card.get("engine")),
        f"| validation suite | {', '.join(f'`{k}`' for k in suite)}: one set per blur kind (the REDS clip, GoPro-style "
        f"averages and crops, camera shake on BSDS500's test split with "
        f"{_kernels(suite.get('shake', {}).get('kernels', []))}); {about['holdout']} |",
        f"| validation gains | {gains}: {verdict} |",
    ]


def _clip_facts(card: dict[str, Any]) -> list[str]:
    v, b = card["validation"], card["bar"]
    gain = v["psnr"] - v["input_psnr"]
    if b["passed"]:
        verdict = (
            f"meets the default model's bar of +{b['min_gain_db']:.1f} dB"
            if b["min_gain_db"] >= 1.0
            else "better than the input on the clip, and no real set made worse"
        )
    else:
        why = [f"gains less than +{b['min_gain_db']:.1f} dB"] if gain < b["min_gain_db"] else []
        if v["ssim"] <= v["input_ssim"]:
            why.append("does not raise SSIM")
        if b["worse_sets"]:
            why.append("makes " + ", ".join(f"`{w}`" for w in b["worse_sets"]) + " worse (see the table below)")
        verdict = (
            f"**misses the bar**: it {' and '.join(why)}; shipped with `--force`, recorded as "
            "`bar_passed=false` in its metadata"
        )
    return [
        _speed(v, None),
        f"| validation clip | `{Path(card['validation_clip']).name}` ({v['pairs']} real 720p REDS frames, held "
        "out of training, and its 4x-downscaled copy too) |",
        f"| validation PSNR / SSIM | input {v['input_psnr']:.2f} dB / {v['input_ssim']:.4f} -> output "
        f"**{v['psnr']:.2f} dB / {v['ssim']:.4f}** ({gain:+.3f} dB): {verdict} |",
    ]


def status(card: dict[str, Any]) -> str:
    """The status paragraph's sentence on the default model: each kind's PSNR through the default pipeline, the
    targets met and missed, and the range of gains on the real sets."""
    suite, b = card["validation_suite"], card["bar"]
    what = {
        "reds": "real REDS motion blur",
        "gopro": "GoPro-style averages and crops",
        "shake": "camera shake with measured kernels",
    }
    kinds = ", ".join(
        f"{what.get(k, k)} {v['input_psnr']:.2f} -> {v['psnr']:.2f} dB ({v['psnr'] - v['input_psnr']:+.2f})"
        for k, v in suite.items()
    )
    ssim_up = all(v["ssim"] > v["input_ssim"] for v in suite.values())
    gains = [s["psnr"] - s["input_psnr"] for s in card["sets"].values()]
    real = (
        f"every real set in the development data better than its input ({min(gains):+.2f} to {max(gains):+.2f} dB)"
        if min(gains) > 0
        else f"{sum(g <= 0 for g in gains)} of {len(gains)} real sets in the development data not better than "
        f"their input (worst {min(gains):+.2f} dB)"
    )
    short = {"reds": "REDS", "gopro": "GoPro-style", "shake": "camera shake"}
    met = [short.get(k, k) for k, t in b["targets"].items() if b["gains"][k] >= t]
    missed = [short.get(k, k) for k, t in b["targets"].items() if b["gains"][k] < t]
    targets = ", ".join(f"{short.get(k, k)} +{t:g}" for k, t in b["targets"].items())
    verdict = "all met" if not missed else f"met on {' and '.join(met) or 'none'}, missed on {' and '.join(missed)}"
    return (
        "It is measured on one validation set per kind of blur, through exactly what `deblurcli folder` runs by "
        f"default ({_passes(card.get('engine') or {})}): {kinds}, SSIM {'up on each' if ssim_up else 'not up on each'}, and {real}. Issue 18's targets "
        f"({targets} dB): {verdict}."
    )


def blocks(text: str, tag: str = "card") -> dict[str, re.Match]:
    return {m.group(1): m for m in re.finditer(rf"<!-- {tag}: (\S+) -->\n(.*?)\n<!-- /{tag}: \1 -->", text, re.S)}


def expected() -> dict[tuple[str, str], str]:
    """(tag, name) -> the block's text: every shipped model's card, and the default model's status sentence."""
    cards = {}
    for js in sorted(WEIGHTS.glob("*.json")):
        name, card = js.stem, json.loads(js.read_text())
        size = js.with_suffix(".safetensors").stat().st_size / 1e6
        cards["card", name] = render(name, card, size)
        if name == DEFAULT:
            cards["status", name] = status(card)
    return cards


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only report blocks that differ")
    args = ap.parse_args()
    text = README.read_text()
    want = expected()
    have = {(tag, n): m for tag in ("card", "status") for n, m in blocks(text, tag).items()}
    missing = sorted(set(want) - set(have))
    if missing:
        tag, n = missing[0]
        sys.exit(f"README.md has no block <!-- {tag}: {n} --> ... <!-- /{tag}: {n} -->")
    stale = [k for k in want if have[k].group(2) != want[k]]
    names = ", ".join(f"{tag} {n}" for tag, n in stale)
    if args.check:
        if stale:
            sys.exit(f"README model cards out of date: {names} (run {Path(__file__).name})")
        return
    for tag, n in stale:
        m = blocks(text, tag)[n]
        text = text[: m.start(2)] + want[tag, n] + text[m.end(2) :]
    README.write_text(text)
    print(f"rewrote {len(stale)} block(s): {names or 'none'}")


if __name__ == "__main__":
    main()
