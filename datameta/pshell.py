"""`pshell development.ini`: a shell with a DB session in a transaction and the models."""

from typing import Any

import transaction

from datameta import models
from datameta.db import get_tm_session


def setup(env: dict[str, Any]) -> None:
    request = env["request"]
    registry = env["registry"]
    request.tm = transaction.TransactionManager(explicit=True)
    request.tm.begin()
    env["tm"] = request.tm
    env["dbsession"] = get_tm_session(registry["dbsession_factory"], request.tm)
    env["models"] = models
