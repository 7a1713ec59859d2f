"""The C modules are built from their sources, and a stale build is never used."""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType

import pytest

from infra.native_build import MODULES, NativeModule
from infra.policy import rego_input
from infra.serde import avro_native

LOADERS = [(avro_native, "AVRO"), (rego_input, "REGO_INPUT")]
"""Each module that loads a C module, and the name it holds that module's source under."""


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.source.stem)
def test_a_build_compiles_the_source_digest_in(module: NativeModule, tmp_path: Path) -> None:
    """A fresh build carries the source's sha256, which is how a stale one is recognised."""
    target = tmp_path / module.target.name
    assert not module.is_current(target)
    module.build(target)
    assert module.is_current(target)


@pytest.mark.parametrize(("user", "name"), LOADERS, ids=["avro", "rego-input"])
def test_a_module_built_from_another_source_is_not_used(
    user: ModuleType, name: str,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path,
) -> None:  # fmt: skip
    """A stale build falls back to the pure Python code and says how to rebuild."""
    module: NativeModule = getattr(user, name)
    edited = tmp_path / module.source.name
    edited.write_text(module.source.read_text() + "/* edited */\n")
    monkeypatch.setattr(user, name, NativeModule(edited))
    with caplog.at_level(logging.WARNING):
        assert user.native_module.__wrapped__() is None
    assert "the C module is stale; run `make install` to rebuild it" in caplog.text


@pytest.mark.parametrize(("user", "name"), LOADERS, ids=["avro", "rego-input"])
def test_the_module_in_use_is_built_from_its_source_as_it_is(user: ModuleType, name: str) -> None:
    """`make install` built each module from its very source, and its user loads it."""
    module: NativeModule = getattr(user, name)
    assert module in MODULES
    assert module.is_current()
    loaded = user.native_module()
    assert loaded is not None
    assert module.source_digest() == loaded.SOURCE_SHA256
