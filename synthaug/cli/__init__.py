"""The ``synthaug`` command line: ``train``, ``generate``, ``augment``, ``evaluate``,
``robustness`` and ``datasets``.

Each command lives in its own module of this package and only parses options, calls
the library and writes files; errors from the library become one clean line.
"""

from __future__ import annotations

import sys

import click

from .. import __version__
from . import gan_commands
from ._common import SynthaugGroup, setup_logging
from .evaluate import evaluate
from .robustness import robustness


@click.group(cls=SynthaugGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="synthaug")
@click.option("-v", "--verbose", is_flag=True, help="Log more detail to stderr.")
def cli(verbose: bool) -> None:
    """Make small labelled image datasets bigger with class-conditional GANs,
    and measure whether that helped."""
    setup_logging(verbose)


def _register() -> None:
    # Every command module is imported here: a broken one fails loudly at start-up
    # instead of silently dropping its command.
    for command in (*gan_commands.COMMANDS, evaluate, robustness):
        cli.add_command(command)


_register()


def main() -> None:
    """Console entry point.

    An interrupted command (Ctrl-C, SIGTERM) has already cleaned up and asked for exit
    130 when it gets here. CPython may still end such a process by SIGINT (exit -2)
    after finalisation, when the KeyboardInterrupt passed through code it ran for a
    library (observed about half the time for `evaluate` interrupted in its first job),
    so that exit runs the exit handlers and leaves with 130 itself.
    """
    try:
        cli(prog_name="synthaug")
    except SystemExit as exc:
        if exc.code != 130:
            raise
        import atexit
        import os

        sys.stdout.flush()
        sys.stderr.flush()
        atexit._run_exitfuncs()
        os._exit(130)
