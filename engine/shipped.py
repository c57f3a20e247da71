"""The data this package ships (dictionaries, request-processor templates, sample configs), found through
importlib.resources, and CGRateS's install paths that stand for it.

CGRateS configs name the folders its packages install (``/usr/share/cgrates/diameter/dict``, ...); where this
package ships the same kind of data, such a path is served from the shipped copy. The shipped dictionaries are
written for that: the Diameter tree carries the vendor AVPs CGRateS's configs read (Huawei's IN-Information,
Ericsson, Nokia, Metaswitch, Vodafone, 3GPP Gx/Sy, OpenSIPS's SIP accounting), the RADIUS tree the attributes
Kamailio and OpenSIPS send (dictionary.sip) beside the RFC and vendor sets; tests/compat/test_vendor_dictionaries.py
checks them against CGRateS's own files. Paths written
``pycgrates:<folder>/<file>`` name shipped data explicitly (sample configs include shipped request processors
that way, so a copied sample keeps working).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

#: the scheme of a path into the shipped data: ``pycgrates:templates/diameter/gy_voice.json``
SCHEME = "pycgrates:"
#: the top-level shipped folders and the packages they install as
_PACKAGES = {"dictionaries": "pycgrates.dictionaries", "templates": "pycgrates.templates",
             "config": "pycgrates.config"}
#: CGRateS install folders → the shipped folder serving them
CGRATES_PATHS = {
    "/usr/share/cgrates/diameter/dict": "dictionaries/diameter",
    "/usr/share/cgrates/radius/dict": "dictionaries/radius",
}


class ShippedDataError(LookupError):
    pass


def shipped_path(relative: str) -> Path:
    """``dictionaries/diameter`` → where that shipped folder (or file) is on disk."""
    top, _, rest = relative.strip("/").partition("/")
    package = _PACKAGES.get(top)
    if package is None:
        raise ShippedDataError(f"{relative!r}: no shipped folder {top!r} (one of {', '.join(sorted(_PACKAGES))})")
    root = Path(str(files(package)))
    return root / rest if rest else root


def resolve(path: str) -> Path | None:
    """A config path as the engine reads it: ``pycgrates:...`` and CGRateS's install folders (and what lies
    under them) resolve into the shipped data; any other path is None (the caller reads it as written)."""
    text = str(path).strip()
    if text.startswith(SCHEME):
        return shipped_path(text[len(SCHEME):])
    clean = text.rstrip("/")
    for cgrates, shipped in CGRATES_PATHS.items():
        if clean == cgrates or clean.startswith(cgrates + "/"):
            return shipped_path(shipped + clean[len(cgrates):])
    return None


__all__ = ["CGRATES_PATHS", "SCHEME", "ShippedDataError", "resolve", "shipped_path"]
