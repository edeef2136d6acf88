"""`session-manager-plugin`'s command line, as the AWS CLI calls AWS's plugin.

    session-manager-plugin                      says it is installed (the AWS CLI runs this
                                                first, and only checks that it starts)
    session-manager-plugin --version
    session-manager-plugin <session JSON> <region> StartSession [<profile> <params JSON>
                           <endpoint>]          runs the session

The session JSON is ExecuteCommand's (or StartSession's) `session`: sessionId, streamUrl,
tokenValue, in any letter case; an argument starting with AWS_SSM_START_SESSION_RESPONSE names
an environment variable that holds it instead. The endpoint is the one the CLI called: when
the streamUrl is Portside's, the plugin dials it on that endpoint's host, which a client behind
a proxy or NAT may know by another name than the server does.
"""

from __future__ import annotations

import os
import sys
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from portside import __version__
from portside.ssm_plugin.session import run

INSTALLED = (
    "\nThe Session Manager plugin was installed successfully. "
    "Use the AWS CLI to start a session.\n\n"
)
RESPONSE_ENV_PREFIX = "AWS_SSM_START_SESSION_RESPONSE"
PORTSIDE_STREAM = "/_portside/exec/"
EXIT_CODE_ENV = "PORTSIDE_SSM_EXIT_CODE"  # "1": exit with the command's exit code


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv if argv is None else argv)
    out = sys.stdout
    if len(args) == 1:
        out.write(INSTALLED)
        return 0
    if len(args) == 2 and args[1] == "--version":
        out.write(f"{__version__}\n")
        return 0
    if len(args) < 4:
        out.write(
            f"\nUnknown operation {args[1]}. \n"
            "Use session-manager-plugin --version to check the version.\n\n"
        )
        return 0
    if args[3] != "StartSession":
        out.write("Invalid Operation")
        return 0
    raw = args[1]
    if raw.startswith(RESPONSE_ENV_PREFIX):
        raw = os.environ.pop(raw, "")
    try:
        session = _lower_keys(orjson.loads(raw))
        sid, url, token = session["sessionid"], session["streamurl"], session["tokenvalue"]
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        out.write(f"Cannot perform start session: {exc}\n")
        return 0
    endpoint = args[6] if len(args) > 6 else ""
    return run(
        str(sid),
        stream_url(str(url), endpoint),
        str(token),
        exit_code=os.environ.get(EXIT_CODE_ENV) == "1",
    )


def stream_url(returned: str, endpoint: str) -> str:
    parts = urlsplit(returned)
    ep = urlsplit(endpoint)
    if not parts.path.startswith(PORTSIDE_STREAM) or ep.scheme not in ("http", "https"):
        return returned
    scheme = "wss" if ep.scheme == "https" else "ws"
    return urlunsplit((scheme, ep.netloc, parts.path, parts.query, ""))


def _lower_keys(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("the session is not a JSON object")
    return {str(k).lower(): v for k, v in value.items()}


def console() -> None:
    try:
        code = main()
    except KeyboardInterrupt:  # before the session took the terminal over
        code = 130
    sys.exit(code)
