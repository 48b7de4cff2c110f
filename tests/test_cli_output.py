"""The CLI's output-folder safety: check_output_dir and staged_output."""

from __future__ import annotations

import errno
import tempfile
from pathlib import Path

import pytest

from synthaug.cli._common import check_output_dir, staged_output
from synthaug.exceptions import OutputError


def test_unwritable_parent_is_refused_by_trying_to_write(tmp_path: Path, monkeypatch) -> None:
    # os.access says "writable" to root even on read-only folders, so the check must try
    # a real write; simulate the refusal the file system would give.
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(OutputError, match=r"--out .*new/out: cannot write in .* \(permission denied\)"):
        check_output_dir(tmp_path / "new" / "out", overwrite=False)
    assert not (tmp_path / "new").exists()


def test_write_probe_leaves_nothing_behind(tmp_path: Path) -> None:
    check_output_dir(tmp_path / "out", overwrite=False)
    assert list(tmp_path.iterdir()) == []


def test_file_in_the_way_and_busy_folder(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_output_dir(tmp_path / "f" / "out", overwrite=False)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(OutputError, match="--overwrite"):
        check_output_dir(busy, overwrite=False)


def test_staged_output_keeps_the_old_folder_when_the_work_fails(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with staged_output(out, overwrite=True) as tmp:
            (tmp / "new.txt").write_text("half")
            raise RuntimeError("boom")
    assert (out / "old.txt").read_text() == "old" and not (out / "new.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    with staged_output(out, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("done")
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
