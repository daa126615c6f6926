"""The data model: typed SQLAlchemy models. The schema itself is made by the migrations."""

from .accounts import (
    ApiKey,
    Group,
    LoginAttempt,
    PasswordToken,
    RegistrationRequest,
    TokenPurpose,
    UsedPassword,
    User,
)
from .appsettings import AppSetting, SettingType
from .base import Base
from .metadata import MetadataVersion, MetaDatum, Service, ServiceExecution, service_user
from .siteids import SEQUENCES, allocate_site_ids
from .submissions import DeletedObject, File, MetaDataSet, MetaDatumRecord, Submission

__all__ = [
    "SEQUENCES",
    "ApiKey",
    "AppSetting",
    "Base",
    "DeletedObject",
    "File",
    "Group",
    "LoginAttempt",
    "MetaDataSet",
    "MetaDatum",
    "MetaDatumRecord",
    "MetadataVersion",
    "PasswordToken",
    "RegistrationRequest",
    "Service",
    "ServiceExecution",
    "SettingType",
    "Submission",
    "TokenPurpose",
    "UsedPassword",
    "User",
    "allocate_site_ids",
    "service_user",
]
