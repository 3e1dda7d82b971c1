"""The shared marshmallow fields: what they accept, how they normalise, what they say."""

from __future__ import annotations

import marshmallow as ma
import pytest

from gamekeys_platform.countries import normalize_country
from gamekeys_platform.fields import Country


class CountrySchema(ma.Schema):
    country = Country(required=True)


@pytest.mark.parametrize(("given", "stored"), [("DE", "DE"), ("de", "DE"), ("Us", "US")])
def test_country_accepts_iso_codes_in_any_case(given, stored):
    assert CountrySchema().load({"country": given}) == {"country": stored}


@pytest.mark.parametrize("bad", ["XX", "ZZ", "DEU", "D", "", "D1", "ÄÖ", 49])
def test_country_refuses_what_is_not_an_iso_code(bad):
    with pytest.raises(ma.ValidationError) as raised:
        CountrySchema().load({"country": bad})
    [message] = raised.value.messages["country"]
    assert "ISO 3166-1 alpha-2" in message or message == "Not a valid string."


def test_normalize_country_names_the_bad_code():
    with pytest.raises(ValueError, match="XX is not an ISO 3166-1 alpha-2 country code"):
        normalize_country("XX")
