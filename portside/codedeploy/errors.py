"""CodeDeploy's error shapes (botocore's model names them), raised as NamedError."""

from __future__ import annotations

from portside.errors import NamedError


def error(code: str, message: str) -> NamedError:
    return NamedError(code, message)


def no_application(name: str) -> NamedError:
    return error("ApplicationDoesNotExistException", f"No application found for name: {name}")


def no_group(name: str) -> NamedError:
    return error(
        "DeploymentGroupDoesNotExistException", f"No Deployment Group found for name: {name}"
    )


def no_config(name: str) -> NamedError:
    return error(
        "DeploymentConfigDoesNotExistException",
        f"No deployment configuration found for name: {name}",
    )


def no_deployment(ident: str) -> NamedError:
    return error("DeploymentDoesNotExistException", f"The deployment {ident} could not be found.")
