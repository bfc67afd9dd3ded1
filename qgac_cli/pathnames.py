"""File names as text for JSON, which holds only text while a Linux file name is bytes."""

from __future__ import annotations

import base64
import os


def json_path(key: str, path: str) -> dict:
    """A path for JSON: as it is where its name is UTF-8; else, since JSON holds only text,
    with each byte that is not UTF-8 written \\xNN under `key`, and the exact bytes, base64,
    under `key`_bytes (a name made of bytes, as Linux allows, read back with
    base64.b64decode)."""
    try:
        path.encode("utf-8")
        return {key: path}
    except UnicodeEncodeError:  # undecodable bytes, held by Python as lone surrogates
        raw = os.fsencode(path)
        return {key: raw.decode("utf-8", "backslashreplace"), f"{key}_bytes": base64.b64encode(raw).decode()}
