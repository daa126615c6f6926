"""Calls of DataMeta 1.x's client library that its `dmclient` command has no command for.

Run with the python of the client's own venv (see test_datameta_1_client.py):

    python client_lib_calls.py server-info | whoami | group-submissions GROUP_ID
                               | metadataset ID | file ID

Reads DATAMETA_URL and DATAMETA_TOKEN as `dmclient` does, and prints the answer
through the client's own printing, as its commands do.
"""

from __future__ import annotations

import sys

from datameta_client.config import get_config
from datameta_client.printing import result
from datameta_client_lib import ApiClient
from datameta_client_lib.api import (
    files_api,
    groups_api,
    metadata_api,
    remote_procedure_calls_api,
    server_api,
)


def call(operation: str, arguments: list[str]) -> object:
    with ApiClient(get_config()) as client:
        if operation == "server-info":
            return server_api.ServerApi(client).get_server_info().to_dict()
        if operation == "whoami":
            rpc = remote_procedure_calls_api.RemoteProcedureCallsApi(client)
            return rpc.get_user_information().to_dict()
        if operation == "group-submissions":
            answer = groups_api.GroupsApi(client).get_group_submissions(arguments[0])
            return [submission.to_dict() for submission in answer.value]
        if operation == "metadataset":
            return metadata_api.MetadataApi(client).get_meta_data_set(arguments[0]).to_dict()
        if operation == "file":
            return files_api.FilesApi(client).get_file(arguments[0]).to_dict()
    raise SystemExit(f"unknown operation {operation}")


if __name__ == "__main__":
    result(call(sys.argv[1], sys.argv[2:]))
