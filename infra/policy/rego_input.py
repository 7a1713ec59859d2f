"""Hand a JSON document to regopy with one C call per node.

regopy's ``Input`` walks the document through a Python wrapper per value (an isinstance
chain, a buffer copy per string, a return-code check per call). Converting half of a
typical evaluation's time went there; this walk makes the same C calls directly.
"""

from __future__ import annotations

from typing import Any

from regopy import rego_shared

_rego = rego_shared.rego
_STRING, _INT, _FLOAT = _rego.regoInputString, _rego.regoInputInt, _rego.regoInputFloat
_BOOL, _NULL = _rego.regoInputBoolean, _rego.regoInputNull
_ITEM, _OBJECT, _ARRAY = _rego.regoInputObjectItem, _rego.regoInputObject, _rego.regoInputArray


class InputError(ValueError):
    """The document holds something that is not JSON, or regopy refused a value."""


def set_input(interpreter: Any, document: Any) -> None:  # noqa: ANN401  # regopy's untyped handles
    """Make ``document`` (JSON types only) the input of ``interpreter``."""
    handle = rego_shared.rego_new_input()
    try:
        failures = _add(handle, document)
        if failures:
            raise InputError(f"regopy refused {failures} value(s) of the input")
        if _rego.regoSetInput(interpreter, handle) != 0:
            raise InputError("regopy refused the input document")
    finally:
        rego_shared.rego_free_input(handle)


def _add(handle: Any, value: Any) -> int:  # noqa: ANN401, PLR0911  # one branch per JSON type
    kind = type(value)
    if kind is str:
        return int(_STRING(handle, value.encode()))
    if kind is bool:
        return int(_BOOL(handle, value))
    if kind is int:
        return int(_INT(handle, value))
    if kind is float:
        return int(_FLOAT(handle, value))
    if value is None:
        return int(_NULL(handle))
    if kind is dict:
        failures = 0
        for key, item in value.items():
            failures += _STRING(handle, str(key).encode()) + _add(handle, item) + _ITEM(handle)
        return failures + int(_OBJECT(handle, len(value)))
    if kind is list or kind is tuple:
        failures = sum(_add(handle, item) for item in value)
        return failures + int(_ARRAY(handle, len(value)))
    raise InputError(f"cannot pass a {kind.__name__} to the policy: JSON types only")
