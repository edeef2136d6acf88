"""The Describe* shape every resource shares: the references are checked (none is an error,
and so is more than the call takes), then each is found or reported MISSING among the
failures, in the order given."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from portside.errors import InvalidParameterException

Found = TypeVar("Found")
View = TypeVar("View")
Failure = dict[str, str]

MISSING = "MISSING"


@dataclass(frozen=True, slots=True)
class RefLimits:
    """How many references a Describe* call takes, and its words for none and for too many
    (`{given}`: how many came)."""

    most: int
    empty: str
    too_many: str

    def check(self, refs: Sequence[str]) -> None:
        if not refs:
            raise InvalidParameterException(self.empty)
        if len(refs) > self.most:
            raise InvalidParameterException(self.too_many.format(given=len(refs)))


def found_or_missing(
    refs: Iterable[str],
    find: Callable[[str], tuple[str, Found | None]],
    view: Callable[[Found], View],
) -> tuple[list[View], list[Failure]]:
    """`view` of what each reference names; `find` gives the ARN a reference stands for and
    what it names there, None when nothing: a MISSING failure under that ARN."""
    found: list[View] = []
    failures: list[Failure] = []
    for ref in refs:
        arn, item = find(ref)
        if item is None:
            failures.append({"arn": arn, "reason": MISSING})
        else:
            found.append(view(item))
    return found, failures
