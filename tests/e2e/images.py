"""Test images built locally, FROM scratch, with the host's static busybox (no registry is
needed or reachable). `busybox_image()` has /bin/sh and every busybox applet (httpd, wget,
sleep...) as symlinks, plus /www/index.html for httpd to serve.

    from e2e.images import busybox_image, docker_available
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import threading
from typing import Any

BUSYBOX_IMAGE = "portside-test/busybox:1"
INDEX_HTML = b"hello from portside\n"
LABELS = {"io.portside.test": "true"}

_lock = threading.Lock()


def busybox_path() -> str | None:
    for path in (shutil.which("busybox"), "/bin/busybox", "/usr/bin/busybox"):
        if path and _static(path):
            return path
    return None


def docker_available() -> str | None:
    """None when a Docker Engine answers and busybox-static is installed, else the reason."""
    try:
        import docker

        docker.from_env().ping()
    except Exception as exc:
        return f"no Docker Engine answers ({exc}); run scripts/ensure-docker.sh"
    if busybox_path() is None:
        return "no static busybox; run scripts/ensure-test-deps.sh (busybox-static)"
    return None


def busybox_image(client: Any = None) -> str:
    """Build the image once (it stays cached in the Engine) and return its tag."""
    import docker

    client = client or docker.from_env()
    with _lock:
        try:
            client.images.get(BUSYBOX_IMAGE)
            return BUSYBOX_IMAGE
        except docker.errors.ImageNotFound:
            pass
        busybox = busybox_path()
        assert busybox, "busybox-static is required"
        applets = subprocess.run(
            [busybox, "--list"], check=True, capture_output=True, text=True
        ).stdout.split()
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            _file(tar, "Dockerfile", b'FROM scratch\nCOPY rootfs/ /\nCMD ["sh"]\n', 0o644)
            tar.add(busybox, arcname="rootfs/bin/busybox")
            for applet in applets:
                if applet != "busybox":
                    _link(tar, f"rootfs/bin/{applet}", "busybox")
            for d in ("tmp", "www", "etc", "root"):
                _dir(tar, f"rootfs/{d}", 0o1777 if d == "tmp" else 0o755)
            _file(tar, "rootfs/www/index.html", INDEX_HTML, 0o644)
            _file(tar, "rootfs/etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644)
        buf.seek(0)
        client.images.build(
            fileobj=buf, custom_context=True, tag=BUSYBOX_IMAGE, rm=True, labels=LABELS
        )
        return BUSYBOX_IMAGE


def _file(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


def _link(tar: tarfile.TarFile, name: str, target: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
    tar.addfile(info)


def _dir(tar: tarfile.TarFile, name: str, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, mode
    tar.addfile(info)


def _static(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return head.startswith(b"\x7fELF") and b"ld-linux" not in head
