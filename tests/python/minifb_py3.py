"""Loads minifb 1.3 (Python 2 code, as published on PyPI) under Python 3.

minifb's own source is used unchanged except for three Python 2 leftovers,
patched at import time: it feeds `str` to MD5, posts a `str` body with
urlopen, and names `basestring`; `cgi` (only used by `validate`) is gone
from newer Pythons. Everything that touches the wire (parameter set, call_id
counter, signature order, JSON parsing, FacebookError) is minifb's.
"""

import hashlib
import importlib.util
import types
import urllib.request


class _Md5:
    """hashlib.md5 that also takes str and memoryview, as Python 2 did."""

    def __init__(self):
        self._h = hashlib.md5()

    def update(self, value):
        if isinstance(value, str):
            value = value.encode("utf-8")
        self._h.update(bytes(value))

    def hexdigest(self):
        return self._h.hexdigest()


def _urlopen(url, data=None):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return urllib.request.urlopen(url, data)


def load(url):
    """minifb as a module, calling the REST server at `url`."""
    spec = importlib.util.find_spec("minifb")
    source = spec.loader.get_source("minifb")
    source = source.replace("import cgi\n", "try:\n    import cgi\nexcept ImportError:\n    cgi = None\n", 1)
    module = types.ModuleType("minifb")
    module.__file__ = spec.origin
    exec(compile(source, spec.origin, "exec"), module.__dict__)
    module.md5 = _Md5
    module.urlopen = _urlopen
    module.basestring = str
    module._fbUrl = url
    return module
