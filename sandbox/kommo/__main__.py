"""``python -m sandbox.kommo --port PORT [--seed demo] [--token TOKEN] [--speed N]``: serve on 127.0.0.1."""

from __future__ import annotations

import argparse
import sys

from sandbox.common import Clock
from sandbox.kommo.sandbox import KommoSandbox


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.kommo", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--seed", default="demo", help="demo | demo_config | empty (default demo)")
    parser.add_argument("--token", default="sandbox-token", help="long-lived token accepted as Authorization: Bearer")
    parser.add_argument("--speed", type=float, default=1.0, help="sandbox clock speed (retries, token expiry, limits)")
    parser.add_argument("--rate-limit", type=float, default=7.0, help="requests per second (0: unlimited)")
    parser.add_argument("--subdomain", default="demo")
    args = parser.parse_args(argv)

    sandbox = KommoSandbox(
        token=args.token,
        seed=None if args.seed in ("", "none") else args.seed,
        clock=Clock(speed=args.speed),
        subdomain=args.subdomain,
        rate_limit_rps=args.rate_limit or None,
    )
    base_url = sandbox.bind(args.port)
    print(f"ready {base_url}", flush=True)
    try:
        sandbox.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
