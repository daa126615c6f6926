"""JSON arrays written batch by batch."""

import json

import pytest

from datameta.api.streaming import json_array


@pytest.mark.parametrize(
    "batches",
    [[], [[]], [[{"a": 1}]], [[{"a": 1}, {"b": None}], [], [{"c": 'ü"'}]], [[1], [2], [3]]],
)
def test_the_chunks_join_to_the_json_of_every_item(batches):
    body = b"".join(json_array(iter(batches)))
    assert json.loads(body) == [item for batch in batches for item in batch]


def test_one_chunk_per_batch_so_memory_holds_one_batch():
    assert len(list(json_array(iter([[1, 2], [3], [4, 5, 6]])))) == 2 + 3


def test_closing_the_body_early_closes_the_batches():
    closed = []

    def batches():
        try:
            yield [1]
            yield [2]
        finally:
            closed.append(True)

    body = json_array(batches())
    next(body), next(body)
    body.close()
    assert closed == [True]
