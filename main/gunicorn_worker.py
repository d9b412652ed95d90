"""The production worker: uvicorn's gunicorn worker, with a graceful shutdown that ends in time.

On SIGTERM uvicorn stops accepting and waits for the running requests. Left alone it would wait
until gunicorn's `graceful_timeout` ran out and gunicorn SIGKILLed the worker: a streaming
answer still running then is lost without a row (uvicorn's own timeout cancels its task, but
Django's request runs in a task of its own that the cancel does not reach). Here, `CANCEL_MARGIN`
seconds before gunicorn would kill it, the worker closes the connections still open: each app
sees its client go away, exactly as on the chat's Stop, stores the text so far as `cancelled`,
and the worker exits before the deadline.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from gunicorn.arbiter import Arbiter
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker as BaseUvicornWorker

logger = logging.getLogger("uvicorn.error")

CANCEL_MARGIN = 5  # seconds left to store the cut answers before gunicorn's SIGKILL


class DrainingServer(Server):
    """uvicorn's server, closing the connections still open after `drain` seconds of shutdown."""

    drain: float = 25.0

    async def _wait_tasks_to_complete(self) -> None:
        try:
            await asyncio.wait_for(super()._wait_tasks_to_complete(), timeout=self.drain)
        except TimeoutError:
            still_open = list(self.server_state.connections)
            logger.warning(
                "Closing %d connection(s) still open after %.0f s of shutdown",
                len(still_open),
                self.drain,
            )
            for connection in still_open:
                connection.transport.close()  # the app sees http.disconnect
            await super()._wait_tasks_to_complete()  # their answers are stored, then they end


class UvicornWorker(BaseUvicornWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        graceful = self.cfg.graceful_timeout
        self.drain = max(1.0, graceful - min(CANCEL_MARGIN, graceful / 2))
        # uvicorn's own last resort (cancelling the tasks), just before gunicorn's SIGKILL.
        self.config.timeout_graceful_shutdown = max(self.drain, graceful - 1)

    async def _serve(self) -> None:
        self.config.app = self.wsgi
        server = DrainingServer(config=self.config)
        server.drain = self.drain
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
