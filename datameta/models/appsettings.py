"""Application settings that site admins change at runtime (mail texts, password policy, ...)."""

from __future__ import annotations

import enum
from datetime import date, time

from sqlalchemy import CheckConstraint, Enum, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, HasUuid


class SettingType(enum.Enum):
    INT = "int"
    FLOAT = "float"
    STRING = "string"
    BOOL = "bool"
    DATE = "date"
    TIME = "time"


# The column that holds the value of each type; exactly that one is set.
VALUE_COLUMNS = {
    SettingType.INT: "int_value",
    SettingType.FLOAT: "float_value",
    SettingType.STRING: "str_value",
    SettingType.BOOL: "bool_value",
    SettingType.DATE: "date_value",
    SettingType.TIME: "time_value",
}


def _one_typed_value_check() -> str:
    cases = []
    for setting_type, column in VALUE_COLUMNS.items():
        others = " AND ".join(
            f"{other} IS NULL" for other in VALUE_COLUMNS.values() if other != column
        )
        cases.append(f"(value_type = '{setting_type.value}' AND {column} IS NOT NULL AND {others})")
    return " OR ".join(cases)


class AppSetting(HasUuid, Base):
    __tablename__ = "appsettings"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(Text, unique=True)
    value_type: Mapped[SettingType] = mapped_column(
        Enum(SettingType, name="settingtype", values_callable=lambda e: [m.value for m in e])
    )
    int_value: Mapped[int | None]
    float_value: Mapped[float | None]
    str_value: Mapped[str | None] = mapped_column(Text)
    bool_value: Mapped[bool | None]
    date_value: Mapped[date | None]
    time_value: Mapped[time | None]

    __table_args__ = (CheckConstraint(_one_typed_value_check(), name="one_typed_value"),)

    @property
    def value(self) -> int | float | str | bool | date | time:
        return getattr(self, VALUE_COLUMNS[self.value_type])

    @value.setter
    def value(self, new_value: int | float | str | bool | date | time) -> None:
        setattr(self, VALUE_COLUMNS[self.value_type], new_value)
