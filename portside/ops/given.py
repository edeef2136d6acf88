"""A request or report names only what it changes: a member it leaves out (None) keeps what
the resource has."""

from __future__ import annotations

from collections.abc import Iterable


def apply_given(target: object, source: object, members: Iterable[str]) -> None:
    """Each of `members` that `source` gives (not None) set on `target`, under the same name."""
    for member in members:
        value = getattr(source, member)
        if value is not None:
            setattr(target, member, value)
