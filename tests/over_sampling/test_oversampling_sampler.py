"""GANOverSampler: counts, row order, layouts and dtypes, cloning, imblearn Pipeline, quality gate.

The tests of the sampling mechanics pass ``validation_fraction=0`` (no hold-back, no gate:
the behaviour before the gate existed, pinned value for value); the gate's own tests are at
the end.
"""

from __future__ import annotations

import numpy as np
import pytest

from synthaug.exceptions import ConfigError, InvalidDataError
from synthaug.generators import ConditionalGAN
from synthaug.over_sampling import GANOverSampler


def tiny_gan(**kw):
    return ConditionalGAN(**{"epochs": 1, "width": 8, "latent_dim": 8, "batch_size": 16,
                             "random_state": 0, "device": "cpu", **kw})


@pytest.fixture(scope="module")
def imbalanced():
    from synthaug.data.toy import make_toy_images

    ds = make_toy_images([12, 4, 8], n_classes=3, image_size=8, random_state=0)
    return ds.images, ds.labels  # (24, 1, 8, 8), counts 12 / 4 / 8


def test_auto_balances_and_keeps_real_rows_first(imbalanced):
    X, y = imbalanced
    sampler = GANOverSampler(validation_fraction=0, generator=tiny_gan(), random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    assert sampler.sampling_strategy_ == {0: 0, 1: 8, 2: 4}
    assert X_res.shape == (36, 1, 8, 8) and X_res.dtype == np.float32
    np.testing.assert_array_equal(X_res[:24], X)
    np.testing.assert_array_equal(y_res[:24], y)
    np.testing.assert_array_equal(y_res[24:], [1] * 8 + [2] * 4)
    assert np.bincount(y_res).tolist() == [12, 12, 12]
    assert X_res.min() >= 0 and X_res.max() <= 1
    assert y_res.dtype == y.dtype


def test_dict_strategy_and_determinism(imbalanced):
    X, y = imbalanced
    make = lambda: GANOverSampler(validation_fraction=0, generator=tiny_gan(), sampling_strategy={1: 6}, random_state=3)  # noqa: E731
    X1, y1 = make().fit_resample(X, y)
    X2, y2 = make().fit_resample(X, y)
    assert len(y1) == 26 and y1[24:].tolist() == [1, 1]
    np.testing.assert_array_equal(X1, X2)


def test_generator_is_cloned_not_mutated(imbalanced):
    X, y = imbalanced
    gan = tiny_gan()
    sampler = GANOverSampler(validation_fraction=0, generator=gan, random_state=0)
    sampler.fit_resample(X, y)
    assert not hasattr(gan, "generators_")
    assert sampler.generator_ is not gan
    assert sampler.generator_.get_params() == gan.get_params()
    assert hasattr(sampler.generator_, "generators_")


def test_default_generator_is_chosen_from_the_data_and_uses_random_state(imbalanced, monkeypatch):
    from synthaug.generators import ConditionalDiffusion

    X, y = imbalanced  # 24 images of 8 x 8: the diffusion model's budget fits -> ddpm
    seen = {}
    real_fit = ConditionalDiffusion.fit

    def fit(self, X, y, **kw):  # keep the default test fast: record params, train 1 tiny epoch
        seen.update(self.get_params())
        self.set_params(epochs=1, width=8)
        return real_fit(self, X, y, **kw)

    monkeypatch.setattr(ConditionalDiffusion, "fit", fit)
    sampler = GANOverSampler(validation_fraction=0, random_state=11, sampling_strategy="minority")
    sampler.fit_resample(X, y)
    assert seen["random_state"] == 11 and isinstance(sampler.generator_, ConditionalDiffusion)
    # BreastMNIST-sized data (546 images of 28 x 28): the diffusion budget is capped -> the GAN.
    big = sampler._default_generator(np.zeros((546, 1, 28, 28), np.float32), np.repeat([0, 1], 273))
    assert isinstance(big, ConditionalGAN) and big.random_state == 11 and big.model == "dcgan"
    # select="critic" needs a discriminator: always the GAN.
    critic = GANOverSampler(select="critic", random_state=3)._default_generator(X, y)
    assert isinstance(critic, ConditionalGAN)


@pytest.mark.parametrize("layout", ["nchw", "nhw", "flat"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
def test_layouts_and_dtypes_round_trip(imbalanced, layout, dtype):
    X, y = imbalanced
    if dtype == np.uint8:
        Xin = np.rint(X * 255).astype(np.uint8)
    else:
        Xin = X.astype(dtype)
    Xin = {"nchw": Xin, "nhw": Xin[:, 0], "flat": Xin.reshape(len(Xin), -1)}[layout]
    X_res, y_res = GANOverSampler(validation_fraction=0, generator=tiny_gan(), sampling_strategy="minority").fit_resample(Xin, y)
    assert X_res.dtype == Xin.dtype
    assert X_res.shape == (len(Xin) + 8, *Xin.shape[1:])
    np.testing.assert_array_equal(X_res[: len(Xin)], Xin)
    if dtype == np.uint8:
        assert X_res[len(Xin):].max() <= 255
    else:
        assert 0 <= X_res.min() and X_res.max() <= 1


def test_flat_rgb_needs_image_shape(imbalanced):
    X, y = imbalanced
    rgb = np.repeat(X, 3, axis=1)  # (24, 3, 8, 8)
    flat = rgb.reshape(len(rgb), -1)  # 192 features: not a square
    with pytest.raises(ConfigError, match="192 features, which is not a square grayscale image"):
        GANOverSampler(validation_fraction=0, generator=tiny_gan()).fit_resample(flat, y)
    with pytest.raises(ConfigError, match=r"image_shape=\(3, 4, 4\) does not fit X's 192 features"):
        GANOverSampler(validation_fraction=0, generator=tiny_gan(), image_shape=(3, 4, 4)).fit_resample(flat, y)
    X_res, _ = GANOverSampler(validation_fraction=0, generator=tiny_gan(), image_shape=(3, 8, 8),
                              sampling_strategy={1: 5}).fit_resample(flat, y)
    assert X_res.shape == (25, 192)


def test_bad_inputs(imbalanced):
    X, y = imbalanced
    with pytest.raises(InvalidDataError, match="X has dtype int64; expected float values in"):
        GANOverSampler(validation_fraction=0, ).fit_resample(X.astype(np.int64), y)
    with pytest.raises(InvalidDataError, match="y has shape"):
        GANOverSampler(validation_fraction=0, ).fit_resample(X, y[:-1])
    with pytest.raises(ConfigError, match="generator must be a ConditionalGAN, a ConditionalDiffusion or None, got str"):
        GANOverSampler(validation_fraction=0, generator="dcgan").fit_resample(X, y)
    with pytest.raises(ConfigError, match=r"copy_guard must be a number in \[0, inf\], got -1"):
        GANOverSampler(validation_fraction=0, copy_guard=-1).fit_resample(X, y)


def test_nothing_to_add_returns_copy(imbalanced):
    X, y = imbalanced
    sampler = GANOverSampler(validation_fraction=0, generator=tiny_gan(), sampling_strategy={0: 12})
    X_res, y_res = sampler.fit_resample(X, y)
    assert sampler.generator_ is None
    np.testing.assert_array_equal(X_res, X)
    assert X_res is not X


def test_fit_resolves_strategy_without_training(imbalanced):
    X, y = imbalanced
    sampler = GANOverSampler(validation_fraction=0, generator=tiny_gan()).fit(X, y)
    assert sampler.sampling_strategy_ == {0: 0, 1: 8, 2: 4}
    assert not hasattr(sampler, "generator_")


def test_in_imblearn_pipeline(imbalanced):
    pipeline = pytest.importorskip("imblearn.pipeline")
    from sklearn.linear_model import LogisticRegression

    X, y = imbalanced
    flat = X.reshape(len(X), -1)
    pipe = pipeline.Pipeline([
        ("gan", GANOverSampler(validation_fraction=0, generator=tiny_gan(), random_state=0)),
        ("clf", LogisticRegression(max_iter=500)),
    ])
    pipe.fit(flat, y)
    pred = pipe.predict(flat)
    assert pred.shape == y.shape
    assert (pred == y).mean() > 0.9  # the toy classes are separable
    assert pipe.named_steps["gan"].sampling_strategy_ == {0: 0, 1: 8, 2: 4}


def test_synthetic_rows_are_draw_synthetic_rows(imbalanced):
    from synthaug.over_sampling import draw_synthetic

    X, y = imbalanced
    sampler = GANOverSampler(validation_fraction=0, generator=tiny_gan(), random_state=4, select=None)
    X_res, y_res = sampler.fit_resample(X, y)
    X_syn, y_syn = draw_synthetic(sampler.generator_, sampler.sampling_strategy_, 4)
    np.testing.assert_array_equal(X_res[len(X):], X_syn)
    np.testing.assert_array_equal(y_res[len(X):], y_syn)


def test_selected_rows_come_from_the_pool_and_match_draw_selected(imbalanced):
    """With a selection method (the default), the rows are the selection's pick of a pool."""
    from synthaug.over_sampling import draw_selected, draw_synthetic, pool_size

    X, y = imbalanced
    sampler = GANOverSampler(validation_fraction=0, generator=tiny_gan(), random_state=4)
    assert sampler.select == "coverage"
    X_res, y_res = sampler.fit_resample(X, y)
    images = X.reshape(len(X), 1, 8, 8) if X.ndim == 2 else X
    X_sel, y_sel = draw_selected(sampler.generator_, sampler.sampling_strategy_, 4, select="coverage",
                                 real_X=images, real_y=y)
    np.testing.assert_array_equal(X_res[len(X):].reshape(X_sel.shape), X_sel)
    np.testing.assert_array_equal(y_res[len(X):], y_sel)
    pool_X, _ = draw_synthetic(sampler.generator_, pool_size(sampler.sampling_strategy_), 4)
    pool = {row.tobytes() for row in pool_X}
    assert all(row.tobytes() in pool for row in X_sel)


def test_fit_params_reach_the_generator(imbalanced, tmp_path):
    X, y = imbalanced
    with pytest.raises(ConfigError, match="resume=True but there is no checkpoint"):
        GANOverSampler(validation_fraction=0, generator=tiny_gan(checkpoint_dir=tmp_path)).fit_resample(X, y, resume=True)
    ref = GANOverSampler(validation_fraction=0, generator=tiny_gan(epochs=2), random_state=0).fit_resample(X, y)
    GANOverSampler(validation_fraction=0, generator=tiny_gan(checkpoint_dir=tmp_path, epochs=1), random_state=0).fit_resample(X, y)
    resumed = GANOverSampler(validation_fraction=0, generator=tiny_gan(checkpoint_dir=tmp_path, epochs=2),
                             random_state=0).fit_resample(X, y, resume=True)
    np.testing.assert_array_equal(ref[0], resumed[0])


# ----------------------------------------------------------------------------- quality gate
def test_untrained_generator_fails_the_gate_and_raises(imbalanced):
    from synthaug.exceptions import LowQualityError

    X, y = imbalanced
    sampler = GANOverSampler(generator=tiny_gan(), random_state=0)
    with pytest.raises(LowQualityError, match="failed the quality gate: TRTS .* Train longer"):
        sampler.fit_resample(X, y)
    assert sampler.quality_.passed is False and sampler.generator_ is not None


def test_gate_holds_back_rows_and_returns_every_real_row(imbalanced, monkeypatch, caplog):
    X, y = imbalanced
    seen = []
    real_fit = ConditionalGAN.fit

    def fit(self, X_fit, y_fit, **kw):
        seen.append(X_fit.copy())
        return real_fit(self, X_fit, y_fit, **kw)

    monkeypatch.setattr(ConditionalGAN, "fit", fit)
    from synthaug.over_sampling import gan_sampler

    references, real_draw = [], gan_sampler.draw_selected

    def draw_selected(generator, counts, random_state, **kw):
        references.append((kw["real_X"], kw["real_y"]))
        return real_draw(generator, counts, random_state, **kw)

    monkeypatch.setattr(gan_sampler, "draw_selected", draw_selected)
    sampler = GANOverSampler(generator=tiny_gan(), random_state=0, on_low_quality="warn")
    with caplog.at_level("WARNING"):
        X_res, y_res = sampler.fit_resample(X, y)
    assert "failed the quality gate" in caplog.text
    fit_idx, held_idx = sampler.fit_idx_, sampler.held_idx_
    assert np.bincount(y[held_idx]).tolist() == [2, 1, 1]  # floor(0.2 * n), at least 1 per class
    assert sorted([*fit_idx, *held_idx]) == list(range(len(y)))
    np.testing.assert_array_equal(seen[0], X[fit_idx])  # the generator never saw a held row
    # ... but once the gate has judged, selection covers every real row the output holds
    np.testing.assert_array_equal(references[0][0], X)
    np.testing.assert_array_equal(references[0][1], y)
    np.testing.assert_array_equal(X_res[:len(X)], X)  # held rows are returned too, unchanged
    assert np.bincount(y_res).tolist() == [12, 12, 12]
    assert sampler.quality_.metrics["n_held"] == 4


def test_validation_data_replaces_the_hold_back(imbalanced):
    from synthaug.data.toy import make_toy_images

    X, y = imbalanced
    val = make_toy_images(4, n_classes=3, image_size=8, random_state=9)
    sampler = GANOverSampler(generator=tiny_gan(), random_state=0, on_low_quality="ignore")
    sampler.fit_resample(X, y, validation_data=(val.images, val.labels))
    assert len(sampler.held_idx_) == 0 and len(sampler.fit_idx_) == len(y)
    assert sampler.quality_.metrics["n_held"] == 12


def test_gate_options_are_checked(imbalanced):
    X, y = imbalanced
    with pytest.raises(ConfigError, match="on_low_quality='maybe' is not supported"):
        GANOverSampler(on_low_quality="maybe").fit_resample(X, y)
    with pytest.raises(ConfigError, match="validation_fraction"):
        GANOverSampler(validation_fraction=1.0).fit_resample(X, y)
