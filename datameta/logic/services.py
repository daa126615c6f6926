"""Services: pipelines that fill their own metadata columns after submission, once per set."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from datameta.errors import ErrorItem, Forbidden, ValidationFailed
from datameta.linting import lint_record
from datameta.linting.submission import FileFacts, SetFacts, association_problems
from datameta.logic.ids import entity_ref, find_by_id, get_by_id, get_visible
from datameta.logic.metadata import column_of
from datameta.logic.metadatasets import get_metadataset
from datameta.logic.submissions import linked_file_ids, linking_files
from datameta.models import (
    File,
    MetaDataSet,
    MetaDatumRecord,
    Service,
    ServiceExecution,
    User,
)
from datameta.security import authz

MAX_NAME_LENGTH = 200
NOT_A_TARGET = "Metadatum unknown or not associated with the specified service."


def _require_site_admin(actor: User) -> None:
    if not authz.can_manage_site(actor):
        raise Forbidden("Only site admins may manage services.")


def _check_name(db: Session, name: str, current: Service | None = None) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise ValidationFailed(
            [ErrorItem(message="The name must be 1 to 200 characters long.", field="name")]
        )
    taken = select(Service.id).where(func.lower(Service.name) == name.lower())
    if current is not None:
        taken = taken.where(Service.id != current.id)
    if db.scalar(taken) is not None:
        raise ValidationFailed(
            [ErrorItem(message="A service with that name already exists.", field="name")]
        )
    return name


def is_assigned(actor: User, service: Service) -> bool:
    return any(user.id == actor.id for user in service.users)


def get_service(db: Session, actor: User, service_id: str) -> Service:
    """A service the actor sees (site admins: all; others: their own), else NotFound."""

    def visible(service: Service) -> bool:
        return authz.can_view_service(actor, is_assigned(actor, service))

    return get_visible(db, Service, service_id, visible)


def list_services(db: Session, actor: User) -> list[Service]:
    """Site admins see every service; other users the services they are assigned to."""
    statement = select(Service).order_by(Service.name)
    if not authz.can_manage_site(actor):
        statement = statement.where(Service.users.any(User.id == actor.id))
    return list(db.scalars(statement))


def create_service(db: Session, actor: User, name: str) -> Service:
    _require_site_admin(actor)
    service = Service(name=_check_name(db, name))
    db.add(service)
    db.flush()
    return service


def update_service(
    db: Session,
    actor: User,
    service_id: str,
    *,
    name: str | None = None,
    user_ids: Sequence[str] | None = None,
) -> Service:
    """Rename and/or replace the assigned users; omitted fields stay as they are."""
    _require_site_admin(actor)
    service = get_by_id(db, Service, service_id, what="Service")
    if name is not None:
        service.name = _check_name(db, name, service)
    if user_ids is not None:
        users = []
        for given in dict.fromkeys(user_ids):
            user = find_by_id(db, User, given)
            if user is None:
                raise ValidationFailed(
                    [ErrorItem(message=f"User with id {given} does not exist.", field="userIds")]
                )
            users.append(user)
        service.users = users
    db.flush()
    return service


def execute_service(
    db: Session,
    actor: User,
    service_id: str,
    metadataset_id: str,
    record: Mapping[str, Any],
    file_ids: Sequence[str],
) -> MetaDataSet:
    """Store a service's values (and files) for one submitted metadataset, once.

    The service must be one the actor sees and runs, and the metadataset one they
    may read; what they may not see answers like an unknown id.
    """
    service = get_service(db, actor, service_id)
    if not authz.can_run_service(actor, is_assigned(actor, service)):
        raise Forbidden("Only users assigned to the service may report its results.")
    metadataset = get_metadataset(db, actor, metadataset_id)
    if metadataset.submission_id is None:
        raise ValidationFailed("The metadataset has not been submitted yet.")
    done = select(ServiceExecution.id).where(
        ServiceExecution.service_id == service.id,
        ServiceExecution.metadataset_id == metadataset.id,
    )
    if db.scalar(done) is not None:
        raise Forbidden("The service has reported its results for this metadataset already.")

    targets = {definition.name: definition for definition in service.target_metadata}
    unknown = [name for name in record if name not in targets]
    if unknown:
        raise ValidationFailed([ErrorItem(message=NOT_A_TARGET, field=name) for name in unknown])
    rules = [column_of(definition) for definition in targets.values()]
    result = lint_record(rules, record)
    files = _own_frozen_files(db, actor, file_ids)
    facts = [SetFacts(metadataset.id, False, result.values)]
    file_facts = [FileFacts(f.id, f.name, f.content_uploaded, False) for f in files]
    file_columns = [rule.name for rule in rules if rule.is_file]
    problems = [ErrorItem(message=e.message, field=e.field) for e in result.errors] + [
        ErrorItem(message=p.message, field=p.field)
        for p in association_problems(facts, file_facts, file_columns)
    ]
    if problems:
        raise ValidationFailed(problems)

    file_by_name: dict[str | None, int] = {file.name: file.id for file in files}
    rows = [
        {
            "metadataset_id": metadataset.id,
            "metadatum_id": definition.id,
            "value": result.values[name],
            "file_id": file_by_name.get(result.values[name]) if definition.isfile else None,
        }
        for name, definition in targets.items()
    ]
    upsert = pg_insert(MetaDatumRecord).values(rows)
    with linking_files(files):
        db.execute(
            upsert.on_conflict_do_update(
                index_elements=["metadataset_id", "metadatum_id"],
                set_={"value": upsert.excluded.value, "file_id": upsert.excluded.file_id},
            )
        )
    db.add(ServiceExecution(service_id=service.id, metadataset_id=metadataset.id, user_id=actor.id))
    db.flush()
    db.expire(metadataset)
    return metadataset


def _own_frozen_files(db: Session, actor: User, file_ids: Sequence[str]) -> list[File]:
    # Others' files are answered like unknown ones, submitted or not.
    files = [
        get_visible(db, File, given, lambda file: file.user_id == actor.id)
        for given in dict.fromkeys(file_ids)
    ]
    linked = linked_file_ids(db, files)
    problems = [
        ErrorItem(
            message="The file is not uploaded, or submitted already.",
            entity=entity_ref(file),
        )
        for file in files
        if not file.content_uploaded or file.id in linked
    ]
    if problems:
        raise ValidationFailed(problems)
    return files
