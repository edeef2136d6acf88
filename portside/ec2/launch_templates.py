"""Launch templates: Create/Describe/Delete LaunchTemplate(s), Create/Describe/Delete
LaunchTemplateVersion(s), ModifyLaunchTemplate (the default version), and `resolve`, which
RunInstances and Auto Scaling groups use to read a template's version.

A template is one document (`ec2_launch_templates`, the LaunchTemplate shape plus its tags);
each version another (`ec2_launch_template_versions` under the template's key and the
version number in ten digits, so a template's versions are a prefix scan in order). A
version's LaunchTemplateData is kept as sent: the request and response shapes have the same
members. A new version from a SourceVersion takes the source's data with the members given
replacing the source's, top-level member by member.
"""

from __future__ import annotations

import re
from typing import Any

from portside.ec2 import tagging
from portside.ec2.errors import invalid_value, missing
from portside.ec2.filters import FilterSet, one
from portside.ec2.operations import action
from portside.ec2.records import page, scope
from portside.errors import NamedError
from portside.ops.context import Op
from portside.store.base import Document, Tx

TEMPLATES = "ec2_launch_templates"
VERSIONS = "ec2_launch_template_versions"
_NAME = re.compile(r"^[a-zA-Z0-9().\-/_]{3,128}$")
_ID = re.compile(r"^lt-[0-9a-f]{17}$")

TEMPLATE_FIELDS = {
    "create-time": one("CreateTime"),
    "launch-template-name": one("LaunchTemplateName"),
}
VERSION_FIELDS = {
    "create-time": one("CreateTime"),
    "is-default-version": one("DefaultVersion"),
    "image-id": lambda d: (d["LaunchTemplateData"].get("ImageId"),),
    "instance-type": lambda d: (d["LaunchTemplateData"].get("InstanceType"),),
    "ebs-optimized": lambda d: (d["LaunchTemplateData"].get("EbsOptimized"),),
    "kernel-id": lambda d: (d["LaunchTemplateData"].get("KernelId"),),
    "ram-disk-id": lambda d: (d["LaunchTemplateData"].get("RamDiskId"),),
}


def _creator(op: Op) -> str:
    return op.caller.principal_arn


def _template_key(op: Op, template_id: str) -> str:
    return scope(op) + template_id


def _version_key(template_key: str, number: int) -> str:
    return f"{template_key}|{number:010d}"


def id_not_found(template_id: str) -> NamedError:
    return NamedError(
        "InvalidLaunchTemplateId.NotFound",
        f"The specified launch template, with template ID {template_id}, does not exist.",
    )


def name_not_found() -> NamedError:
    return NamedError(
        "InvalidLaunchTemplateName.NotFoundException",
        "At least one of the launch templates specified in the request does not exist.",
    )


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise NamedError(
            "InvalidLaunchTemplateName.MalformedException",
            "A launch template name must be between 3 and 128 characters, and may contain "
            "letters, numbers, and the following characters: - ( ) . / _.'",
        )


def _by_name(tx: Tx, op: Op, name: str) -> Document | None:
    for _, doc in tx.scan(TEMPLATES, prefix=scope(op), where={"name": name}):
        return doc
    return None


def find(tx: Tx, op: Op, template_id: str | None, name: str | None) -> Document:
    """The template an id or a name names (exactly one of them); EC2's error else."""
    if template_id and name:
        raise NamedError(
            "InvalidParameterCombination",
            "The parameters LaunchTemplateId and LaunchTemplateName cannot be used together.",
        )
    if template_id:
        if not _ID.match(template_id):
            raise NamedError(
                "InvalidLaunchTemplateId.Malformed",
                f"The specified ID for the launch template ({template_id}) is not valid. "
                "A valid ID is 'lt-' followed by 17 hexadecimal characters.",
            )
        doc = tx.get(TEMPLATES, _template_key(op, template_id))
        if doc is None:
            raise id_not_found(template_id)
        return doc
    if name:
        doc = _by_name(tx, op, name)
        if doc is None:
            raise name_not_found()
        return doc
    raise missing("LaunchTemplateId or LaunchTemplateName")


def version_number(template: Document, version: str | int | None) -> int:
    """A version as requests name it (`$Latest`, `$Default`, a number; default `$Default`)."""
    if version in (None, "", "$Default"):
        return int(template["DefaultVersionNumber"])
    if version == "$Latest":
        return int(template["LatestVersionNumber"])
    try:
        return int(str(version))
    except ValueError:
        raise NamedError(
            "InvalidLaunchTemplateId.VersionNotFound",
            f"Could not find launch template version {version} for launch template with ID "
            f"{template['LaunchTemplateId']}.",
        ) from None


def _version(tx: Tx, template: Document, number: int) -> Document:
    doc = tx.get(VERSIONS, _version_key(template["_Key"], number))
    if doc is None:
        raise NamedError(
            "InvalidLaunchTemplateId.VersionNotFound",
            f"Could not find launch template version {number} for launch template with ID "
            f"{template['LaunchTemplateId']}.",
        )
    return doc


def resolve(tx: Tx, op: Op, spec: dict[str, Any]) -> tuple[Document, Document]:
    """(template, version) of a LaunchTemplateSpecification ({LaunchTemplateId |
    LaunchTemplateName, Version})."""
    template = find(tx, op, spec.get("LaunchTemplateId"), spec.get("LaunchTemplateName"))
    return template, _version(tx, template, version_number(template, spec.get("Version")))


def shown_template(doc: Document) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if not k.startswith("_")}
    if not out.get("Tags"):
        out.pop("Tags", None)
    return out


def shown_version(doc: Document, template: Document) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if not k.startswith("_")}
    out["DefaultVersion"] = doc["VersionNumber"] == template["DefaultVersionNumber"]
    return out


def _new_version(
    op: Op, template: Document, number: int, data: dict[str, Any], description: str | None
) -> Document:
    doc: Document = {
        "LaunchTemplateId": template["LaunchTemplateId"],
        "LaunchTemplateName": template["LaunchTemplateName"],
        "VersionNumber": number,
        "CreateTime": op.now(),
        "CreatedBy": _creator(op),
        "LaunchTemplateData": data,
    }
    if description:
        doc["VersionDescription"] = description
    return doc


def _check_data(data: dict[str, Any]) -> None:
    for spec in data.get("TagSpecifications") or ():
        tagging.checked(spec.get("Tags") or ())
    user_data = data.get("UserData")
    if user_data:
        from portside.ec2.user_data import decode

        decode(user_data)


@action("CreateLaunchTemplate")
def create_launch_template(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name = p["LaunchTemplateName"]
    _check_name(name)
    data = dict(p["LaunchTemplateData"])
    _check_data(data)
    tags = tagging.specified(p, "launch-template")
    with op.store.transaction() as tx:
        if _by_name(tx, op, name) is not None:
            raise NamedError(
                "InvalidLaunchTemplateName.AlreadyExistsException",
                "Launch template name already in use.",
            )
        template_id = f"lt-{op.world.new_id()[-17:]}"
        key = _template_key(op, template_id)
        doc: Document = {
            "LaunchTemplateId": template_id,
            "LaunchTemplateName": name,
            "CreateTime": op.now(),
            "CreatedBy": _creator(op),
            "DefaultVersionNumber": 1,
            "LatestVersionNumber": 1,
            "Tags": tags,
            "_Key": key,
        }
        tx.put(TEMPLATES, key, doc)
        version = _new_version(op, doc, 1, data, p.get("VersionDescription"))
        tx.put(VERSIONS, _version_key(key, 1), version)
    return {"LaunchTemplate": shown_template(doc)}


@action("DescribeLaunchTemplates")
def describe_launch_templates(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    keep = FilterSet(p.get("Filters"), TEMPLATE_FIELDS)
    ids, names = p.get("LaunchTemplateIds"), p.get("LaunchTemplateNames")
    with op.store.read() as tx:
        if ids or names:
            docs = [find(tx, op, i, None) for i in dict.fromkeys(ids or ())]
            docs += [find(tx, op, None, n) for n in dict.fromkeys(names or ())]
        else:
            docs = [doc for _, doc in tx.scan(TEMPLATES, prefix=scope(op))]
    views = keep.apply(shown_template(d) for d in docs)
    return page(p, views, "LaunchTemplateId", "LaunchTemplates", lambda d: d)


@action("DeleteLaunchTemplate")
def delete_launch_template(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = find(tx, op, p.get("LaunchTemplateId"), p.get("LaunchTemplateName"))
        for key, _ in list(tx.scan(VERSIONS, prefix=doc["_Key"] + "|")):
            tx.delete(VERSIONS, key)
        tx.delete(TEMPLATES, doc["_Key"])
    return {"LaunchTemplate": shown_template(doc)}


@action("CreateLaunchTemplateVersion")
def create_launch_template_version(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    given = dict(p["LaunchTemplateData"])
    _check_data(given)
    with op.store.transaction() as tx:
        template = find(tx, op, p.get("LaunchTemplateId"), p.get("LaunchTemplateName"))
        data = given
        if p.get("SourceVersion"):
            number = version_number(template, p["SourceVersion"])
            source = _version(tx, template, number)
            data = {**source["LaunchTemplateData"], **given}
        latest = int(template["LatestVersionNumber"]) + 1
        version = _new_version(op, template, latest, data, p.get("VersionDescription"))
        tx.put(VERSIONS, _version_key(template["_Key"], latest), version)
        template["LatestVersionNumber"] = latest
        tx.put(TEMPLATES, template["_Key"], template)
    return {"LaunchTemplateVersion": shown_version(version, template)}


@action("ModifyLaunchTemplate")
def modify_launch_template(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        template = find(tx, op, p.get("LaunchTemplateId"), p.get("LaunchTemplateName"))
        if p.get("DefaultVersion"):
            number = version_number(template, p["DefaultVersion"])
            _version(tx, template, number)
            template["DefaultVersionNumber"] = number
            tx.put(TEMPLATES, template["_Key"], template)
    return {"LaunchTemplate": shown_template(template)}


def _wanted_numbers(tx: Tx, template: Document, p: dict[str, Any]) -> list[int]:
    versions = p.get("Versions")
    if versions:
        return list(dict.fromkeys(version_number(template, v) for v in versions))
    low, high = p.get("MinVersion"), p.get("MaxVersion")
    numbers = [int(d["VersionNumber"]) for _, d in tx.scan(VERSIONS, prefix=template["_Key"] + "|")]
    if low:
        numbers = [n for n in numbers if n >= version_number(template, low)]
    if high:
        numbers = [n for n in numbers if n <= version_number(template, high)]
    return numbers


@action("DescribeLaunchTemplateVersions")
def describe_launch_template_versions(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    keep = FilterSet(p.get("Filters"), VERSION_FIELDS)
    views: list[dict[str, Any]] = []
    with op.store.read() as tx:
        if p.get("LaunchTemplateId") or p.get("LaunchTemplateName"):
            templates = [find(tx, op, p.get("LaunchTemplateId"), p.get("LaunchTemplateName"))]
        else:
            wanted = set(p.get("Versions") or ())
            if not wanted or not wanted <= {"$Latest", "$Default"}:
                raise invalid_value(
                    "Versions",
                    ",".join(sorted(wanted)),
                    "Without a launch template ID or name, only $Latest and $Default may be "
                    "specified.",
                )
            templates = [doc for _, doc in tx.scan(TEMPLATES, prefix=scope(op))]
        for template in templates:
            for number in _wanted_numbers(tx, template, p):
                views.append(shown_version(_version(tx, template, number), template))
    views = keep.apply(views)
    for i, view in enumerate(views):
        view["_Token"] = f"{view['LaunchTemplateId']}:{view['VersionNumber']}:{i}"
    out = page(p, views, "_Token", "LaunchTemplateVersions", lambda d: d)
    for view in out["LaunchTemplateVersions"]:
        view.pop("_Token", None)
    return out


@action("DeleteLaunchTemplateVersions")
def delete_launch_template_versions(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    done: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    with op.store.transaction() as tx:
        template = find(tx, op, p.get("LaunchTemplateId"), p.get("LaunchTemplateName"))
        head = {
            "LaunchTemplateId": template["LaunchTemplateId"],
            "LaunchTemplateName": template["LaunchTemplateName"],
        }
        for given in p["Versions"]:
            number = version_number(template, given)
            key = _version_key(template["_Key"], number)
            if number == template["DefaultVersionNumber"]:
                failed.append(
                    {
                        **head,
                        "VersionNumber": number,
                        "ResponseError": {
                            "Code": "launchTemplateVersionIsDefault",
                            "Message": "Cannot delete the default version of a launch "
                            "template. Modify the default version or delete the launch "
                            "template.",
                        },
                    }
                )
            elif tx.get(VERSIONS, key) is None:
                failed.append(
                    {
                        **head,
                        "VersionNumber": number,
                        "ResponseError": {
                            "Code": "launchTemplateVersionDoesNotExist",
                            "Message": "The specified launch template version does not exist.",
                        },
                    }
                )
            else:
                tx.delete(VERSIONS, key)
                done.append({**head, "VersionNumber": number})
    return {
        "SuccessfullyDeletedLaunchTemplateVersions": done,
        "UnsuccessfullyDeletedLaunchTemplateVersions": failed,
    }
