"""The HTTP server's own logging, lean where the app already logs each request.

gunicorn counts its access log as enabled whenever a logging configuration is given,
and ``pserve`` gives it one whenever the ini file has a ``[loggers]`` section (ours
do). Then it builds, for every request, a dictionary of the request's headers and
environ (the "atoms") and a log record that no handler receives: nothing in our
configuration listens to ``gunicorn.access``, which does not propagate. The app logs
every request itself (``datameta.telemetry``), as JSON with the request's id.
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.glogging import Logger


def reaches_a_handler(logger: logging.Logger) -> bool:
    """Whether a record logged on ``logger`` would reach any handler.

    ``Logger.hasHandlers`` does not see that a level on the way filters out INFO; that
    does not matter here: gunicorn sets its access logger to INFO.
    """
    return logger.hasHandlers()


class ServerLogger(Logger):
    """gunicorn's logger, which skips the access line while no handler would receive it.

    Configured with ``logger_class = datameta.telemetry.server.ServerLogger`` in the
    server sections of the ini files. A site that wants gunicorn's access lines too
    sets ``accesslog`` (or adds a handler to the ``gunicorn.access`` logger in the
    ini's logging sections), and gets them as before.
    """

    def setup(self, cfg: Any) -> None:
        # gunicorn's setup applies the logging configuration, and may be run again on a
        # configuration reload: whether the line reaches anyone is decided after it.
        super().setup(cfg)
        self._access_line_read = reaches_a_handler(self.access_log)
        # Read by gunicorn's newer protocol handlers before they time a request.
        self._access_log_enabled = self._access_line_read and bool(
            getattr(self, "_access_log_enabled", True)
        )

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        if self._access_line_read:
            super().access(resp, req, environ, request_time)
