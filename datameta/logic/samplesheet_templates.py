"""Sample-sheet templates: the current submitter columns, described for a template."""

from __future__ import annotations

from sqlalchemy.orm import Session

from datameta.logic.metadata import submitter_definitions
from datameta.models import MetaDatum
from datameta.samplesheet_template import TemplateColumn


def template_column(definition: MetaDatum) -> TemplateColumn:
    return TemplateColumn(
        name=definition.name,
        mandatory=definition.mandatory,
        description=definition.long_description,
        pattern=definition.regexp,
        pattern_description=definition.short_description,
        datetime_format=definition.datetimefmt,
        is_file=definition.isfile,
        submission_unique=definition.submission_unique,
        site_unique=definition.site_unique,
        example=definition.example or "",
    )


def template_columns(db: Session) -> list[TemplateColumn]:
    """The columns submitters fill (service columns left out), in display order."""
    return [template_column(definition) for definition in submitter_definitions(db)]
