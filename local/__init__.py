"""The local stack (dev tooling, never deployed).

The Lambda code lives in the layer (layers/vaultpay), which Lambda puts on sys.path; these
tools run beside it, so they put it there too.
"""

import sys
from pathlib import Path

_LAYER = str(Path(__file__).resolve().parent.parent / "layers" / "vaultpay")
if _LAYER not in sys.path:
    sys.path.insert(0, _LAYER)
