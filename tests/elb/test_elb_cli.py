"""ELBv2 and ACM through the AWS CLI as a user types it, version 1 (the venv's) and version 2
(Debian's /usr/bin/aws 2.9); each run costs a few hundred milliseconds, so one test per
version walks the whole path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from certificates import self_signed
from harness import ServerProcess


@pytest.mark.parametrize("v2", [False, True], ids=["v1", "v2"])
def test_load_balancer_path(server: ServerProcess, name: str, tmp_path: Path, v2: bool) -> None:
    def aws(*args: str, check: bool = True) -> Any:
        return server.aws(*args, check=check, v2=v2)

    lb = aws("elbv2", "create-load-balancer", "--name", name, "--subnets", "subnet-a", "subnet-b")[
        "LoadBalancers"
    ][0]
    assert lb["DNSName"].endswith(".us-east-1.elb.portside.internal")
    tg = aws(
        "elbv2",
        "create-target-group",
        "--name",
        name,
        "--protocol",
        "HTTP",
        "--port",
        "80",
        "--vpc-id",
        "vpc-1",
        "--target-type",
        "ip",
        "--health-check-path",
        "/health",
    )["TargetGroups"][0]
    assert tg["HealthCheckPath"] == "/health"
    cert, key = self_signed()
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    cert_arn = aws(
        "acm",
        "import-certificate",
        "--certificate",
        f"fileb://{tmp_path / 'cert.pem'}",
        "--private-key",
        f"fileb://{tmp_path / 'key.pem'}",
    )["CertificateArn"]
    listener = aws(
        "elbv2",
        "create-listener",
        "--load-balancer-arn",
        lb["LoadBalancerArn"],
        "--protocol",
        "HTTPS",
        "--port",
        "443",
        "--certificates",
        f"CertificateArn={cert_arn}",
        "--default-actions",
        f"Type=forward,TargetGroupArn={tg['TargetGroupArn']}",
    )["Listeners"][0]
    assert listener["Certificates"] == [{"CertificateArn": cert_arn}]
    rule = aws(
        "elbv2",
        "create-rule",
        "--listener-arn",
        listener["ListenerArn"],
        "--priority",
        "10",
        "--conditions",
        "Field=path-pattern,Values=/api/*",
        "--actions",
        "Type=fixed-response,FixedResponseConfig={StatusCode=404}",
    )["Rules"][0]
    assert rule["Priority"] == "10"
    aws(
        "elbv2",
        "register-targets",
        "--target-group-arn",
        tg["TargetGroupArn"],
        "--targets",
        "Id=10.0.0.5,Port=8080",
    )
    health = aws("elbv2", "describe-target-health", "--target-group-arn", tg["TargetGroupArn"])[
        "TargetHealthDescriptions"
    ]
    assert health[0]["Target"]["Id"] == "10.0.0.5"
    # `initial` until the data plane's first health check result; nothing answers there.
    assert health[0]["TargetHealth"]["State"] in ("initial", "unhealthy")
    rules = aws("elbv2", "describe-rules", "--listener-arn", listener["ListenerArn"])
    assert [r["Priority"] for r in rules["Rules"]] == ["10", "default"]
    # ELBv2's own PageSize takes --page-size, so the CLI does not page for itself: one page
    # a call, and NextMarker to ask for the next (other tests' load balancers may be there).
    seen: list[str] = []
    marker: list[str] = []
    while True:
        page = aws("elbv2", "describe-load-balancers", "--page-size", "1", *marker)
        assert len(page["LoadBalancers"]) == 1
        seen.append(page["LoadBalancers"][0]["LoadBalancerArn"])
        if "NextMarker" not in page:
            break
        marker = ["--marker", page["NextMarker"]]
    assert lb["LoadBalancerArn"] in seen and len(seen) == len(set(seen))
    failed = aws(
        "elbv2", "delete-target-group", "--target-group-arn", tg["TargetGroupArn"], check=False
    )
    assert failed.returncode != 0 and "ResourceInUse" in failed.stderr
