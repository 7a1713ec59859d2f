"""Hand a JSON document to regopy: one rego-cpp input call per node.

regopy's ``Input`` walks the document through a Python wrapper per value (an isinstance
chain, a buffer copy per string, a return-code check per call). The C module
``_rego_input.c`` makes the same calls from C, given their addresses in regopy's own
library; the walk here makes them through ctypes (about a microsecond a call) and is
the fallback when the C module is not built, and the reference it is tested against.
"""

from __future__ import annotations

import ctypes
import functools
import logging
from collections.abc import Callable
from types import ModuleType
from typing import Any

from regopy import rego_shared

from domain.values import INT64
from infra.native_build import REGO_INPUT

log = logging.getLogger(__name__)

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
        failures = adder()(handle, document)
        if failures:
            raise InputError(f"regopy refused {failures} value(s) of the input")
        if _rego.regoSetInput(interpreter, handle) != 0:
            raise InputError("regopy refused the input document")
    finally:
        rego_shared.rego_free_input(handle)


@functools.cache
def adder() -> Callable[[Any, Any], int]:
    """``(input handle, document) -> refused calls``: the C walk if built, else Python's."""
    module = native_module()
    if module is None:
        return python_add
    native = module.add

    def add(handle: Any, document: Any) -> int:  # noqa: ANN401  # regopy's handle, JSON
        try:
            return int(native(handle, document))
        except TypeError as exc:  # the C walk's word for what is not JSON
            raise InputError(str(exc)) from exc
        except OverflowError as exc:
            raise InputError(f"an integer does not fit in 64 bits: {exc}") from exc

    return add


SIGNATURES = (
    (_STRING, [ctypes.c_void_p, ctypes.c_char_p]), (_INT, [ctypes.c_void_p, ctypes.c_int64]),
    (_FLOAT, [ctypes.c_void_p, ctypes.c_double]), (_BOOL, [ctypes.c_void_p, ctypes.c_bool]),
    (_NULL, [ctypes.c_void_p]), (_ITEM, [ctypes.c_void_p]),
    (_OBJECT, [ctypes.c_void_p, ctypes.c_uint32]), (_ARRAY, [ctypes.c_void_p, ctypes.c_uint32]),
)  # fmt: skip
"""The argument types the C module calls each input function with, in its order."""


@functools.cache
def native_module() -> ModuleType | None:
    """The built C module, bound to regopy's input functions, if built from its source.

    Not used if regopy declares any of those functions with other argument or result
    types than the C module calls them with (a regopy release that changed its C API).
    """
    module = REGO_INPUT.load("infra.policy", "policy inputs passed through ctypes")
    if module is None:
        return None
    for function, arguments in SIGNATURES:
        if function.argtypes != arguments or function.restype is not ctypes.c_uint32:
            log.warning("policy inputs passed through ctypes: regopy declares %s(%s) -> %s, "
                        "not what the C module calls", function.__name__,
                        function.argtypes, function.restype)  # fmt: skip
            return None
    module.bind(*(ctypes.cast(function, ctypes.c_void_p).value or 0 for function, _ in SIGNATURES))
    return module


def python_add(handle: Any, value: Any) -> int:  # noqa: ANN401, PLR0911  # one branch per JSON type
    """Add ``value`` to the input ``handle`` through ctypes; the number of refused calls."""
    kind = type(value)
    if kind is str:
        return int(_STRING(handle, value.encode()))
    if kind is bool:
        return int(_BOOL(handle, value))
    if kind is int:
        if not INT64[0] <= value <= INT64[1]:  # ctypes would pass it wrapped round
            raise InputError(f"integer {value} does not fit in 64 bits")
        return int(_INT(handle, value))
    if kind is float:
        return int(_FLOAT(handle, value))
    if value is None:
        return int(_NULL(handle))
    if kind is dict:
        failures = 0
        for key, item in value.items():
            failures += (
                _STRING(handle, str(key).encode()) + python_add(handle, item) + _ITEM(handle)
            )
        return failures + int(_OBJECT(handle, len(value)))
    if kind is list or kind is tuple:
        failures = sum(python_add(handle, item) for item in value)
        return failures + int(_ARRAY(handle, len(value)))
    raise InputError(f"cannot pass a {kind.__name__} to the policy: JSON types only")
