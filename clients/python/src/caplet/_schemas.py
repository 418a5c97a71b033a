"""caplet's public schemas, shipped inside this package and loaded once.

pycapnp needs `/capnp/schema.capnp` (imported by `caplet.capnp`) on its
import path; it ships with pycapnp itself, one folder above the `capnp`
package, so that folder is passed as the import path here and users never
have to know.
"""

from __future__ import annotations

import os
from typing import Any, Dict

import capnp

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema")
IMPORTS = [os.path.dirname(os.path.dirname(os.path.abspath(capnp.__file__)))]


_loaded: Dict[str, Any] = {}


def load(path: str) -> Any:
    """Loads a `.capnp` file with the import path caplet's schemas need,
    once per file (pycapnp refuses a second file with the same id)."""
    key = os.path.realpath(path)
    if key not in _loaded:
        _loaded[key] = capnp.load(key, imports=IMPORTS)
    return _loaded[key]


caplet_capnp: Any = load(os.path.join(SCHEMA_DIR, "caplet.capnp"))
fs_capnp: Any = load(os.path.join(SCHEMA_DIR, "fs.capnp"))
kv_capnp: Any = load(os.path.join(SCHEMA_DIR, "kv.capnp"))
http_capnp: Any = load(os.path.join(SCHEMA_DIR, "http.capnp"))
