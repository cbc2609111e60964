"""Process-wide fixes for measured hot spots in third-party code; imported by servicekit.db.

pydantic asks `inspect.signature` whether a field's `default_factory` takes the validated data every time
the factory is called, and SQLModel's table models call every factory of a field left unset on each
instantiation: about 0.2 ms per factory, so 0.7-1.2 ms to build one claim or history row (profiled in the
benefits auto-grant consumer). The answer only depends on the factory, so it is remembered per factory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic._internal import _fields

_MAX_REMEMBERED = 4096
_remembered: dict[Any, bool] = {}
# A pydantic internal: if a pydantic release renames it, nothing is replaced and everything still works, slower.
_target: Callable[[Any], bool] | None = getattr(_fields, "takes_validated_data_argument", None)
_original: Callable[[Any], bool] | None = getattr(_target, "__wrapped__", None) or _target


def _takes_validated_data_argument(default_factory: Any) -> bool:
    try:
        return _remembered[default_factory]
    except KeyError:
        pass
    except TypeError:  # an unhashable callable: ask every time, as pydantic does
        assert _original is not None
        return bool(_original(default_factory))
    assert _original is not None
    answer = bool(_original(default_factory))
    if len(_remembered) < _MAX_REMEMBERED:  # factories made on the fly must not grow this without end
        _remembered[default_factory] = answer
    return answer


def install() -> None:
    """Idempotent; pydantic's fields module looks the function up at call time, so replacing it is enough."""
    if _original is None:
        return
    if _fields.takes_validated_data_argument is not _takes_validated_data_argument:
        setattr(_takes_validated_data_argument, "__wrapped__", _original)  # noqa: B010
        _fields.takes_validated_data_argument = _takes_validated_data_argument  # type: ignore[assignment]


install()
