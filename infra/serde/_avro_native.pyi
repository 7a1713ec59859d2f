# The C Avro module (_avro_native.c), built by infra.native_build.
from typing import Any

SOURCE_SHA256: str  # the sha256 of the C source this module was built from

def decode(program: list[Any], data: bytes, start: int, /) -> Any: ...  # noqa: ANN401  # a datum
def encode(program: list[Any], record: Any, /) -> bytes: ...  # noqa: ANN401  # a record or dict
def configure(uuid_type: type, /) -> None: ...
