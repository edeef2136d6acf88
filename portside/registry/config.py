"""The registry's configuration file, from a few settings; pure.

Written as JSON, which the registry's YAML parser reads as it is. What it sets:
- storage on the local filesystem under the data directory, with deletes enabled (ECR's
  BatchDeleteImage and lifecycle policies delete manifests through the registry's API);
- one loopback address to listen on;
- `token` auth with Portside as the token server (`realm`), trusting the certificate of
  the key Portside signs with;
- a notification endpoint on Portside for pushes (immutable tags are held there).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

SERVICE = "portside-ecr"  # the `service` (token audience) the registry names itself
ISSUER = "portside"


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    address: str  # host:port the registry listens on
    storage: Path
    realm: str  # the token endpoint's URL
    root_cert: Path
    secret: str  # signs the registry's upload state
    notify_url: str
    notify_token: str


def render(settings: RegistrySettings) -> str:
    config = {
        "version": 0.1,
        "log": {"level": "warn", "formatter": "text", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(settings.storage)},
            "delete": {"enabled": True},
            "cache": {"blobdescriptor": "inmemory"},
            "maintenance": {
                "uploadpurging": {"enabled": True, "age": "24h", "interval": "1h", "dryrun": False}
            },
        },
        "http": {
            "addr": settings.address,
            "secret": settings.secret,
            "headers": {"X-Content-Type-Options": ["nosniff"]},
        },
        "auth": {
            "token": {
                "realm": settings.realm,
                "service": SERVICE,
                "issuer": ISSUER,
                "rootcertbundle": str(settings.root_cert),
            }
        },
        "notifications": {
            "endpoints": [
                {
                    "name": "portside",
                    "url": settings.notify_url,
                    "headers": {"Authorization": [f"Bearer {settings.notify_token}"]},
                    "timeout": "5s",
                    "threshold": 3,
                    "backoff": "1s",
                    "ignoredmediatypes": ["application/octet-stream"],
                    "ignore": {"actions": ["pull"]},
                }
            ]
        },
    }
    return orjson.dumps(config, option=orjson.OPT_INDENT_2).decode() + "\n"
