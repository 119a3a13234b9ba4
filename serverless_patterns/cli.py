"""``serverless-patterns``: operator commands for stacks built with these constructs.

``serverless-patterns redrive ...`` moves dead-lettered work back to where it failed (see
:mod:`serverless_patterns.redrive`). The commands need boto3 (``pip install
'serverless-patterns[ops]'``); the constructs do not.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

COMMANDS = {"redrive": "dead-lettered messages back to their source, failed work replayed"}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["redrive"]:
        from serverless_patterns.redrive import main as redrive

        return redrive(argv[1:])
    parser = argparse.ArgumentParser(
        prog="serverless-patterns",
        description="Operator commands for stacks built with serverless-patterns.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, summary in COMMANDS.items():
        commands.add_parser(name, help=summary, add_help=False)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:
        return int(exit.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
