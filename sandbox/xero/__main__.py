"""``python -m sandbox.xero --port PORT [--seed demo|none] [--client-id ID --client-secret SECRET]
[--webhook-url URL --webhook-key KEY] [--speed N]``: serve on 127.0.0.1 and print ``ready <base_url>``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from sandbox.common.clock import Clock
from sandbox.xero.sandbox import XeroSandbox


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.xero", description="Local Xero API sandbox")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--seed", default="demo", help='"demo" or "none"')
    parser.add_argument("--client-id", default="SANDBOXCLIENTID")
    parser.add_argument("--client-secret", default="sandbox-client-secret")
    parser.add_argument("--webhook-url", default=None)
    parser.add_argument("--webhook-key", default=None)
    parser.add_argument("--verify-webhook", action="store_true", help="run Intent to Receive on start")
    parser.add_argument("--speed", type=float, default=1.0, help="sandbox clock speed (virtual seconds per second)")
    args = parser.parse_args(argv)
    if bool(args.webhook_url) != bool(args.webhook_key):
        parser.error("--webhook-url and --webhook-key go together")

    sandbox = XeroSandbox(
        client_id=args.client_id,
        client_secret=args.client_secret,
        webhook_url=None if args.verify_webhook else args.webhook_url,
        webhook_key=None if args.verify_webhook else args.webhook_key,
        seed=None if args.seed.lower() == "none" else args.seed,
        clock=Clock(speed=args.speed),
    )
    base_url = sandbox.start(port=args.port)
    if args.verify_webhook and args.webhook_url:
        passed = sandbox.configure_webhook(args.webhook_url, args.webhook_key)
        print(f"intent-to-receive {'passed' if passed else 'FAILED'}", file=sys.stderr, flush=True)
    print(f"ready {base_url}", flush=True)

    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
