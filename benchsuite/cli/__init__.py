"""The ``benchsuite`` command: a thin layer over the library.

Each command resolves its options, calls the library and presents the result, in separate
functions (:mod:`.run_command` for ``run``, :mod:`.commands` for the others; :mod:`.parser`
adds the options). Library errors that the user can fix (:class:`~benchsuite.errors.UsageError`)
are caught here once and printed as one line, with exit code 2 and no traceback.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence

from rich.console import Console

from benchsuite.cli.parser import build_parser
from benchsuite.errors import RunInterrupted, UsageError
from benchsuite.store.runs import StoreWarning

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    if not console.is_terminal:  # logs and CI: wide enough that case ids are not cut
        console = Console(width=160)
    errors = Console(stderr=True, highlight=False, soft_wrap=True)

    def show_warning(message: Warning | str, category: type[Warning], *_: object) -> None:
        if issubclass(category, StoreWarning):
            errors.print(f"benchsuite: warning: {message}", markup=False)
        else:
            errors.print(f"{category.__name__}: {message}", markup=False)

    with warnings.catch_warnings():
        warnings.simplefilter("always", StoreWarning)
        warnings.showwarning = show_warning  # type: ignore[assignment]
        try:
            return int(args.handler(args, console))
        except UsageError as error:
            errors.print(f"benchsuite: error: {error}", markup=False)
            return error.exit_code
        except RunInterrupted as error:
            errors.print(f"benchsuite: {error}", markup=False)
            return 130
        except KeyboardInterrupt:
            errors.print("benchsuite: interrupted", markup=False)
            return 130


if __name__ == "__main__":
    sys.exit(main())
