"""The account as IAM summarises it (GetAccountSummary), and the credentials Portside does
not have (MFA devices, SSH keys, signing certificates, service-specific credentials, login
profiles): their lists answer empty and a login profile is never found, so clients that
read them before deleting a user (Terraform's provider) go on."""

from __future__ import annotations

from typing import Any

from portside.iam import entities, errors, records
from portside.iam.operations import action
from portside.ops.context import Op

# IAM's default quotas, as GetAccountSummary reports them.
_QUOTAS = {
    "UsersQuota": 5000,
    "GroupsQuota": 300,
    "RolesQuota": 1000,
    "PoliciesQuota": 1500,
    "InstanceProfilesQuota": 1000,
    "GroupsPerUserQuota": 10,
    "AttachedPoliciesPerUserQuota": 10,
    "AttachedPoliciesPerGroupQuota": 10,
    "AttachedPoliciesPerRoleQuota": 10,
    "AccessKeysPerUserQuota": 2,
    "PolicyVersionsInUseQuota": 10000,
    "VersionsPerPolicyQuota": 5,
    "PolicySizeQuota": 6144,
    "UserPolicySizeQuota": 2048,
    "GroupPolicySizeQuota": 5120,
    "RolePolicySizeQuota": 10240,
    "AssumeRolePolicySizeQuota": 2048,
    "ServerCertificatesQuota": 20,
    "SigningCertificatesPerUserQuota": 2,
    "MFADevicesInUse": 0,
    "MFADevices": 0,
    "AccountMFAEnabled": 0,
    "AccountAccessKeysPresent": 1,
    "AccountSigningCertificatesPresent": 0,
    "ServerCertificates": 0,
    "Providers": 0,
    "GlobalEndpointTokenVersion": 1,
}


@action("GetAccountSummary")
def get_account_summary(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    prefix = op.account + "|"
    with op.store.read() as tx:
        counts = {
            "Users": tx.count(records.USERS, prefix=prefix),
            "Groups": tx.count(records.GROUPS, prefix=prefix),
            "Roles": tx.count(records.ROLES, prefix=prefix),
            "Policies": tx.count(records.POLICIES, prefix=prefix),
            "InstanceProfiles": tx.count(records.PROFILES, prefix=prefix),
            "PolicyVersionsInUse": tx.count(records.ATTACHMENTS, prefix=prefix),
        }
    return {"SummaryMap": {**_QUOTAS, **counts}}


def _empty(member: str) -> Any:
    def answer(op: Op, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("UserName"):
            with op.store.read() as tx:
                entities.must(tx, op.account, "user", p["UserName"])
        return {member: [], "IsTruncated": False}

    return answer


for _op, _member in (
    ("ListMFADevices", "MFADevices"),
    ("ListSSHPublicKeys", "SSHPublicKeys"),
    ("ListSigningCertificates", "Certificates"),
    ("ListServiceSpecificCredentials", "ServiceSpecificCredentials"),
):
    action(_op)(_empty(_member))


@action("GetLoginProfile")
def get_login_profile(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name = p.get("UserName") or ""
    with op.store.read() as tx:
        entities.must(tx, op.account, "user", name)
    raise errors.no_such(f"Login Profile for User {name} cannot be found.")
