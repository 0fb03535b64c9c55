"""The ``pbqms`` command: ``manage.py`` under the product's name.

``pbqms demo`` loads the demo enterprise, ``pbqms verify-audit`` checks the change-log chain,
and every Django management command works too (``pbqms migrate``, ``pbqms runserver`` …).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pbqms.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv if argv is None else argv)
    args[0] = "pbqms"
    # `pbqms verify-audit` is the documented spelling; Django command names use underscores.
    if len(args) > 1:
        args[1] = args[1].replace("-", "_")
    execute_from_command_line(args)


if __name__ == "__main__":
    main()
