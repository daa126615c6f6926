"""initialize_datameta_db: seed an empty site with its first group and site admin."""

from __future__ import annotations

import argparse
import sys

from datameta.config import script_settings
from datameta.db import advisory_lock, make_engine, make_session_factory
from datameta.logic.bootstrap import InitialUser, create_initial_admin
from datameta.storage import storage_from_settings

SEEDING_LOCK_ID = 0x446D536565640001


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="initialize_datameta_db",
        description="Create the first group and a site admin; does nothing when users exist.",
    )
    parser.add_argument("-c", "--config", required=True, help="settings file, e.g. production.ini")
    parser.add_argument("--initial-user-fullname", required=True)
    parser.add_argument("--initial-user-email", required=True)
    parser.add_argument("--initial-user-pass", required=True)
    parser.add_argument("--initial-group", required=True)
    parser.add_argument(
        "--initial-api-key", help="also create a non-expiring API key with this token"
    )
    parser.add_argument(
        "--create-bucket",
        action="store_true",
        help="also create the S3 bucket of the settings unless it exists",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = script_settings(args.config)
    engine = make_engine(settings)
    session_factory = make_session_factory(engine, settings)
    initial = InitialUser(
        fullname=args.initial_user_fullname,
        email=args.initial_user_email,
        password=args.initial_user_pass,
        group_name=args.initial_group,
        api_key=args.initial_api_key,
    )
    # Replicas that start at once seed one after the other; the later ones find the admin.
    with advisory_lock(engine, SEEDING_LOCK_ID), session_factory.begin() as db:
        user = create_initial_admin(db, initial)
    engine.dispose()
    if args.create_bucket and storage_from_settings(settings).create_bucket_if_missing():
        print(f"initialize_datameta_db: created S3 bucket {settings.s3.bucket}")
    if user is None:
        print("initialize_datameta_db: users exist already, nothing to do")
    else:
        print(f"initialize_datameta_db: created site admin {initial.email.lower()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
