"""Site ids: a configurable prefix plus a zero-padded number from a sequence.

PostgreSQL sequences hand out each number once, also to concurrent
transactions, so ids never collide and no insert is retried for a taken id (a
number a rolled-back transaction drew is skipped, never handed out again). The
prefix and the digit count come from the settings; ``db.make_session_factory``
puts them in ``Session.info`` and installs the listener that fills new objects' ids.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Sequence, event, func, select
from sqlalchemy.orm import Session

from datameta.config import SITE_ID_ENTITIES, SiteIdFormat

from .base import Base, HasSiteId

SITE_ID_FORMATS_KEY = "site_id_formats"

SEQUENCES = {
    entity: Sequence(f"siteid_{entity}_seq", metadata=Base.metadata) for entity in SITE_ID_ENTITIES
}


class SiteIdSpaceExhausted(RuntimeError):
    """More ids were asked for than the configured digits can express."""


def format_site_id(site_format: SiteIdFormat, number: int) -> str:
    digits = str(number).rjust(site_format.digits, "0")
    if len(digits) > site_format.digits:
        raise SiteIdSpaceExhausted(
            f"site id {number} does not fit {site_format.digits} digits "
            f"after {site_format.prefix!r}; raise the datameta.site_id_digits setting"
        )
    return site_format.prefix + digits


def site_id_formats(session: Session) -> Mapping[str, SiteIdFormat]:
    formats = session.info.get(SITE_ID_FORMATS_KEY)
    if formats is None:
        raise RuntimeError(
            "the session has no site id formats; use datameta.db.make_session_factory"
        )
    return formats


def allocate_site_ids(session: Session, entity: str, count: int) -> list[str]:
    """Reserve ``count`` new site ids for ``entity`` in one round trip."""
    if count <= 0:
        return []
    site_format = site_id_formats(session)[entity]
    numbers = session.scalars(
        select(SEQUENCES[entity].next_value()).select_from(func.generate_series(1, count))
    )
    return [format_site_id(site_format, number) for number in numbers]


def checked_site_id(session: Session, entity: str, site_id: str) -> str:
    """``site_id`` as SQL formatted it from a fresh number (see ``site_id_sql``), refused
    with ``SiteIdSpaceExhausted`` when the number outgrew the configured digits."""
    site_format = site_id_formats(session)[entity]
    if len(site_id) != len(site_format.prefix) + site_format.digits:
        format_site_id(site_format, int(site_id[len(site_format.prefix) :]))
    return site_id


def next_number_sql(entity: str) -> str:
    """SQL drawing the next number of ``entity``'s site ids, as text."""
    return f"nextval('{SEQUENCES[entity].name}')::text"


def site_id_sql(number: str) -> str:
    """SQL formatting the drawn ``number`` (SQL text, evaluated twice: a column, not a call)
    as a site id, from the parameters of ``site_id_parameters``; a number longer than the
    digits is kept whole (``lpad`` would cut it), for ``checked_site_id`` to refuse."""
    return f"(:site_id_prefix || repeat('0', :site_id_digits - length({number})) || {number})"


def site_id_parameters(session: Session, entity: str) -> dict[str, object]:
    site_format = site_id_formats(session)[entity]
    return {"site_id_prefix": site_format.prefix, "site_id_digits": site_format.digits}


def _assign_site_ids(session: Session, _flush_context: object, _instances: object) -> None:
    pending: dict[str, list[HasSiteId]] = {}
    for obj in session.new:
        # site_id is typed as the database holds it (never NULL); before its first flush
        # an object has none yet, which is what this looks for.
        if isinstance(obj, HasSiteId) and getattr(obj, "site_id", None) is None:
            pending.setdefault(obj.site_id_entity, []).append(obj)
    for entity, objects in pending.items():
        site_ids = allocate_site_ids(session, entity, len(objects))
        for obj, site_id in zip(objects, site_ids, strict=True):
            obj.site_id = site_id


def install_site_id_listener(session_class: type[Session] | object) -> None:
    """Fill missing site ids of new objects whenever sessions of this class or factory flush."""
    if not event.contains(session_class, "before_flush", _assign_site_ids):
        event.listen(session_class, "before_flush", _assign_site_ids)
