# The C Avro decoder (_avro_native.c), built by infra.serde.build_native.
from typing import Any

SOURCE_SHA256: str  # the sha256 of the C source this module was built from

def decode(program: list[Any], data: bytes, start: int, /) -> Any: ...  # noqa: ANN401  # a datum
