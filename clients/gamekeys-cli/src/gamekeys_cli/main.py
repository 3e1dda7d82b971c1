"""``gamekeys``: the studio-facing commands (``push``, ``builds list|status``) and any command
another installed package adds through the ``gamekeys.commands`` entry points (the platform's
own repository adds its developer tools, ``token`` and ``dev-keys``, that way).

Exit status: 0 done (a pushed build is ready), 1 the build failed or a step was refused (the
reason on stderr), 2 bad usage or configuration, 3 still not done at ``--timeout``."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path

from gamekeys_cli.api import DEFAULT_API_URL, Api, ApiError, ConfigError, credential_from_env
from gamekeys_cli.progress import human
from gamekeys_cli.push import Pusher, PushFailed, PushOptions, StillProcessing, describe_failure, say
from gamekeys_cli.state import PushState, default_state_dir

PLATFORMS = ("windows", "macos", "linux")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gamekeys", description="Game Keys Platform command line.")
    parser.add_argument(
        "--api-url",
        default=os.environ.get("GAMEKEYS_API_URL", DEFAULT_API_URL),
        help=f"the platform's API (GAMEKEYS_API_URL, default {DEFAULT_API_URL})",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_push(commands)
    _add_builds(commands)
    plugins = _plugin_commands()
    for name, command in plugins.items():
        sub = commands.add_parser(name, help=command.help, description=command.help)
        command.add_arguments(sub)
        sub.set_defaults(plugin=command, subparser=sub)
    args = parser.parse_args(argv)
    if getattr(args, "plugin", None) is not None:
        return args.plugin.run(args, args.subparser)
    try:
        api = Api(args.api_url, credential_from_env())
        return args.run(api, args)
    except ConfigError as exc:
        say(f"gamekeys: {exc}")
        return 2
    except StillProcessing as exc:
        say(f"gamekeys: {exc}")
        return 3
    except PushFailed as exc:
        say(f"gamekeys: {exc}")
        return 1
    except ApiError as exc:
        detail = f" {json.dumps(exc.details)}" if exc.details else ""
        say(f"gamekeys: {exc.code} ({exc.status}): {exc.message}{detail}")
        return 1
    except KeyboardInterrupt:
        say("gamekeys: interrupted; run the same command again to resume")
        return 130


def _plugin_commands() -> dict:
    found = {}
    for entry in entry_points(group="gamekeys.commands"):
        try:
            found[entry.name] = entry.load()
        except Exception as exc:  # a broken plugin must not take push down with it
            say(f"gamekeys: command {entry.name!r} unavailable ({exc.__class__.__name__})")
    return found


# -- push -------------------------------------------------------------------------------------


def _add_push(commands) -> None:
    push = commands.add_parser(
        "push",
        help="upload a build and follow it until ready or failed",
        description="Upload FILE as a version of a game: parts in parallel straight to storage, each"
        " checked by its SHA-256; an interrupted push resumes when run again (a state file remembers"
        " the parts done). Then follows verification and the antivirus scan; exits 1 with the reason"
        " if the build fails. Credential: GAMEKEYS_API_KEY (a CI key) or GAMEKEYS_TOKEN (a JWT).",
    )
    push.add_argument("file", type=Path)
    push.add_argument("--game", required=True, help="the game's id")
    push.add_argument("--version", required=True, help="the version string, e.g. 1.2.0 (unique per platform)")
    push.add_argument("--platform", required=True, choices=PLATFORMS)
    push.add_argument("--changelog", default="")
    push.add_argument("--parallel", type=_positive, default=4, help="parts uploaded at once (default 4)")
    push.add_argument("--retries", type=_positive, default=5, help="attempts per part (default 5)")
    push.add_argument("--limit-rate", type=_rate, help="at most this many bytes per second, e.g. 20M")
    push.add_argument(
        "--no-wait", action="store_true", help="return once uploaded, without following processing"
    )
    push.add_argument(
        "--timeout", type=float, help="give up following processing after this many seconds (exit 3)"
    )
    push.add_argument(
        "--state-dir",
        type=Path,
        default=default_state_dir(),
        help="where resume state lives (default $XDG_CACHE_HOME/gamekeys/pushes)",
    )
    push.set_defaults(run=_run_push)


def _run_push(api: Api, args) -> int:
    if not args.file.is_file():
        say(f"gamekeys: {args.file} is not a file")
        return 2
    options = PushOptions(
        file=args.file,
        game_id=args.game,
        version=args.version,
        platform=args.platform,
        changelog=args.changelog,
        parallel=args.parallel,
        retries=args.retries,
        limit_rate=args.limit_rate,
        wait=not args.no_wait,
        timeout_seconds=args.timeout,
    )
    state = PushState.open(
        args.state_dir,
        api_url=api.base_url,
        game_id=args.game,
        version=args.version,
        platform=args.platform,
        file=args.file,
    )
    version = Pusher(api, options, state).run()
    if version["status"] == "failed":
        say(f"gamekeys: build {version['version']} failed: {describe_failure(version)}")
        return 1
    print(f"{version['version']} ({version['platform']}) {version['versionId']}: {version['status']}")
    return 0


# -- builds -----------------------------------------------------------------------------------


def _add_builds(commands) -> None:
    builds = commands.add_parser("builds", help="list a game's builds, or show one")
    actions = builds.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="the game's builds, newest first")
    listing.add_argument("--game", required=True)
    listing.add_argument("--status", choices=("uploading", "uploaded", "processing", "ready", "failed"))
    listing.add_argument("--platform", choices=PLATFORMS)
    listing.add_argument("--limit", type=_positive, default=20)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=_run_list)
    status = actions.add_parser("status", help="one build: status, failure, progress (exit 1 if failed)")
    status.add_argument("version_id")
    status.add_argument("--game", required=True)
    status.add_argument("--json", action="store_true")
    status.set_defaults(run=_run_status)


def _run_list(api: Api, args) -> int:
    params = {"limit": min(args.limit, 100)}
    if args.status:
        params["status"] = args.status
    if args.platform:
        params["platform"] = args.platform
    items = api.call("GET", api.versions(args.game), params=params)["items"][: args.limit]
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    print(f"{'VERSION':<16} {'PLATFORM':<8} {'STATUS':<11} {'SIZE':>10}  {'CREATED':<20} VERSION ID")
    for item in items:
        size = human(item["file"]["size"])
        print(
            f"{item['version']:<16} {item['platform']:<8} {item['status']:<11} {size:>10}"
            f"  {item['createdAt'][:19]:<20} {item['versionId']}"
        )
    return 0


def _run_status(api: Api, args) -> int:
    version = api.call("GET", f"{api.versions(args.game)}/{args.version_id}")
    if args.json:
        print(json.dumps(version, indent=2))
    else:
        size = version["file"]["size"]
        print(f"{version['version']} ({version['platform']}) {version['versionId']}")
        print(f"  status:   {version['status']}")
        print(f"  file:     {version['file']['name']}, {human(size)}, sha256 {version['file']['sha256']}")
        if version["status"] == "uploading":
            received = len(version.get("partsReceived") or [])
            print(f"  upload:   {received} of {version['partCount']} parts received")
        if version["status"] == "processing":
            print(f"  verified: {human(version['bytesVerified'])} of {human(size)}")
            if version.get("retrying"):
                print(f"  retrying: {version['retrying']}")
        if version["status"] == "failed":
            print(f"  failure:  {describe_failure(version)}")
    return 1 if version["status"] == "failed" else 0


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {value!r}")
    return number


def _rate(value: str) -> int:
    """Bytes per second: 500000, 500K, 20M, 1G (powers of 1024)."""
    match = re.fullmatch(r"(\d+)([KMG]?)", value.strip().upper())
    if not match or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"a rate like 500K, 20M or 1G, got {value!r}")
    return int(match.group(1)) * 1024 ** " KMG".index(match.group(2) or " ")


if __name__ == "__main__":
    sys.exit(main())
