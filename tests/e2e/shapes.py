"""Checks a response against the MDE property lists in golden/mde_shapes.json, key by key."""
import json
import os
import re

GOLDEN = json.load(open(os.path.join(os.path.dirname(__file__), "golden", "mde_shapes.json")))
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z$")


def check_value(entity, prop, kind, value):
    nullable = kind.endswith("?")
    kind = kind.rstrip("?")
    where = f"{entity}.{prop}={value!r}"
    if value is None:
        assert nullable, f"{where}: may not be null"
        return
    if kind == "string":
        assert isinstance(value, str), where
    elif kind == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), where
    elif kind == "boolean":
        assert isinstance(value, bool), where
    elif kind == "array":
        assert isinstance(value, list), where
    elif kind == "object":
        assert isinstance(value, dict), where
    elif kind == "datetime":
        assert isinstance(value, str) and DATETIME.match(value), where
    elif kind.startswith("enum:"):
        assert value in kind[5:].split(","), where
    else:
        raise AssertionError(f"unknown kind {kind}")


def assert_shape(entity, obj, extra_ok=()):
    """Every documented property present with its JSON type; nothing undocumented beyond extra_ok."""
    spec = GOLDEN[entity]
    missing = set(spec) - set(obj)
    assert not missing, f"{entity} lacks {sorted(missing)}"
    unknown = set(obj) - set(spec) - set(extra_ok)
    assert not unknown, f"{entity} has undocumented {sorted(unknown)}"
    for prop, kind in spec.items():
        check_value(entity, prop, kind, obj[prop])
