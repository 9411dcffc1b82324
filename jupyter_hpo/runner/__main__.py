"""``python -m jupyter_hpo.runner JOB [--store URL]``: drive one job to its end
(``--campaign NAME JOB...``: a campaign's jobs, see :mod:`jupyter_hpo._campaign_runner`). A job with
``warm_pool.keep_alive_s`` keeps its runner for the next launches (:mod:`jupyter_hpo.runner._linger`).

The store's URL comes from ``$JUPYTER_HPO_STORE_URL`` (how :func:`~jupyter_hpo.runner.spawn_runner` passes
it: a command line is visible to every user of the machine, and a team's URL may hold a password), or from
``--store``. On a server database (PostgreSQL) the runner's store calls are retried while the database
cannot be reached, for up to ``$JUPYTER_HPO_STORE_RETRY_S`` (60 s) each.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys


def main(argv: list[str] | None = None) -> int:
    # first of all, before the imports below (about half a second): a new local job's workers start booting
    from jupyter_hpo.backends._prestart import ENV, spawn_from
    from jupyter_hpo.runner._log import utf8_output

    utf8_output()

    prestart = os.environ.pop(ENV, None)  # not for the workers, nor what their trials start
    if prestart:
        spawn_from(prestart)
    from jupyter_hpo.runner import _linger

    key = _linger.environment_key(dict(os.environ), os.getcwd())  # as launched, before an import may change it
    parser = argparse.ArgumentParser(prog="python -m jupyter_hpo.runner")
    parser.add_argument("job", nargs="+", help="the job (with --campaign: the campaign's jobs to run, in order)")
    parser.add_argument("--campaign", default=None, help="run these jobs as the campaign of this name")
    parser.add_argument("--store", default=None,
                        help="SQLAlchemy URL of the store (default: $JUPYTER_HPO_STORE_URL, else the home's SQLite)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    from jupyter_hpo.runner._log import one_line_pool_errors

    for handler in logging.getLogger().handlers:
        handler.addFilter(one_line_pool_errors)
    from jupyter_hpo._store_db import retry_window_s
    from jupyter_hpo.runner._runner import Runner, not_started
    from jupyter_hpo.store import Store

    if args.campaign is not None:
        from jupyter_hpo._campaign_runner import run_campaign

        store = Store(args.store, retry_s=retry_window_s(), application=f"jupyter-hpo campaign {args.campaign}")
        return run_campaign(store, args.campaign, args.job)
    if len(args.job) != 1:
        parser.error("one job, or --campaign NAME with its jobs")
    store = Store(args.store, retry_s=retry_window_s(), application=f"jupyter-hpo runner {args.job[0]}")
    try:
        runner = Runner(store, args.job[0])
    except Exception as e:  # noqa: BLE001 - the job must say why it never ran, not stay pending (then "stale")
        return not_started(store, args.job[0], e)
    if runner.keep_alive_s and args.store is None:  # stays for the next launches (warm_pool.keep_alive_s)
        return _linger.serve(store, runner, key)
    if runner.keep_alive_s:  # a launch finds a runner by its environment, which --store is not part of
        logging.getLogger("jupyter_hpo.runner").warning(
            "warm_pool.keep_alive_s: a runner started with --store is not kept (start it with "
            "$JUPYTER_HPO_STORE_URL instead); it ends with its job")
    return runner.run()


if __name__ == "__main__":
    sys.exit(main())
