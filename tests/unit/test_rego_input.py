"""Policy inputs reach regopy the same through the C walk and the ctypes walk."""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from regopy import Interpreter, rego_shared

from domain.values import INT64
from infra.native_build import REGO_INPUT
from infra.policy import rego_input

Walk = Callable[[Any, Any], int]

ECHO = Interpreter()
ECHO.add_module("echo.rego", "package echo\nimport rego.v1\ndocument := input\n")
COMPILED = ECHO.build(None, ["echo/document"])

JSON = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(*INT64), st.text(max_size=20),
        st.floats(allow_nan=False, allow_infinity=False),
    ),
    lambda inner: st.lists(inner, max_size=4)
    | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip


def _native() -> Walk:
    walk = rego_input.adder()
    assert walk is not rego_input.python_add, "the C module is not in use"
    return walk


def _seen(walk: Walk, document: Any) -> str:
    """What a policy reads as ``input`` after ``walk`` passed ``document``."""
    handle = rego_shared.rego_new_input()
    try:
        assert walk(handle, document) == 0
        assert rego_shared.rego.regoSetInput(ECHO._impl, handle) == 0  # noqa: SLF001  # regopy's handle
    finally:
        rego_shared.rego_free_input(handle)
    output = rego_shared.rego_bundle_query_entrypoint(ECHO._impl, COMPILED._impl, "echo/document")  # noqa: SLF001
    try:
        return str(rego_shared.rego_output_string(output))
    finally:
        rego_shared.rego_free_output(output)


def _refusal(walk: Walk, document: Any) -> str:
    handle = rego_shared.rego_new_input()
    try:
        walk(handle, document)
    except Exception as exc:  # noqa: BLE001  # the kind of refusal is what is compared
        return type(exc).__name__
    finally:
        rego_shared.rego_free_input(handle)
    return "accepted"


def test_the_walk_in_use_is_the_c_module_built_from_its_source() -> None:
    """`make install` built the module from this very source, and set_input uses it."""
    assert REGO_INPUT.is_current()
    module = rego_input.native_module()
    assert module is not None
    assert REGO_INPUT.source_digest() == module.SOURCE_SHA256
    _native()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(document=JSON)
def test_both_walks_give_the_policy_the_same_input(document: Any) -> None:
    """Any JSON document (tuples as arrays, any nesting) reads back the same through both."""
    assert _seen(_native(), document) == _seen(rego_input.python_add, document)


@pytest.mark.parametrize(
    "document",
    [{"a": {1, 2}}, [b"bytes"], {"n": 2**63}, [-(2**63) - 1], {"x": object()}, "\udc80"],
    ids=["set", "bytes", "int-above", "int-below", "object", "surrogate"],
)
def test_both_walks_refuse_what_is_not_json_alike(document: Any) -> None:
    """Non-JSON values and integers past 64 bits are refused by both, with the same error."""
    native = _refusal(_native(), document)
    assert native in {"InputError", "UnicodeEncodeError"}
    assert native == _refusal(rego_input.python_add, document)


def test_the_edges_of_64_bits_pass_unchanged() -> None:
    """The smallest and largest 64-bit integers reach the policy as they are."""
    assert _seen(_native(), list(INT64)) == f'{{"expressions":[[{INT64[0]},{INT64[1]}]]}}'


def test_a_document_nested_too_deep_is_an_error_not_a_crash() -> None:
    """100,000 nested lists: a RecursionError from the C walk, the process lives on."""
    document: Any = 1
    for _ in range(100_000):
        document = [document]
    assert _refusal(_native(), document) == "RecursionError"


def test_a_regopy_whose_input_functions_changed_gets_the_ctypes_walk(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """If regopy declared a size as 64 bits, the C module (calling with 32) is not used."""
    monkeypatch.setattr(
        rego_shared.rego.regoInputArray, "argtypes", [ctypes.c_void_p, ctypes.c_int64]
    )
    with caplog.at_level(logging.WARNING):
        assert rego_input.native_module.__wrapped__() is None
    assert "regoInputArray" in caplog.text
    assert "not what the C module calls" in caplog.text
