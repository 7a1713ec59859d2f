"""Methods that pick their implementation by the type of their one argument."""

from __future__ import annotations

from collections.abc import Callable
from functools import singledispatchmethod
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    _Base = singledispatchmethod[Any]  # generic for the type checker only (not at run time)
else:
    _Base = singledispatchmethod


class recordmethod(_Base):  # noqa: N801  # used as a decorator, like its base
    """``functools.singledispatchmethod`` for ``when(record)``, bound without a wrapper.

    On Python 3.11 the base class builds a new function and runs ``update_wrapper`` on
    every attribute access: a tenth of the time the ledger spent on a command. Here an
    access binds a small closure; the dispatch itself is the base class's (cached per type).
    """

    def __get__(self, obj: Any, cls: type[Any] | None = None) -> Callable[..., Any]:  # noqa: ANN401  # the instance
        """``when`` bound to ``obj``: ``obj.when(record)`` runs the handler for ``type(record)``."""
        dispatch = self.dispatcher.dispatch

        def bound(record: object, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401  # the handler's result
            return dispatch(type(record))(obj, record, *args, **kwargs)

        return bound
