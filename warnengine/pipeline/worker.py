"""`warnengine worker`: one Faust worker process. Start more of them to scale out."""

from __future__ import annotations

import logging

from faust.worker import Worker

from warnengine.obs import log as obslog
from warnengine.pipeline.app import build_app
from warnengine.settings import Settings


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    obslog.configure(loglevel)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = build_app(settings)
    # Faust's own logs stay on stderr in its format; ours are structlog JSON.
    worker = _Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()


class _Worker(Worker):
    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        """Faust has just set up the root handlers: rate-limit what the libraries repeat through them."""
        super().on_setup_root_logger(logger, level)
        for handler in logger.handlers:
            handler.addFilter(obslog.RepeatFilter())
