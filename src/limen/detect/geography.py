"""Where a country is: its approximate centre and standard UTC offset (travel, local time).

Event documents carry ``context.geo.country`` (ISO 3166-1 alpha-2) but no coordinates, so
travel speed is measured between country centres. That under-states the distance inside a
large country and over-states it across a border town, which is why the travel check
(see ``baseline``) only fires on long distances covered far faster than a flight could.
Offsets are standard time, whole hours, for the country's main population centre: they
only decide which hour of someone's day an event falls in, where an hour either way
changes nothing.
"""

from __future__ import annotations

import math
from typing import Final

__all__ = ["distance_km", "known", "utc_offset"]

# country: (latitude, longitude, standard UTC offset in hours)
_COUNTRIES: Final[dict[str, tuple[float, float, float]]] = {
    "AE": (24.4, 54.4, 4),
    "AF": (34.5, 69.2, 4.5),
    "AL": (41.3, 19.8, 1),
    "AM": (40.2, 44.5, 4),
    "AO": (-8.8, 13.2, 1),
    "AR": (-34.6, -58.4, -3),
    "AT": (48.2, 16.4, 1),
    "AU": (-33.9, 151.2, 10),
    "AZ": (40.4, 49.9, 4),
    "BA": (43.9, 18.4, 1),
    "BD": (23.8, 90.4, 6),
    "BE": (50.8, 4.4, 1),
    "BG": (42.7, 23.3, 2),
    "BH": (26.2, 50.6, 3),
    "BN": (4.9, 114.9, 8),
    "BO": (-16.5, -68.1, -4),
    "BR": (-23.5, -46.6, -3),
    "BW": (-24.7, 25.9, 2),
    "BY": (53.9, 27.6, 3),
    "CA": (43.7, -79.4, -5),
    "CH": (46.9, 7.4, 1),
    "CI": (5.3, -4.0, 0),
    "CL": (-33.4, -70.7, -4),
    "CM": (3.9, 11.5, 1),
    "CN": (31.2, 121.5, 8),
    "CO": (4.7, -74.1, -5),
    "CR": (9.9, -84.1, -6),
    "CU": (23.1, -82.4, -5),
    "CY": (35.2, 33.4, 2),
    "CZ": (50.1, 14.4, 1),
    "DE": (50.1, 8.7, 1),
    "DK": (55.7, 12.6, 1),
    "DO": (18.5, -69.9, -4),
    "DZ": (36.8, 3.1, 1),
    "EC": (-0.2, -78.5, -5),
    "EE": (59.4, 24.8, 2),
    "EG": (30.0, 31.2, 2),
    "ES": (40.4, -3.7, 1),
    "ET": (9.0, 38.7, 3),
    "FI": (60.2, 24.9, 2),
    "FJ": (-18.1, 178.4, 12),
    "FR": (48.9, 2.4, 1),
    "GB": (51.5, -0.1, 0),
    "GE": (41.7, 44.8, 4),
    "GH": (5.6, -0.2, 0),
    "GR": (38.0, 23.7, 2),
    "GT": (14.6, -90.5, -6),
    "HK": (22.3, 114.2, 8),
    "HN": (14.1, -87.2, -6),
    "HR": (45.8, 16.0, 1),
    "HU": (47.5, 19.0, 1),
    "ID": (-6.2, 106.8, 7),
    "IE": (53.3, -6.3, 0),
    "IL": (32.1, 34.8, 2),
    "IN": (19.1, 72.9, 5.5),
    "IQ": (33.3, 44.4, 3),
    "IR": (35.7, 51.4, 3.5),
    "IS": (64.1, -21.9, 0),
    "IT": (41.9, 12.5, 1),
    "JM": (18.0, -76.8, -5),
    "JO": (31.9, 35.9, 3),
    "JP": (35.7, 139.7, 9),
    "KE": (-1.3, 36.8, 3),
    "KG": (42.9, 74.6, 6),
    "KH": (11.6, 104.9, 7),
    "KP": (39.0, 125.8, 9),
    "KR": (37.6, 127.0, 9),
    "KW": (29.4, 48.0, 3),
    "KZ": (43.2, 76.9, 5),
    "LA": (18.0, 102.6, 7),
    "LB": (33.9, 35.5, 2),
    "LK": (6.9, 79.9, 5.5),
    "LT": (54.7, 25.3, 2),
    "LU": (49.6, 6.1, 1),
    "LV": (56.9, 24.1, 2),
    "LY": (32.9, 13.2, 2),
    "MA": (33.6, -7.6, 0),
    "MD": (47.0, 28.9, 2),
    "ME": (42.4, 19.3, 1),
    "MK": (42.0, 21.4, 1),
    "MM": (16.8, 96.2, 6.5),
    "MN": (47.9, 106.9, 8),
    "MO": (22.2, 113.5, 8),
    "MT": (35.9, 14.5, 1),
    "MU": (-20.2, 57.5, 4),
    "MX": (19.4, -99.1, -6),
    "MY": (3.1, 101.7, 8),
    "MZ": (-25.9, 32.6, 2),
    "NA": (-22.6, 17.1, 2),
    "NG": (6.5, 3.4, 1),
    "NI": (12.1, -86.3, -6),
    "NL": (52.4, 4.9, 1),
    "NO": (59.9, 10.8, 1),
    "NP": (27.7, 85.3, 5.75),
    "NZ": (-36.8, 174.8, 12),
    "OM": (23.6, 58.4, 4),
    "PA": (9.0, -79.5, -5),
    "PE": (-12.0, -77.0, -5),
    "PG": (-9.4, 147.2, 10),
    "PH": (14.6, 121.0, 8),
    "PK": (24.9, 67.0, 5),
    "PL": (52.2, 21.0, 1),
    "PS": (31.9, 35.2, 2),
    "PT": (38.7, -9.1, 0),
    "PY": (-25.3, -57.6, -3),
    "QA": (25.3, 51.5, 3),
    "RO": (44.4, 26.1, 2),
    "RS": (44.8, 20.5, 1),
    "RU": (55.8, 37.6, 3),
    "RW": (-1.9, 30.1, 2),
    "SA": (24.7, 46.7, 3),
    "SD": (15.6, 32.5, 2),
    "SE": (59.3, 18.1, 1),
    "SG": (1.35, 103.8, 8),
    "SI": (46.1, 14.5, 1),
    "SK": (48.1, 17.1, 1),
    "SN": (14.7, -17.5, 0),
    "SV": (13.7, -89.2, -6),
    "SY": (33.5, 36.3, 3),
    "TH": (13.8, 100.5, 7),
    "TJ": (38.6, 68.8, 5),
    "TM": (37.9, 58.4, 5),
    "TN": (36.8, 10.2, 1),
    "TR": (41.0, 29.0, 3),
    "TT": (10.7, -61.5, -4),
    "TW": (25.0, 121.5, 8),
    "TZ": (-6.8, 39.3, 3),
    "UA": (50.5, 30.5, 2),
    "UG": (0.3, 32.6, 3),
    "US": (39.8, -98.6, -6),
    "UY": (-34.9, -56.2, -3),
    "UZ": (41.3, 69.2, 5),
    "VE": (10.5, -66.9, -4),
    "VN": (21.0, 105.8, 7),
    "YE": (15.4, 44.2, 3),
    "ZA": (-26.2, 28.0, 2),
    "ZM": (-15.4, 28.3, 2),
    "ZW": (-17.8, 31.0, 2),
}

_EARTH_RADIUS_KM: Final = 6371.0


def known(country: str) -> bool:
    """True if the table has the country's centre and offset."""
    return country in _COUNTRIES


def distance_km(a: str, b: str) -> float | None:
    """Great-circle distance between two countries' centres; ``None`` if either is unknown."""
    first = _COUNTRIES.get(a)
    second = _COUNTRIES.get(b)
    if first is None or second is None:
        return None
    lat1, lon1 = math.radians(first[0]), math.radians(first[1])
    lat2, lon2 = math.radians(second[0]), math.radians(second[1])
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def utc_offset(country: str) -> float | None:
    """The country's standard offset from UTC in hours; ``None`` if unknown."""
    entry = _COUNTRIES.get(country)
    return entry[2] if entry is not None else None
