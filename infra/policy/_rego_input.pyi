# The C policy input module (_rego_input.c), built by infra.native_build.
from typing import Any

SOURCE_SHA256: str  # the sha256 of the C source this module was built from

def bind(
    string: int,
    integer: int,
    floating: int,
    boolean: int,
    null: int,
    item: int,
    obj: int,
    array: int,
    /,
) -> None: ...
def add(handle: Any, document: Any, /) -> int: ...  # noqa: ANN401  # regopy's handle, JSON
