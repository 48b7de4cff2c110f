"""The CSV-manifest loader (``synthaug.data.loaders.manifest``), with every bad-input message
pinned."""

from __future__ import annotations

import numpy as np
import pytest

from synthaug.data import load_dataset, load_dataset_with_report
from synthaug.exceptions import InvalidDataError


def _to_u8(images):
    return np.rint(images * 255).astype(np.uint8)


def _manifest(path, rows, header="path,label"):
    path.write_text(header + "\n" + "".join(f"{a},{b}\n" for a, b in rows))
    return path


def test_csv_string_labels_sorted(make_folder):
    root, pixels = make_folder({"cat": 2, "dog": 2})
    csv = _manifest(root / "m.csv", [("dog/000.png", "dog"), ("cat/000.png", "cat"),
                                     ("cat/001.png", "cat"), ("dog/001.png", "dog")])
    ds = load_dataset(csv)
    assert ds.class_names == ("cat", "dog")
    assert ds.labels.tolist() == [1, 0, 0, 1]
    np.testing.assert_array_equal(_to_u8(ds.images[0, 0]), pixels["dog/000.png"])


def test_csv_integer_labels_and_rgb(make_folder):
    root, _ = make_folder({"x": 2, "y": 2}, rgb=True)
    csv = _manifest(root / "m.csv", [("x/000.png", 0), ("x/001.png", 0), ("y/000.png", 2), ("y/001.png", 2)])
    ds = load_dataset(csv)
    assert ds.class_names == ("0", "1", "2") and ds.n_channels == 3
    assert ds.labels.tolist() == [0, 0, 2, 2]


@pytest.mark.parametrize(
    "text, match",
    [
        ("", r"m.csv: the CSV is empty; expected a header row 'path,label'"),
        ("file,label\na/000.png,a\n", r"missing column 'path' \(columns found: 'file', 'label'\); expected a header 'path,label'"),
        ("path\na/000.png\n", r"missing column 'label'"),
        ("path,label\n", r"has a header but no rows"),
        ("path,label\na/000.png,\n", r"row 2 has an empty label"),
        ("path,label\na/000.png,a\na/001.png,a\nb/000.png,b\na/000.png,a\n",
         r"row 5 repeats 'a/000.png' \(first listed at row 2\); each image must be listed once"),
        ("path,label\na/000.png,a\na/missing.png,a\n",
         r"row 3 file 'a/missing.png' not found .* Fix the path \(relative to the CSV's folder\)"),
        ("path,label\n../x.png,a\n", r"row 2 path '../x.png' is absolute or leaves the manifest's folder .* pass --allow-outside-root"),
        ("path,label\n/etc/passwd,a\n", r"row 2 path '/etc/passwd' is absolute .* --allow-outside-root"),
        ("path,label\na/000.png,-1\na/001.png,0\n", r"integer labels span \[-1, 0\]"),
        ("path,label\na/000.png,a\na/001.png,a\nb/000.png,b\n",
         r"m.csv: class 'b' has 1 image; each class needs at least 2 images"),
        ("path,label\na/000.png,a\na/001.png,a\n", r"belong to one class \('a'\)"),
        ("path,label,class_name\na/000.png,0,x\na/001.png,0,y\n",
         r"label 0 has two class names \('x' and 'y'\)"),
        ("path,label,class_name\na/000.png,0,x\nb/000.png,1,x\n", r"'class_name' column gives repeated names"),
    ],
)
def test_bad_csv(make_folder, text, match):
    root, _ = make_folder({"a": 2, "b": 2})
    csv = root / "m.csv"
    csv.write_text(text)
    with pytest.raises(InvalidDataError, match=match):
        load_dataset(csv)


def test_csv_outside_root_allowed_with_flag(tmp_path, make_folder):
    root, _ = make_folder({"a": 2, "b": 2})
    sub = root / "lists"
    sub.mkdir()
    csv = _manifest(sub / "m.csv", [("../a/000.png", "a"), ("../a/001.png", "a"),
                                    (str(root / "b" / "000.png"), "b"), ("../b/001.png", "b")])
    with pytest.raises(InvalidDataError, match=r"--allow-outside-root"):
        load_dataset(csv)
    assert len(load_dataset(csv, allow_outside_root=True)) == 4


def test_csv_binary_garbage(tmp_path):
    csv = tmp_path / "g.csv"
    csv.write_bytes(b"\xff\xfe\x00\x00\xc3\x28garbage\x00")
    with pytest.raises(InvalidDataError, match=r"g.csv"):
        load_dataset(csv)


def test_csv_bad_image_skip_report(make_folder):
    root, _ = make_folder({"a": 3, "b": 2})
    (root / "a" / "002.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    csv = _manifest(root / "m.csv", [(f"a/{i:03d}.png", "a") for i in range(3)] + [("b/000.png", "b"), ("b/001.png", "b")])
    with pytest.raises(InvalidDataError, match=r"a/002.png: cannot decode image .* --skip-bad-images"):
        load_dataset(csv)
    ds, skipped = load_dataset_with_report(csv, skip_bad_images=True)
    assert len(ds) == 4 and skipped == [str((root / "a" / "002.png").resolve())]
