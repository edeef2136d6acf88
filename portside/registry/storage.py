"""What the registry's HTTP API does not say, read from its filesystem storage: every
manifest a repository holds (the API lists tags only, and ECR shows untagged images too),
when each was pushed, and which manifest each tag names. Also the one write the 2.8 API
lacks: removing a single tag (it deletes manifests, with all their tags, only).

The layout is distribution's (registry/storage/paths.go):

    <root>/docker/registry/v2/repositories/<name>/_manifests/
        revisions/sha256/<hex>/link        one per manifest held; written when pushed
        tags/<tag>/current/link            the digest the tag names
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class StoredImage:
    digest: str
    pushed_at: float
    tags: tuple[str, ...]


class Storage:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.repositories = root / "docker" / "registry" / "v2" / "repositories"

    def _manifests(self, repository: str) -> Path:
        return self.repositories / repository / "_manifests"

    def images(self, repository: str) -> dict[str, StoredImage]:
        """Every manifest of the repository by digest, with its push time and tags."""
        base = self._manifests(repository)
        pushed: dict[str, float] = {}
        revisions = base / "revisions" / "sha256"
        for entry in _listdir(revisions):
            link = revisions / entry / "link"
            try:
                held = link.read_text().strip()
                mtime = link.stat().st_mtime
            except OSError:
                continue  # deleted meanwhile, or an empty directory a delete left
            if held == f"sha256:{entry}":
                pushed[held] = mtime
        tagged: dict[str, list[str]] = {}
        for tag, digest in self.tags(repository).items():
            if digest in pushed:
                tagged.setdefault(digest, []).append(tag)
        return {
            digest: StoredImage(digest, at, tuple(sorted(tagged.get(digest, ()))))
            for digest, at in pushed.items()
        }

    def tags(self, repository: str) -> dict[str, str]:
        """Tag -> the digest it names."""
        folder = self._manifests(repository) / "tags"
        out = {}
        for tag in _listdir(folder):
            try:
                digest = (folder / tag / "current" / "link").read_text().strip()
            except OSError:
                continue
            if _DIGEST.match(digest):
                out[tag] = digest
        return out

    def keep_pushed_at(self, repository: str, digest: str, at: float) -> None:
        """Give a manifest back the push time it had: storing a manifest the repository
        already holds (a tag put back on it, a new tag by PutImage) rewrites its revision
        link, which is no new push for ECR."""
        hex_digest = digest.partition(":")[2]
        link = self._manifests(repository) / "revisions" / "sha256" / hex_digest / "link"
        with contextlib.suppress(OSError):  # deleted meanwhile
            os.utime(link, (at, at))

    def untag(self, repository: str, tag: str) -> bool:
        """Remove one tag, leaving its manifest (what the registry's own untag does: its
        directory goes). The directory is renamed out of the way first, so a reader never
        sees half of it."""
        folder = self._manifests(repository) / "tags"
        path = folder / tag
        if not tag or "/" in tag or tag in (".", "..") or not path.is_dir():
            return False
        doomed = folder.parent / f".untag-{uuid.uuid4().hex}"
        try:
            path.rename(doomed)
        except FileNotFoundError:
            return False
        shutil.rmtree(doomed, ignore_errors=True)
        return True

    def holds(self, repository: str) -> bool:
        """Whether the registry has ever stored anything in the repository."""
        return (self.repositories / repository).is_dir()


def _listdir(path: Path) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []
