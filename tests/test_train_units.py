"""convert/train numpy parts (no TensorFlow needed): augmentation, targets, weights, age
decoding and the values-table stretch. Run from the repo root: python -m pytest."""
from __future__ import annotations

import numpy as np
import pytest

from convert.train import augment, losses
from convert.metrics import years_report
from convert.train.stretch import choose, cross_fitted, fold_parts, stretched, with_fold_stretches


def faces(n: int = 8, channels: int = 1) -> np.ndarray:
    """Structured test images: a bright disc with a dark bar, different per image."""
    rng = np.random.default_rng(0)
    out = np.zeros((n, 48, 48, channels), np.uint8)
    yy, xx = np.mgrid[:48, :48]
    for i in range(n):
        disc = (yy - 24) ** 2 + (xx - 20 - i) ** 2 < 15 ** 2
        out[i][disc] = 180
        out[i][18:22, 10:30] = 30
        out[i] = np.clip(out[i].astype(int) + rng.integers(0, 20, out[i].shape), 0, 255)
    return out


@pytest.mark.parametrize("channels", [1, 3])
def test_augment_keeps_shape_and_is_seeded(channels):
    x = faces(channels=channels)
    a = augment.augment_batch(x, np.random.default_rng(5), augment.AugmentConfig())
    b = augment.augment_batch(x, np.random.default_rng(5), augment.AugmentConfig())
    c = augment.augment_batch(x, np.random.default_rng(6), augment.AugmentConfig())
    assert a.shape == x.shape and a.dtype == np.uint8
    assert np.array_equal(a, b)                 # same seed, same batch
    assert not np.array_equal(a, c)             # another seed, other changes
    assert not np.array_equal(a, x)


def test_no_augmentation_is_identity():
    x = faces()
    assert np.array_equal(augment.augment_batch(x, np.random.default_rng(1), augment.NONE), x)


def test_flip_only_mirrors():
    x = faces(1)
    cfg = augment.AugmentConfig(flip=True, max_rotation_deg=0, max_scale=0, max_shift=0, brightness=0,
                                contrast=0, blur_prob=0, noise_prob=0, erase_prob=0)
    seen = {augment.augment_batch(x, np.random.default_rng(s), cfg).tobytes() for s in range(20)}
    assert seen == {x.tobytes(), x[:, :, ::-1].tobytes()}


def test_erase_changes_one_rectangle_only():
    img = faces(1)[0]
    out = augment.random_erase(img, np.random.default_rng(3), augment.AugmentConfig(erase_max_area=0.15))
    rows, cols = np.nonzero((out != img).any(axis=2))
    assert 0 < rows.size <= 0.15 * img.shape[0] * img.shape[1]
    region = out[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    assert np.unique(region).size == 1          # one flat grey level


def test_photometric_brightness_moves_the_mean():
    img = np.full((48, 48, 1), 100, np.uint8)
    cfg = augment.AugmentConfig(brightness=0.5, contrast=0.0, blur_prob=0, noise_prob=0)
    means = [augment.photometric(img, np.random.default_rng(s), cfg).mean() for s in range(30)]
    assert min(means) < 80 and max(means) > 120 and all(50 <= m <= 150 for m in means)


def test_smoothed_targets_and_teacher_half():
    labels = np.array([0, 3, 6])
    y = losses.emotion_targets(labels, 7, 0.1, None, 3.0)
    assert y.shape == (3, 14)
    assert np.allclose(y[:, :7].sum(1), 1) and list(y[:, :7].argmax(1)) == [0, 3, 6]
    assert np.isclose(y[0, 0], 0.9 + 0.1 / 7)
    teacher = np.array([[0.7, 0.3, 0, 0, 0, 0, 0]] * 3, np.float32)
    soft = losses.emotion_targets(labels, 7, 0.1, teacher, 3.0)[:, 7:]
    assert np.allclose(soft.sum(1), 1)
    assert 0.5 < soft[0, 0] < 0.7                # a temperature flattens the teacher


@pytest.mark.parametrize("age", [0.0, 1.0, 7.0, 35.0, 80.0, 99.0])
def test_coral_levels_count_the_age(age):
    y = losses.age_targets(np.array([age]), "coral")
    assert y[0, 0] == age and y[0, 1:].sum() == int(np.ceil(age)) == int(age)
    logits = np.where(y[:, 1:] > 0, 20.0, -20.0)          # a perfect CORAL output
    assert abs(losses.decode_age(logits, "coral")[0] - age) < 1e-3


@pytest.mark.parametrize("age", [15.0, 40.5, 72.0])
def test_dldl_distribution_decodes_to_the_age(age):
    y = losses.age_targets(np.array([age]), "dldl", sigma=2.0)
    assert np.isclose(y[0, 1:].sum(), 1)
    assert abs(losses.decode_age(np.log(np.maximum(y[:, 1:], 1e-30)), "dldl")[0] - age) < 0.05


def test_l1_head_scale():
    assert losses.decode_age(np.array([[0.0], [1.0]]), "l1").tolist() == [35.0, 55.0]


def test_unknown_head_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown age head"):
        losses.age_targets(np.array([3.0]), "mse")


def test_class_weights_favour_rare_classes():
    labels = np.array([0] * 90 + [1] * 10)
    w = losses.class_weights(labels, 7, 0.5)
    assert np.isclose(w.mean(), 1) and w[-1] / w[0] == pytest.approx(3.0)
    assert np.allclose(losses.class_weights(labels, 7, 0.0), 1)


def test_age_balance_weights_flatten_and_cap():
    ages = np.array([25] * 500 + [70] * 20 + [3] * 5, np.float32)
    w = losses.age_balance_weights(ages, 1.0, max_ratio=10.0)
    assert np.isclose(w.mean(), 1, atol=1e-5)
    assert w[-1] >= w[500] > w[0]
    assert w.max() / w.min() == pytest.approx(10.0)       # 100x rarer, capped at 10x
    assert np.allclose(losses.age_balance_weights(ages, 0.0), 1)


def test_stretch_undoes_a_linear_pull_to_the_middle():
    """Readings pulled towards 50 (x0.85) and up by a year: the chosen stretch pushes them back
    out and down, and the cross-fitted readings are better in MAE and in every band."""
    rng = np.random.default_rng(1)
    ages = rng.uniform(1, 90, 4000)
    years = 50 + 0.85 * (ages - 50) + 1.0 + rng.normal(0, 4, ages.size)
    before = years_report(years, ages)
    assert before["max_abs_band_bias"] > 5
    scale, shift = choose(years, ages)
    assert 1.08 <= scale <= 1.20 and -2.0 <= shift < 0.0
    crossed, per_half = cross_fitted(years, ages)
    after = years_report(crossed, ages)
    assert len(per_half) == 2 and after["max_abs_band_bias"] < 2.0 and after["mae"] < before["mae"] - 0.5
    # the same halves and stretches, applied to another reading of the same faces (no flip)
    assert np.array_equal(with_fold_stretches(years, per_half), crossed)
    later = with_fold_stretches(years + 3.0, per_half)       # 3 years older: each half by its own scale
    for part, (scale, _) in zip(fold_parts(ages.size), per_half):
        unclipped = crossed[part] > 0
        assert unclipped.mean() > 0.9 and np.allclose((later - crossed)[part][unclipped], 3.0 * scale)


def test_stretching_the_values_table_stretches_the_expectation():
    rng = np.random.default_rng(2)
    p = rng.random((5, 101))
    p /= p.sum(1, keepdims=True)
    values = np.arange(10, 111, dtype=float)       # no value reaches 0: the stretch is linear
    assert np.allclose(p @ stretched(values, 1.07, -0.75), stretched(p @ values, 1.07, -0.75))
    young = stretched(np.arange(0, 5, dtype=float), 1.07, -0.75)
    assert young.min() == 0.0 and young[-1] > 0      # never below 0 years


def test_rebin_and_teacher_mix():
    values = np.array([0.25, 1.0, 2.0, 50.0, 80.0])
    p = np.array([[0.5, 0.1, 0.0, 0.4, 0.0]])
    r = losses.rebin(p, values)
    assert r.shape == (1, len(losses.AGE_VALUES)) and np.isclose(r.sum(), 1)
    assert np.isclose(r[0, 0], 0.5) and np.isclose(r[0, 1], 0.1) and np.isclose(r[0, 50], 0.4)
    y = losses.age_targets(np.array([30.0]), "dldl", 2.0, r, 0.25)
    assert np.isclose(y[0, 1:].sum(), 1) and np.isclose(y[0, 1 + 50], 0.1, atol=1e-3)
    with pytest.raises(ValueError, match="dldl"):
        losses.age_targets(np.array([30.0]), "coral", 2.0, r, 0.25)


def test_mixup_blends_images_targets_and_weights_with_the_same_partner():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(16, 4, 4, 1)).astype(np.float32)
    y = np.eye(16, dtype=np.float32)                 # sample i's target marks i alone
    w = np.arange(1, 17, dtype=np.float32)
    mx, my, mw = augment.mixup(x, y, w, np.random.default_rng(5), alpha=0.4)
    own = my[np.arange(16), np.arange(16)]           # lam of each sample
    assert np.all(own >= 0.5) and np.any(own < 0.99)
    partner = np.where(my.sum(1) > own + 1e-6, (my - np.diag(own)).argmax(1), np.arange(16))
    lam = own.reshape(-1, 1, 1, 1)
    np.testing.assert_allclose(mx, lam * x + (1 - lam) * x[partner], atol=1e-6)
    np.testing.assert_allclose(mw, own * w + (1 - own) * w[partner], rtol=1e-6)
    np.testing.assert_allclose(my.sum(1), 1.0, atol=1e-6)
    assert augment.mixup(x, y, w, rng, 0.0)[0] is x  # off: untouched
