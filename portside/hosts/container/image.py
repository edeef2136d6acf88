"""The host image, built by Portside on the machine's Engine with no registry: an empty root
filesystem (the directories a Linux system mounts onto, and the machine's root symlinks such
as bin -> usr/bin) imported with `docker import`. Everything a host runs is bind-mounted
read-only from the machine (spec.py's `Layout`): the same dockerd, containerd, runc,
iptables and nft, the same Python and Portside. So the image is a few hundred bytes, built in
well under a second, never out of date with the installed Portside or Docker, and needs no
Debian mirror; its tag is a digest of its contents, so it is built once per layout.

`machine_layout()` reads what to mount from this machine: /usr, the top-level directories
that are not symlinks into it (/lib64 on a split-/usr system), the bits of /etc the tools
read (alternatives for iptables, passwd and group, ld.so.cache, protocols...), and the
Python installation, virtualenv and source tree Portside runs from.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import tarfile
from pathlib import Path
from typing import Any

import portside
from portside.hosts.container.spec import LABEL, Layout, nested_dirs

REPOSITORY = "portside-container-host"
TOP = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
DIRS = ("dev", "etc", "proc", "sys", "tmp", "run", "root", "var/lib", "var/log", "var/tmp")
ETC = (
    "alternatives",  # Debian's iptables, iptables-nft... are alternatives links
    "passwd",
    "group",
    "nsswitch.conf",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "protocols",
    "services",
    "ethertypes",
    "iproute2",
    "ssl",
    "ca-certificates",
    "localtime",
)


def machine_layout(root: Path = Path("/")) -> Layout:
    """What hosts mount from this machine (see the module docstring)."""
    binds = ["/usr"]
    symlinks: dict[str, str] = {}
    for name in TOP:
        path = root / name
        if path.is_symlink():
            symlinks[name] = os.readlink(path)
        elif path.is_dir():
            binds.append(f"/{name}")
    binds += [f"/etc/{name}" for name in ETC if (root / "etc" / name).exists()]
    source = Path(portside.__file__).resolve().parents[1]  # the source tree or site-packages
    binds += [sys.prefix, sys.base_prefix, str(source)]
    return Layout(python=sys.executable, binds=nested_dirs(binds), symlinks=symlinks)


def rootfs(layout: Layout) -> bytes:
    """The image's root filesystem as a tar (deterministic: the same layout, the same bytes)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in DIRS:
            parts = name.split("/")
            for depth in range(1, len(parts) + 1):
                info = tarfile.TarInfo("/".join(parts[:depth]))
                info.type, info.mode = tarfile.DIRTYPE, 0o1777 if name == "tmp" else 0o755
                if info.name not in tar.getnames():
                    tar.addfile(info)
        for name, target in sorted(layout.symlinks.items()):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
        run = tarfile.TarInfo("var/run")
        run.type, run.linkname = tarfile.SYMTYPE, "../run"
        tar.addfile(run)
    return buf.getvalue()


def ensure_image(client: Any, layout: Layout) -> str:
    """The host image for `layout` on `client`'s Engine, imported if it is not there."""
    import docker.errors

    data = rootfs(layout)
    tag = f"{REPOSITORY}:{hashlib.sha256(data).hexdigest()[:12]}"
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    repository, _, version = tag.partition(":")
    client.api.import_image_from_data(
        data, repository=repository, tag=version, changes=[f"LABEL {LABEL}=image"]
    )
    return tag
