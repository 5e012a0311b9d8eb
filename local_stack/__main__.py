"""``python -m local_stack up`` (run until Ctrl-C) and ``python -m local_stack demo`` (run the scenario, exit)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Any

from local_stack.demo import run_demo
from local_stack.stack import LocalStack


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local_stack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start everything and print the URLs; Ctrl-C stops it")
    demo = sub.add_parser("demo", help="start, run the demo scenario, print what happened, stop")
    for command in (up, demo):
        command.add_argument("--visibility-timeout", type=int, default=None, help="jobs queue visibility (s)")
        command.add_argument("--batching-window", type=float, default=None, help="SQS batching window (s)")
        command.add_argument("-v", "--verbose", action="store_true", help="log what the stack does")
    up.add_argument("--gateway-port", type=int, default=0)
    up.add_argument("--moto-port", type=int, default=0)
    up.add_argument("--sweep-interval", type=float, default=None, help="fire the scheduled sweep every N s")
    return parser.parse_args(argv)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if args.visibility_timeout is not None:
        options["visibility_timeout"] = args.visibility_timeout
    if args.batching_window is not None:
        options["batching_window"] = args.batching_window
    return options


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def up(args: argparse.Namespace) -> int:
    # Ctrl-C and SIGTERM both stop everything (SIGINT may be ignored when started in the background).
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    options = _options(args)
    options.update(
        gateway_port=args.gateway_port, moto_port=args.moto_port, schedule_interval=args.sweep_interval, prewarm=True
    )
    stack = LocalStack(**options)
    try:
        stack.start()
        urls = stack.urls
        print("Local stack is up (Ctrl-C stops everything):")
        print(f"  Kommo webhook URL  {urls.get('kommo_webhook', '-')}")
        print(f"  Xero webhook URL   {urls.get('xero_webhook', '-')}")
        if stack.kommo is not None:
            print(f"  Kommo sandbox      {urls['kommo_sandbox']}  (page: {urls['kommo_sandbox']}/)")
        if stack.xero is not None:
            print(f"  Xero sandbox       {stack.xero.base_url}  (page: {stack.xero.base_url}/)")
            print(f"  Xero API           {urls['xero_api']}")
        print(f"  moto (AWS)         {urls['moto']}")
        print(f"  SyncTable          {stack.resources.tables.get('SyncTable', '-')}")
        print(
            f"  jobs queue         {stack.resources.queues['JobsQueue'].url if 'JobsQueue' in stack.resources.queues else '-'}"
        )
        if stack.scheduler is not None:
            print(f"  sweep              every {stack.scheduler.interval:g} s ({stack.scheduler.expression})")
        sys.stdout.flush()
        threading.Event().wait()  # until Ctrl-C
    except KeyboardInterrupt:
        print("\nstopping...")
    finally:
        stack.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's and the servers' access logs
    if args.command == "up":
        return up(args)
    options = _options(args)
    if not args.verbose:  # the demo prints a summary; -v shows the handlers' own logs and metrics
        options["extra_env"] = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
    try:
        return run_demo(sys.stdout, **options)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
