"""The one list of parcel-forwarder and post-box patterns the risk signals match addresses against.

A forwarding service (the customer's "US address" at a reshipper's warehouse) hides where the goods
really go, which is how stolen-card orders are shipped abroad; a post-office box or parcel locker
cannot take a signature. Both are reasons to look closer, not proof of fraud. The patterns are
matched on the address lines and company of the shipping address, case- and accent-insensitively.
"""

from __future__ import annotations

import re
import unicodedata

# Forwarders and reshippers that appear in customers' shipping addresses under their own name.
FORWARDER_NAMES = (
    "myus", "shipito", "stackry", "planet express", "forward2me", "shop and ship", "shopandship",
    "aramex shop", "usgobuy", "ship7", "parcl", "fishisfast", "borderlinx", "bongo international",
    "comgateway", "viabox", "reship", "jetforwarder", "qwintry", "polar express forwarding",
    "eshopworld", "ship2me", "myustools", "packagefwd", "kinabox", "buyandship",
    "blackbox forwarding", "sellerpass",
)
# Words an address uses when it is a forwarding or freight-consolidation warehouse.
FORWARDER_WORDS = (
    r"\bforwarding\b", r"\bforwarder\b", r"\breship(?:per|ping)?\b", r"\bfreight\s+(?:forward|consolidat)",
    r"\bparcel\s+forward", r"\bpackage\s+forward", r"\bmail\s*forward",
)
# Post-office boxes, parcel lockers and military post, in the languages the shop writes in.
PO_BOX_PATTERNS = (
    r"\bp\.?\s*o\.?\s*box\b", r"\bpost\s+office\s+box\b", r"\bpo\s*b\b", r"\bbo[iî]te\s+postale\b",
    r"\bb\.?p\.?\s*\d+\b", r"\bpostfach\b", r"\bpackstation\b", r"\bpostfiliale\b",
    r"\bapartado(?:\s+de\s+correos)?\b", r"\bapdo\.?\s*\d+", r"\bcasilla\s+de\s+correo",
    r"\b(?:apo|fpo|dpo)\b\s*(?:a[aep])?\b", r"\bparcel\s*locker\b", r"\bamazon\s+(?:locker|hub)\b",
)

_FORWARDER = re.compile(
    "|".join([r"\b" + re.escape(name).replace(r"\ ", r"\s*") + r"\b" for name in FORWARDER_NAMES]
             + list(FORWARDER_WORDS))
)
_PO_BOX = re.compile("|".join(PO_BOX_PATTERNS))


def _plain(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(folded.lower().split())


def _text(*parts: str | None) -> str:
    return _plain(" ".join(part for part in parts if part))


def is_forwarder(*parts: str | None) -> bool:
    return bool(_FORWARDER.search(_text(*parts)))


def is_po_box(*parts: str | None) -> bool:
    return bool(_PO_BOX.search(_text(*parts)))
