"""Site ids are the configured prefix and a zero-padded number."""

import pytest

from datameta.config import SiteIdFormat
from datameta.models.siteids import SiteIdSpaceExhausted, format_site_id


def test_numbers_are_padded_to_the_configured_digits():
    assert format_site_id(SiteIdFormat("DMR-", 8), 42) == "DMR-00000042"


def test_the_largest_number_that_fits_is_allowed():
    assert format_site_id(SiteIdFormat("X", 3), 999) == "X999"


def test_a_number_beyond_the_digits_is_refused_not_widened():
    with pytest.raises(SiteIdSpaceExhausted, match="site_id_digits"):
        format_site_id(SiteIdFormat("X", 3), 1000)
