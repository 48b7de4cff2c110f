"""Pieces every CLI command shares: error handling, safe output folders, data options.

Run records (``config.json``) are written with :func:`synthaug.persistence.write_run_record`.

No ML logic lives here: commands parse options, call the library, and write files.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, NoReturn

import click

from ..exceptions import ConfigError, OutputError, SynthaugError

log = logging.getLogger("synthaug")


class SynthaugGroup(click.Group):
    """A click group that turns synthaug's own errors into a clean message and exit 1.

    Library errors (:class:`~synthaug.exceptions.SynthaugError`) become ``Error: ...``
    on stderr with no traceback; Ctrl-C or SIGTERM becomes ``Interrupted`` with exit 130.
    """

    def invoke(self, ctx: click.Context) -> Any:
        # SIGTERM (a job scheduler, `kill`) ends a command like Ctrl-C: staged output is
        # removed, checkpoints are kept, exit 130. Only the main thread may set handlers.
        in_main = threading.current_thread() is threading.main_thread()
        if in_main:
            previous = signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
        try:
            return super().invoke(ctx)
        except SynthaugError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except MemoryError:
            raise click.ClickException(
                "ran out of memory; use a smaller --batch-size, fewer images, or a smaller --image-size."
            ) from None
        finally:
            if in_main:
                signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _sigterm_to_interrupt(signum, frame):  # pragma: no cover - exercised by a subprocess test
    raise KeyboardInterrupt


def exit_interrupted(kept: str) -> NoReturn:
    """After Ctrl-C or SIGTERM: say what was kept (``kept``) and how to resume; exit 130."""
    click.echo(f"\nInterrupted. {kept}; run the same command with --resume to continue.", err=True)
    raise SystemExit(130) from None


def check_output_dir(out: Path, overwrite: bool, flag: str = "--out") -> None:
    """Refuse an output path that is a file, a non-empty folder (without --overwrite), or unwritable."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{flag} {out}: exists and is a file, not a folder. Choose another path.")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise OutputError(
            f"{flag} {out}: folder exists and is not empty. Choose another path or pass --overwrite "
            "to replace it."
        )
    parent = out.resolve().parent
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"{flag} {out}: {probe} is a file, not a folder. Choose another path.")
    # Try to write, rather than ask os.access: root passes os.access on read-only folders
    # and mounts, and ACLs or quotas can refuse what the mode bits allow.
    try:
        fd, name = tempfile.mkstemp(prefix=".synthaug-write-test-", dir=probe)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        reason = exc.strerror or "permission denied"
        raise OutputError(
            f"{flag} {out}: cannot write in {probe} ({reason.lower()}). Choose another path."
        ) from None


@contextlib.contextmanager
def staged_output(out: Path, overwrite: bool, flag: str = "--out") -> Iterator[Path]:
    """Build an output folder in a temporary sibling and move it into place only when complete.

    If the block fails (an error, Ctrl-C), the temporary folder is removed and whatever
    was at ``out`` before is left untouched. With ``overwrite`` the old folder is replaced
    only after the new one is complete.
    """
    out = Path(out)
    check_output_dir(out, overwrite, flag)
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=parent))
    except OSError as exc:
        raise OutputError(f"{flag} {out}: cannot create the output folder ({exc.strerror}).") from None
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    backup = None
    try:
        if out.exists():
            backup = parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, backup)
        os.replace(tmp, out)
    except OSError as exc:
        if backup is not None and not out.exists():
            os.replace(backup, out)
            backup = None
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(f"{flag} {out}: could not move results into place ({exc}).") from None
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


def positive(name: str, value: float | int | None, *, allow_zero: bool = False) -> None:
    """ConfigError naming the flag when a count or ratio is not positive."""
    if value is None:
        return
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}.")


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s: %(message)s",
        stream=sys.stderr,
    )


# ----------------------------------------------------------------------- data options
def data_options(func: Callable) -> Callable:
    """Options that say how DATA is read."""
    for decorator in reversed(
        [
            click.option("--image-size", type=int, default=None,
                         help="Resize every image to N x N (needed when sizes differ)."),
            click.option("--skip-bad-images", is_flag=True,
                         help="Skip unreadable image files (they are listed) instead of failing."),
            click.option("--allow-outside-root", is_flag=True,
                         help="Let a CSV manifest name files outside its own folder."),
        ]
    ):
        func = decorator(func)
    return func


def load_data(data: str, image_size, skip_bad_images: bool = False, allow_outside_root: bool = False):
    """Load DATA for a command; list skipped files; return ``(dataset, train split, skipped)``."""
    from ..data import load_dataset_with_report

    positive("--image-size", image_size)
    dataset, skipped = load_dataset_with_report(
        data,
        image_size=image_size,
        skip_bad_images=skip_bad_images,
        allow_outside_root=allow_outside_root,
    )
    if skipped:
        click.echo(f"Skipped {len(skipped)} unreadable file(s):", err=True)
        for path in skipped[:20]:
            click.echo(f"  {path}", err=True)
        if len(skipped) > 20:
            click.echo(f"  ... and {len(skipped) - 20} more", err=True)
    train = dataset.get_split("train") if "train" in dataset.splits else dataset
    return dataset, train, skipped
