"""Property-based tests: whatever bytes or arrays the loader is given, it either returns a
valid ImageDataset or raises a SynthaugError -- never a raw numpy/PIL/pandas/OS error."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from synthaug.data import ImageDataset, images_to_uint8, load_dataset, load_dataset_with_report
from synthaug.exceptions import InvalidDataError, SynthaugError

SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

DTYPES = st.sampled_from(
    [np.uint8, np.uint16, np.int8, np.int32, np.int64, np.float16, np.float32, np.float64, np.bool_]
)


def _check_valid(ds):
    assert isinstance(ds, ImageDataset)
    assert ds.images.ndim == 4 and ds.images.dtype == np.float32 and ds.n_channels in (1, 3)
    assert np.isfinite(ds.images).all() and ds.images.min() >= 0 and ds.images.max() <= 1
    assert ds.labels.min() >= 0 and ds.labels.max() < ds.n_classes
    assert len(np.unique(ds.labels)) >= 2


def _load_or_synthaug_error(path, **kwargs):
    try:
        ds = load_dataset(path, **kwargs)
    except SynthaugError as exc:
        assert str(exc)  # a message, not an empty error
        return None
    _check_valid(ds)
    return ds


def _elements(dtype):
    """Valid pixel values for ``dtype`` (bad ones are injected separately)."""
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return st.floats(0.0, 1.0, width=dt.itemsize * 8)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return st.integers(max(0, info.min), min(255, info.max))
    return None


@st.composite
def valid_npz(draw):
    """A well-formed npz: plain or MedMNIST layout, uint8 or unit-range float, 2+ classes."""
    n = draw(st.integers(2, 6))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    tail = draw(st.sampled_from([(), (1,), (3,)]))
    dtype = draw(st.sampled_from([np.uint8, np.float32, np.float64, np.int64]))
    images = draw(hnp.arrays(dtype, (n, h, w) + tail, elements=_elements(dtype)))
    labels = (np.arange(n) % 2).astype(draw(st.sampled_from([np.int64, np.uint8, np.float64])))
    labels = labels[draw(st.permutations(range(n)))]
    if draw(st.booleans()):
        labels = labels[:, None]
    layout = draw(st.sampled_from(["plain", "medmnist"]))
    arrays = {"images": images, "labels": labels} if layout == "plain" else {
        "train_images": images, "train_labels": labels}
    if draw(st.booleans()):
        arrays["class_names"] = np.array(draw(st.lists(st.text(max_size=4), min_size=2, max_size=3, unique=True)))
    if layout == "plain" and draw(st.booleans()):
        arrays["is_synthetic"] = draw(hnp.arrays(np.bool_, n))
    return arrays


@st.composite
def fuzzed_npz(draw):
    """Arrays that are often subtly wrong: shapes, dtypes, NaN/inf/out-of-range values,
    label shapes and values, misnamed keys, bad class_names / is_synthetic."""
    n = draw(st.integers(0, 6))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    shape = draw(st.one_of(
        st.just((n, h, w)),
        st.sampled_from([(n, h, w, 1), (n, h, w, 3), (n, h, w, 4)]),
        hnp.array_shapes(min_dims=1, max_dims=5, min_side=0, max_side=3),
    ))
    dtype = draw(DTYPES)
    images = draw(hnp.arrays(dtype, shape, elements=_elements(dtype)))
    poison = draw(st.sampled_from([None, "nan", "inf", "low", "high"]))
    if poison and images.size and images.dtype.kind in "fiu":
        at = draw(st.integers(0, images.size - 1))
        if images.dtype.kind == "f":
            value = {"nan": np.nan, "inf": np.inf, "low": -0.5, "high": 1.5}[poison]
        else:
            info = np.iinfo(images.dtype)
            value = info.min if poison == "low" else info.max
        images.flat[at] = value
    n_img = images.shape[0] if images.ndim else 0
    label_shape = draw(st.one_of(
        st.just((n_img,)), st.just((n_img, 1)), st.just((max(n_img - 1, 0),)),
        hnp.array_shapes(min_dims=0, max_dims=3, max_side=3),
    ))
    labels = draw(st.one_of(
        hnp.arrays(np.int64, label_shape, elements=st.integers(0, 2)),
        hnp.arrays(np.float64, label_shape, elements=st.sampled_from([0.0, 1.0, 0.5, np.nan, -1.0])),
        hnp.arrays(np.int64, label_shape, elements=st.integers(-2, 10**12)),
        hnp.arrays(np.bool_, label_shape),
        hnp.arrays("U2", label_shape),
    ))
    keys = draw(st.sampled_from([("images", "labels"), ("train_images", "train_labels"),
                                 ("imgs", "label"), ("train_images", "val_labels")]))
    arrays = {keys[0]: images, keys[1]: labels}
    class_names = draw(st.one_of(st.none(), st.lists(st.text(max_size=3), max_size=4), st.just([1, 2])))
    if class_names is not None:
        arrays["class_names"] = np.array(class_names)
    is_synthetic = draw(st.one_of(st.none(), hnp.arrays(np.bool_, st.integers(0, 6)), hnp.arrays(np.int8, 3)))
    if is_synthetic is not None:
        arrays["is_synthetic"] = is_synthetic
    return arrays


@SETTINGS
@given(arrays=st.one_of(valid_npz(), fuzzed_npz()), image_size=st.sampled_from([None, None, 3]))
def test_random_npz_contents(tmp_path, arrays, image_size):
    path = tmp_path / "random.npz"
    np.savez(path, **arrays)
    ds = _load_or_synthaug_error(path, image_size=image_size)
    if ds is not None:
        n = next(v for k, v in arrays.items() if k.endswith("images")).shape[0]
        assert len(ds) == n
        if image_size:
            assert ds.images.shape[2:] == (3, 3)


@SETTINGS
@given(arrays=valid_npz())
def test_valid_npz_always_loads(tmp_path, arrays):
    # The other half of the property: well-formed input is never refused.
    path = tmp_path / "valid.npz"
    np.savez(path, **arrays)
    ds = load_dataset(path)
    _check_valid(ds)
    images = arrays.get("images", arrays.get("train_images"))
    if images.dtype == np.uint8:
        np.testing.assert_array_equal(images_to_uint8(ds.images), images.reshape(images_to_uint8(ds.images).shape))


def _png_bytes(rng, size=6, rgb=False):
    arr = rng.integers(0, 256, (size, size, 3) if rgb else (size, size), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _decodes(data: bytes) -> bool:
    """Whether Pillow decodes ``data`` completely (the oracle for the corrupted-file test)."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
    except Exception:
        return False
    return True


def _corrupt(data: bytes, how: str, cut: int, flips: list[int]) -> bytes:
    if how == "truncate":
        return data[: cut % (len(data) + 1)]
    out = bytearray(data)
    for pos in flips:
        if out:
            out[pos % len(out)] ^= 0xFF
    return bytes(out)


@SETTINGS
@given(
    how=st.sampled_from(["truncate", "flip"]),
    cut=st.integers(0, 10_000),
    flips=st.lists(st.integers(0, 10_000), min_size=1, max_size=8),
    random_bytes=st.binary(max_size=200),
    use_random=st.booleans(),
    skip=st.booleans(),
    rgb=st.booleans(),
)
def test_corrupted_png_in_folder(tmp_path, how, cut, flips, random_bytes, use_random, skip, rgb):
    rng = np.random.default_rng(0)
    root = tmp_path / "pngs"
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(2):
            (root / cls / f"{i}.png").write_bytes(_png_bytes(rng, rgb=rgb))
    bad = random_bytes if use_random else _corrupt(_png_bytes(rng, rgb=rgb), how, cut, flips)
    bad_path = root / "a" / "bad.png"
    bad_path.write_bytes(bad)
    decodable = _decodes(bad)  # a flip can land where Pillow does not look (e.g. a CRC)
    if skip:
        ds, skipped = load_dataset_with_report(root, skip_bad_images=True)
        _check_valid(ds)
        if decodable:
            assert skipped == [] and len(ds) == 5 and "a/bad.png" in ds.provenance
        else:
            assert skipped == [str(bad_path)]
            assert len(ds) == 4 and "a/bad.png" not in ds.provenance
    elif decodable:
        assert len(load_dataset(root)) == 5
    else:
        message = r"a/bad.png: cannot decode image \(.*\). Remove it or pass --skip-bad-images"
        with pytest.raises(InvalidDataError, match=message):
            load_dataset(root)


@SETTINGS
@given(
    how=st.sampled_from(["truncate", "flip", "random"]),
    cut=st.integers(0, 5_000),
    flips=st.lists(st.integers(0, 5_000), min_size=1, max_size=8),
    random_bytes=st.binary(max_size=300),
)
def test_corrupted_npz_bytes(tmp_path, how, cut, flips, random_bytes):
    buf = io.BytesIO()
    np.savez(buf, images=np.arange(4 * 5 * 5, dtype=np.uint8).reshape(4, 5, 5), labels=np.array([0, 1, 0, 1]))
    data = random_bytes if how == "random" else _corrupt(buf.getvalue(), how, cut, flips)
    path = tmp_path / "c.npz"
    path.write_bytes(data)
    _load_or_synthaug_error(path)


GOOD_ROWS = [("a/0.png", "a"), ("a/1.png", "a"), ("b/0.png", "b"), ("b/1.png", "b")]
odd_rows = st.tuples(
    st.one_of(st.sampled_from(["../x.png", "/abs.png", "", "b/missing.png", "a/0.png", "m.csv"]),
              st.text(max_size=6)),
    st.one_of(st.sampled_from(["a", "b", "0", "1", "-1", "1.5", ""]), st.text(max_size=3)),
)


@SETTINGS
@given(
    header=st.sampled_from(["path,label", "path,label", "path,label,class_name", "file,label", "label,path", ""]),
    good=st.one_of(st.just(GOOD_ROWS), st.lists(st.sampled_from(GOOD_ROWS), max_size=4, unique=True)),
    odd=st.one_of(st.just([]), st.lists(odd_rows, max_size=2)),
    raw=st.one_of(st.none(), st.none(), st.binary(max_size=120)),
)
def test_random_csv(tmp_path, header, good, odd, raw):
    rows = good + odd
    rng = np.random.default_rng(0)
    root = tmp_path / "csvroot"
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(2):
            (root / cls / f"{i}.png").write_bytes(_png_bytes(rng))
    path = root / "m.csv"
    if raw is not None:
        path.write_bytes(raw)
    else:
        lines = [header] + [",".join(r) + (",x" if "class_name" in header else "") for r in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _load_or_synthaug_error(path)


def test_valid_csv_is_accepted_by_the_property_checker(tmp_path):
    # Guard against a vacuous property: the same set-up with a good manifest loads.
    rng = np.random.default_rng(0)
    root = tmp_path / "ok"
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        for i in range(2):
            (root / cls / f"{i}.png").write_bytes(_png_bytes(rng))
    (root / "m.csv").write_text("path,label\na/0.png,a\na/1.png,a\nb/0.png,b\nb/1.png,b\n")
    ds = _load_or_synthaug_error(root / "m.csv")
    assert ds is not None and len(ds) == 4


@pytest.mark.parametrize("suffix", [".png", ".npz", ".csv"])
def test_empty_files(tmp_path, suffix):
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    with pytest.raises(SynthaugError):
        load_dataset(path)
