"""What the CRM answers: a status, a JSON body and headers; errors as RFC 9457 problems."""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One HTTP response, before it is written to the socket."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class Problem(Exception):
    """A request the CRM refuses; becomes a ``application/problem+json`` reply."""

    def __init__(self, status: int, detail: str, **extra: Any) -> None:  # noqa: ANN401  # extension members are any JSON
        """Refuse with ``status``; ``extra`` members are added to the problem body."""
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.extra = extra

    def reply(self) -> Reply:
        """The problem as a reply."""
        return problem(self.status, self.detail, **self.extra)


def problem(status: int, detail: str, **extra: Any) -> Reply:  # noqa: ANN401  # ditto
    """A problem reply: ``type``, ``title``, ``status``, ``detail`` and extension members."""
    title = HTTPStatus(status).phrase
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return Reply(status, body)


def etag(version: str) -> dict[str, str]:
    """The ``ETag`` header for a record version."""
    return {"ETag": f'"{version}"'}


def if_match_allows(header: str | None, version: str | None) -> bool:
    """True if an ``If-Match`` header lets a write proceed on a record at ``version``.

    Absent or ``*`` means no check; otherwise one of the listed (strong or weak) tags must
    equal the current version, and an absent record matches no tag.
    """
    if header is None or header.strip() == "*":
        return True
    tags = {tag.strip().removeprefix("W/").strip('"') for tag in header.split(",")}
    return version is not None and version in tags
