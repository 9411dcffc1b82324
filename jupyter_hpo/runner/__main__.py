"""``python -m jupyter_hpo.runner JOB --store URL``: drive one job to its end."""

from __future__ import annotations

import argparse
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jupyter_hpo.runner")
    parser.add_argument("job")
    parser.add_argument("--store", required=True, help="SQLAlchemy URL of the store")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    from jupyter_hpo.runner._runner import Runner
    from jupyter_hpo.store import Store

    return Runner(Store(args.store), args.job).run()


if __name__ == "__main__":
    sys.exit(main())
