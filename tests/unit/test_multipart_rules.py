"""The part size and the multipart ETag, as the site computes them and as the command
line computes them without asking (it imports nothing of the server)."""

import hashlib

import pytest

from datameta import cli
from datameta.logic.multipart import MAX_PARTS, choose_part_size, part_count
from datameta.storage import multipart_etag

MiB = 1024 * 1024


@pytest.mark.parametrize(
    "size",
    [1, 16 * MiB, 16 * MiB + 1, 156 * 1024 * MiB, 157 * 1024 * MiB, 5 * 1024**4 - 1, 5 * 1024**4],
)
def test_the_command_line_expects_the_part_size_the_site_chooses(size):
    assert cli.expected_part_size(size) == choose_part_size(size)
    assert part_count(size, choose_part_size(size)) <= MAX_PARTS


def test_the_site_and_the_command_line_compute_the_same_multipart_etag():
    parts = [b"a" * 100, b"b" * 100, b"c"]
    digests = [hashlib.md5(part).digest() for part in parts]  # noqa: S324
    expected = hashlib.md5(b"".join(digests)).hexdigest() + "-3"  # noqa: S324
    assert multipart_etag([digest.hex() for digest in digests]) == expected
    assert cli.multipart_etag(digests) == expected


def test_parts_whose_etags_are_not_md5s_make_no_multipart_etag():
    assert multipart_etag(["0" * 32, "not-an-md5"]) is None
    assert multipart_etag([]) is None
