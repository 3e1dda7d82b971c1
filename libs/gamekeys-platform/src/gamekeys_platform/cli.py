"""The ``gamekeys`` command line for local development (ARCHITECTURE.md §3): dev tokens and keys
(the operator commands, ``dlq``, ``outbox``, ``consumers``, are ``opscli``'s).

Each subcommand is one entry of ``COMMANDS`` (help, arguments, run) and an entry point of the
``gamekeys.commands`` group (pyproject.toml), through which the ``gamekeys`` command of
clients/gamekeys-cli offers it; add new ones in both places.
Tokens are signed with the dev key pair (``devkeys``), created on first use.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gamekeys_platform import devkeys
from gamekeys_platform.auth import PLATFORM_ROLES


@dataclass(frozen=True)
class Command:
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, argparse.ArgumentParser], int]  # returns the exit status


def main(argv: Sequence[str] | None = None) -> int:
    from gamekeys_platform.opscli import COMMANDS as OPERATOR_COMMANDS  # it imports Command from here

    commands = {**COMMANDS, **OPERATOR_COMMANDS}
    parser = argparse.ArgumentParser(prog="gamekeys", description="Game Keys Platform developer tools.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in commands.items():
        subparser = subparsers.add_parser(name, help=command.help, description=command.help)
        command.add_arguments(subparser)
        subparser.set_defaults(subparser=subparser)
    args = parser.parse_args(argv)
    return commands[args.command].run(args, args.subparser)


def _add_token_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sub", required=True, help="user id (a UUID); with --scope, a service name")
    parser.add_argument(
        "--roles", type=_roles, default=(), help=f"comma-separated, of: {', '.join(sorted(PLATFORM_ROLES))}"
    )
    parser.add_argument("--scope", default="", help='space-separated scopes, e.g. "keys:activate keys:read"')
    parser.add_argument("--email")
    parser.add_argument("--ttl", type=_positive_int, default=3600, help="lifetime in seconds (default 3600)")


def _run_token(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    subject = _subject(args.sub, is_service=bool(args.scope.split()), parser=parser)
    pair = devkeys.ensure_key_pair()
    token = devkeys.mint_token(
        pair.private_key_file.read_text(),
        sub=subject,
        roles=args.roles,
        scopes=args.scope,
        email=args.email,
        issuer=os.environ.get("JWT_ISSUER") or devkeys.DEV_ISSUER,
        audience=os.environ.get("JWT_AUDIENCE") or devkeys.DEV_AUDIENCE,
        ttl_seconds=args.ttl,
    )
    print(token)
    return 0


def _subject(value: str, *, is_service: bool, parser: argparse.ArgumentParser) -> str:
    """Users are UUIDs (normalised); a service token may name the service instead."""
    if is_service and value.strip() and not any(character.isspace() for character in value):
        return value
    try:
        return str(uuid.UUID(value))
    except ValueError:
        parser.error(f"--sub must be a UUID (the user id), got {value!r}; a service name needs --scope")


def _roles(value: str) -> tuple[str, ...]:
    roles = tuple(role.strip() for role in value.split(",") if role.strip())
    unknown = sorted(set(roles) - PLATFORM_ROLES)
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown role(s) {', '.join(unknown)}; platform roles are {', '.join(sorted(PLATFORM_ROLES))}"
        )
    return roles


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number of seconds, got {value!r}")
    return number


def _add_dev_keys_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        f"Directory: ${devkeys.KEYS_DIR_ENV}, else {devkeys.DEFAULT_KEYS_DIR} in the current directory."
    )


def _run_dev_keys(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    pair = devkeys.ensure_key_pair()
    print(pair.private_key_file)
    print(pair.public_key_file)
    return 0


TOKEN = Command("print a dev JWT signed with the dev key", _add_token_arguments, _run_token)
DEV_KEYS = Command(
    "create the dev key pair if missing and print its paths", _add_dev_keys_arguments, _run_dev_keys
)
# Also entry points of the group ``gamekeys.commands``: the ``gamekeys`` command (clients/gamekeys-cli)
# offers them beside ``push`` and ``builds``.
COMMANDS: dict[str, Command] = {"token": TOKEN, "dev-keys": DEV_KEYS}


if __name__ == "__main__":
    sys.exit(main())
