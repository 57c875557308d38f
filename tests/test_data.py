"""trainers.data: layouts, bad pairs, sequence splits, aligned augmentation, resumable batches."""

import logging
import shutil

import cv2
import numpy as np
import pytest

from trainers.batches import BatchSource
from trainers.data import DataError, PairLoader, augment_pair, find_pairs, iterate_pairs, split_by_group

from .conftest import DATA, SHARED

PATCHES = SHARED / "data" / "pairs" / "gopro_train_patches_0372"


def gopro_tree(tmp_path, groups=("seqA", "seqB", "seqC"), n=3):
    root = tmp_path / "gopro"
    src = sorted((DATA / "reds" / "blur").glob("*.png"))[0]
    for g in groups:
        for kind in ("blur", "sharp"):
            (root / g / kind).mkdir(parents=True)
            for i in range(n):
                shutil.copy(
                    src if kind == "blur" else DATA / "reds" / "sharp" / src.name, root / g / kind / f"{i:04d}.png"
                )
    return root


def test_gopro_layout_and_plain_folders(tmp_path):
    root = gopro_tree(tmp_path)
    pairs = find_pairs(root)
    assert len(pairs) == 9 and {p.group for p in pairs} == {"seqA", "seqB", "seqC"}
    assert all(p.blur.parent.name == "blur" and p.sharp.name == p.blur.name for p in pairs)
    plain = find_pairs(PATCHES)  # blur/ + sharp/ side by side
    assert len(plain) == 30 and {p.group for p in plain} == {PATCHES.name}


def test_blur_gamma_folder(tmp_path):
    root = gopro_tree(tmp_path, groups=("s",), n=2)
    shutil.copytree(root / "s" / "blur", root / "s" / "blur_gamma")
    assert len(find_pairs(root, blur_dir="blur_gamma")) == 2
    assert all(p.blur.parent.name == "blur_gamma" for p in find_pairs(root, blur_dir="blur_gamma"))


def test_study_arrays(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (120, 16, 16, 3), dtype=np.uint8)
    np.save(tmp_path / "X_train.npy", x)
    np.save(tmp_path / "y_train.npy", 255 - x)
    pairs = find_pairs(tmp_path)
    assert len(pairs) == 120 and len({p.group for p in pairs}) == 3  # blocks of 50 rows
    blur, sharp = PairLoader(pairs).load(7)
    assert np.array_equal(blur, x[7]) and np.array_equal(sharp, 255 - x[7])
    np.save(tmp_path / "y_train.npy", x[:, :8])
    with pytest.raises(DataError, match="same shape"):
        find_pairs(tmp_path)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: (d / "blur").mkdir(), "no 'sharp' folder beside it"),
        (lambda d: None, "no 'blur' folder under"),
        (lambda d: ((d / "blur").mkdir(), (d / "sharp").mkdir()), "no blurry/sharp image pairs"),
    ],
)
def test_bad_layouts_say_what_is_wrong(tmp_path, make, message):
    d = tmp_path / "data"
    d.mkdir()
    make(d)
    with pytest.raises(DataError, match=message):
        find_pairs(d)
    with pytest.raises(DataError, match="does not exist"):
        find_pairs(tmp_path / "missing")


def test_bad_pairs_are_reported_once_and_skipped(tmp_path, caplog):
    root = gopro_tree(tmp_path, groups=("s",), n=4)
    (root / "s" / "blur" / "0001.png").write_bytes(b"not a png")
    img = cv2.imread(str(root / "s" / "sharp" / "0002.png"))
    cv2.imwrite(str(root / "s" / "sharp" / "0002.png"), img[:100])
    loader = PairLoader(find_pairs(root))
    with caplog.at_level(logging.WARNING, logger="deblurcli"):
        names = [p.name for p, _, _ in iterate_pairs(loader)]
        names2 = [p.name for p, _, _ in iterate_pairs(loader)]
        batch = BatchSource(loader, 2, 32, None).get(0)
    assert names == names2 == ["s/0000.png", "s/0003.png"]
    skipped = [r.getMessage() for r in caplog.records if "skipping pair" in r.getMessage()]
    assert len(skipped) == 2, skipped  # once each, however often the pair comes round
    assert any("blurry 320x180 but sharp 320x100" in m for m in skipped)
    assert batch[0].shape == (2, 3, 32, 32)


def test_split_keeps_sequences_whole():
    pairs = find_pairs(SHARED / "data" / "pairs" / "reds_small")
    train, val = split_by_group(pairs, 0.3, seed=1)
    assert val and train and len(train) + len(val) == len(pairs)
    assert not {p.group for p in train} & {p.group for p in val}
    assert split_by_group(pairs, 0.3, seed=1) == (train, val)  # deterministic


def test_augmentation_keeps_pairs_aligned():
    sharp = cv2.imread(str(DATA / "reds" / "sharp" / "00000000.png"))[:, :, ::-1].copy()
    blur = (255 - sharp).copy()  # any pixel-wise function of sharp: alignment must keep the relation
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(20):
        b, s = augment_pair(blur, sharp, rng, 96, None)
        assert b.shape == s.shape == (96, 96, 3)
        assert np.array_equal(b, 255 - s)
        seen.add(s.tobytes()[:64])
    assert len(seen) > 10  # the crops really move
    small = sharp[:40, :50]
    b, s = augment_pair(255 - small, small, rng, 64, None)  # smaller than the patch: reflected up
    assert b.shape == (64, 64, 3) and np.array_equal(b, 255 - s)
    b, s = augment_pair(blur, sharp, rng, None, 224)  # the study's protocol: whole frame resized
    assert b.shape == (224, 224, 3)


def test_batches_depend_only_on_seed_and_step():
    loader = PairLoader(find_pairs(PATCHES))
    a = BatchSource(loader, 4, 64, None, seed=3)
    b = BatchSource(PairLoader(find_pairs(PATCHES)), 4, 64, None, seed=3)
    for step in (0, 5, 9, 40):  # 40 is in a later epoch
        assert all(np.array_equal(x, y) for x, y in zip(a.get(step), b.get(step)))
    assert not np.array_equal(a.get(1)[0], a.get(2)[0])
    # two ranks see disjoint shards of each epoch
    r0 = BatchSource(loader, 1, 64, None, seed=3, rank=0, world=2)
    r1 = BatchSource(loader, 1, 64, None, seed=3, rank=1, world=2)
    assert not {r0._index(i) for i in range(15)} & {r1._index(i) for i in range(15)}


def test_prefetched_batches_are_the_same_batches():
    """Batches cut ahead in threads (the GPU path) equal the ones cut on demand, also across a resume's jump."""
    plain = BatchSource(PairLoader(find_pairs(PATCHES)), 4, 64, None, seed=3)
    ahead = BatchSource(PairLoader(find_pairs(PATCHES)), 4, 64, None, seed=3, prefetch=3)
    try:
        for step in [*range(0, 8), 30, 31, 2]:
            assert all(np.array_equal(x, y) for x, y in zip(plain.get(step), ahead.get(step)))
    finally:
        ahead.close()


def test_oversampled_set_is_cached_once():
    # recipes pass a set --data 30 times to weight it; the decoded images must be held once, not 30 times
    once = PairLoader(find_pairs(PATCHES))
    many = PairLoader(find_pairs(PATCHES) * 30)
    assert len(many) == 30 * len(once)
    for i in range(len(once)):
        once.load(i)
    for i in range(len(many)):
        b, s = many.load(i)
        assert np.array_equal(b, once.load(i % len(once))[0])
    assert many.cached == once.cached > 0
