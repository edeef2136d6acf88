"""An ECS container definition (camelCase, as in botocore's ContainerDefinition) turned into
the keyword arguments of the Docker SDK's `containers.create`, the way the ECS agent and the
ECS backend map it (aws/amazon-ecs-agent: agent/api/task/task.go `dockerConfig`,
`dockerHostConfig`, `getDockerResources`). Pure functions: no Docker, no files.

Mapping choices that are not one-to-one are explained where they are made; the ECS agent rule
each follows is named there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from portside.agent.driver import ContainerSpec, DriverError, TaskSpec

Json = Mapping[str, Any]

MIB = 1024 * 1024
# ECS agent (dockerCPUShares): 0 and 1 become 2 shares, Linux's minimum; Docker would turn 0
# into 1024.
MIN_CPU_SHARES = 2
# The ECS agent raises a hard limit below 4 MiB to 4 MiB; Docker 20.10+ refuses less than
# 6 MiB, so that is our floor.
MIN_MEMORY_MIB = 6
# ECS: "If a value isn't specified for swappiness, a default value of 60 is used" (only when
# maxSwap is set; without maxSwap swappiness is ignored).
DEFAULT_SWAPPINESS = 60
# HealthCheck defaults from the ECS API reference; startPeriod has none (off).
HEALTH_DEFAULTS = {"interval": 30, "timeout": 5, "retries": 3}
SECOND_NS = 1_000_000_000
# The ECS agent's internal names for the pause containers it adds to a task.
PAUSE_CONTAINER_NAME = "~internal~ecs~pause"
NAMESPACE_PAUSE_NAME = "~internal~ecs~pause~namespace"


def network_mode(task_definition: Json) -> str:
    return str(task_definition.get("networkMode") or "bridge")


def docker_name(task: TaskSpec, container: str) -> str:
    """ECS names containers `ecs-<family>-<revision>-<name>-<random>`; the task id in place of
    the random part makes the name stable, so a create retried after a crash finds its first
    attempt instead of leaving an orphan."""
    return f"ecs-{task.family}-{task.revision}-{container}-{task.task_id}"


def create_kwargs(
    spec: ContainerSpec, env_files: Sequence[Mapping[str, str]] = ()
) -> dict[str, Any]:
    """Keyword arguments for `client.containers.create(**kwargs)`. `env_files` are the parsed
    contents of the definition's environmentFiles, in their order."""
    d = spec.definition
    mode = network_mode(spec.task.definition)
    res = spec.resources
    secret_env = dict(spec.secrets.environment)
    _check_secrets(d, {**secret_env, **spec.environment})
    kw: dict[str, Any] = {
        "image": str(d["image"]),
        "name": docker_name(spec.task, spec.name),
        # ECS agent: its own labels are applied last, over any the user gave. Never a
        # secret's value: labels are what anyone listing containers sees.
        "labels": {**_str_map(d.get("dockerLabels")), **spec.labels},
        "environment": environment(d, {**secret_env, **spec.environment}, env_files),
    }
    _put(kw, "command", _str_list(d.get("command")))
    _put(kw, "entrypoint", _str_list(d.get("entryPoint")))
    _put(kw, "working_dir", d.get("workingDirectory"))
    _put(kw, "user", d.get("user"))
    kw.update(resource_limits(d))
    kw.update(linux_parameters(d.get("linuxParameters") or {}))
    for key, flag in (
        ("privileged", "privileged"),
        ("read_only", "readonlyRootFilesystem"),
        ("stdin_open", "interactive"),
        ("tty", "pseudoTerminal"),
    ):
        if d.get(flag):
            kw[key] = True
    _put(kw, "security_opt", _str_list(d.get("dockerSecurityOptions")))
    _put(kw, "ulimits", ulimits(d.get("ulimits")))
    _put(kw, "log_config", log_config(d.get("logConfiguration"), dict(spec.secrets.log_options)))
    _put(kw, "healthcheck", healthcheck(d.get("healthCheck")))
    kw.update(network_kwargs(d, mode, res.pause_id, res.extra.get("dns")))
    if mode == "bridge" and res.extra.get("hosts"):  # Service Connect's names
        given = list(kw.get("extra_hosts") or ())
        kw["extra_hosts"] = given + [f"{n}:{a}" for n, a in sorted(res.extra["hosts"].items())]
    _put(kw, "links", links(d, spec.task) if mode == "bridge" else None)
    _put(kw, "volumes", binds(d, res.volume_paths))
    _put(kw, "volumes_from", volumes_from(d, spec.volumes_from))
    _put(kw, "cgroup_parent", res.cgroup_parent)
    kw.update(namespace_modes(spec.task.definition, res.extra.get("namespace_pause_id")))
    _put(kw, "sysctls", system_controls(d, mode))
    return kw


def environment(
    d: Json, extra: Mapping[str, str], env_files: Sequence[Mapping[str, str]] = ()
) -> dict[str, str]:
    """ECS agent (MergeEnvironmentVariablesFromEnvfiles): the definition's `environment` wins
    over environment files, and an earlier file over a later one; `extra`, the resolved
    `secrets` then the agent's own variables (metadata URIs...), is merged last and wins over
    everything (the ECS agent merges secrets over the environment too)."""
    env: dict[str, str] = {}
    for variables in reversed(env_files):
        env.update(variables)
    for item in d.get("environment") or ():
        env[str(item["name"])] = str(item.get("value", ""))
    env.update(extra)
    return env


def env_file_path(entry: Json) -> str:
    """The local path of one environmentFiles entry. ECS only knows `type: s3`; Portside reads
    `file:///path` or an absolute path on the agent's host, and refuses S3 object ARNs."""
    value = str(entry.get("value") or "")
    if value.startswith("file://"):
        return value[len("file://") :]
    if value.startswith("/"):
        return value
    raise DriverError(
        f"ResourceInitializationError: failed to download env files: {value}: Portside "
        "cannot read environment files from S3; give a path on the agent's host "
        "(file:///path/to/vars.env)"
    )


def parse_env_file(text: str) -> dict[str, str]:
    """ECS's environment file format: VARIABLE=VALUE per line, '#' comments and blank lines
    skipped, lines without '=' ignored, values taken literally (no quotes, no expansion)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        out.setdefault(name.strip(), value)
    return out


def _check_secrets(d: Json, resolved: Mapping[str, str]) -> None:
    """The agent resolves a task's secrets before it makes anything of the task (worker.py,
    through the control plane): a container whose secret did not arrive must not start
    without it."""
    _check_resolved("secret", d.get("secrets"), resolved)


def _check_resolved(what: str, secrets: Any, resolved: Mapping[str, str]) -> None:
    for secret in secrets or ():
        if secret.get("name") not in resolved:
            raise DriverError(
                "ResourceInitializationError: unable to pull secrets or registry auth: "
                f"{what} {secret.get('name')!r} ({secret.get('valueFrom')}) was not resolved"
            )


def resource_limits(d: Json) -> dict[str, Any]:
    """`cpu` -> CPU shares, `memory` -> hard limit, `memoryReservation` -> soft limit, and
    linuxParameters' maxSwap/swappiness (they need the hard limit to mean anything)."""
    kw: dict[str, Any] = {"cpu_shares": max(int(d.get("cpu") or 0), MIN_CPU_SHARES)}
    memory = d.get("memory")
    if memory:
        kw["mem_limit"] = max(int(memory), MIN_MEMORY_MIB) * MIB
    if d.get("memoryReservation"):
        kw["mem_reservation"] = int(d["memoryReservation"]) * MIB
    linux = d.get("linuxParameters") or {}
    if linux.get("maxSwap") is not None:
        # ECS: --memory-swap is memory + maxSwap; maxSwap 0 means no swap at all.
        if "mem_limit" in kw:
            kw["memswap_limit"] = kw["mem_limit"] + int(linux["maxSwap"]) * MIB
        swappiness = linux.get("swappiness")
        kw["mem_swappiness"] = DEFAULT_SWAPPINESS if swappiness is None else int(swappiness)
    return kw


def linux_parameters(lp: Json) -> dict[str, Any]:
    kw: dict[str, Any] = {}
    if lp.get("initProcessEnabled"):
        kw["init"] = True
    caps = lp.get("capabilities") or {}
    _put(kw, "cap_add", _str_list(caps.get("add")))
    _put(kw, "cap_drop", _str_list(caps.get("drop")))
    tmpfs = {}
    for t in lp.get("tmpfs") or ():
        # ECS: size in MiB, mountOptions as for `mount -t tmpfs -o`.
        options = [*(t.get("mountOptions") or ()), f"size={int(t['size'])}m"]
        tmpfs[str(t["containerPath"])] = ",".join(options)
    _put(kw, "tmpfs", tmpfs)
    if lp.get("sharedMemorySize"):
        kw["shm_size"] = int(lp["sharedMemorySize"]) * MIB
    devices = []
    for dev in lp.get("devices") or ():
        perms = "".join(p[0] for p in dev.get("permissions") or ()) or "rwm"
        host = str(dev["hostPath"])
        devices.append(f"{host}:{dev.get('containerPath') or host}:{perms}")
    _put(kw, "devices", devices)
    return kw


def ulimits(items: Sequence[Json] | None) -> list[dict[str, Any]]:
    return [
        {"name": u["name"], "soft": int(u["softLimit"]), "hard": int(u["hardLimit"])}
        for u in items or ()
    ]


def log_config(
    lc: Json | None, secret_options: Mapping[str, str] | None = None
) -> dict[str, Any] | None:
    """Other drivers go to Docker as given, with the resolved `secretOptions` among their
    options (the ECS agent's way: a log driver's token is one of its options). `awslogs`
    becomes Docker's json-file: the agent's log shipper reads that stream and sends it to
    Portside's CloudWatch Logs, with the definition's awslogs options. FireLens needs a log
    router Portside does not run."""
    if not lc:
        return None
    secret_options = secret_options or {}
    _check_resolved("log option", lc.get("secretOptions"), secret_options)
    driver = str(lc.get("logDriver") or "")
    if driver == "awslogs":
        return {"type": "json-file", "config": {}}
    if driver == "awsfirelens":
        raise DriverError(
            "CannotCreateContainerError: the awsfirelens log driver (FireLens) is not "
            "supported by Portside"
        )
    return {"type": driver, "config": {**_str_map(lc.get("options")), **secret_options}}


def healthcheck(hc: Json | None) -> dict[str, Any] | None:
    """ECS healthCheck -> Docker's native health check (durations in nanoseconds)."""
    if not hc or not hc.get("command"):
        return None
    test = [str(part) for part in hc["command"]]
    if test[0] not in ("CMD", "CMD-SHELL", "NONE"):
        test = ["CMD", *test]
    out: dict[str, Any] = {
        "test": test,
        "interval": int(hc.get("interval") or HEALTH_DEFAULTS["interval"]) * SECOND_NS,
        "timeout": int(hc.get("timeout") or HEALTH_DEFAULTS["timeout"]) * SECOND_NS,
        "retries": int(hc.get("retries") or HEALTH_DEFAULTS["retries"]),
    }
    if hc.get("startPeriod"):
        out["start_period"] = int(hc["startPeriod"]) * SECOND_NS
    return out


def network_kwargs(
    d: Json, mode: str, pause_id: str | None, task_dns: Sequence[str] | None = None
) -> dict[str, Any]:
    """Network mode and what goes with it. In awsvpc every container joins the pause
    container's namespace (ECS agent: shouldOverrideNetworkModeAwsvpc), where Docker refuses
    ports, hostname and DNS settings: ECS refuses them at registration too; the pause holds
    the task's resolver. In bridge mode `task_dns` (the agent's relay to Portside's DNS, on
    docker0) is each container's resolver unless its definition names `dnsServers`, which
    win as in ECS. Host mode keeps the host's resolv.conf."""
    if mode == "awsvpc":
        if not pause_id:
            raise DriverError("CannotCreateContainerError: awsvpc task has no pause container")
        return {"network_mode": f"container:{pause_id}"}
    kw: dict[str, Any] = {"network_mode": mode}
    if mode == "bridge":
        _put(kw, "ports", port_bindings(d.get("portMappings")))
    _put(kw, "hostname", d.get("hostname"))
    if d.get("disableNetworking"):
        kw["network_disabled"] = True
    own_dns = _str_list(d.get("dnsServers"))
    _put(kw, "dns", own_dns or (list(task_dns or ()) if mode == "bridge" else None))
    _put(kw, "dns_search", _str_list(d.get("dnsSearchDomains")))
    _put(
        kw, "extra_hosts", [f"{h['hostname']}:{h['ipAddress']}" for h in d.get("extraHosts") or ()]
    )
    return kw


def port_bindings(mappings: Sequence[Json] | None) -> dict[str, Any]:
    """portMappings -> Docker's `ports`: hostPort 0 or absent lets Docker pick a free host
    port (dynamic port mapping); a containerPortRange maps each port dynamically."""
    ports: dict[str, list[int | None]] = {}
    for m in mappings or ():
        proto = str(m.get("protocol") or "tcp")
        if m.get("containerPort") is not None:
            container_ports = [int(m["containerPort"])]
            host: int | None = int(m.get("hostPort") or 0) or None
        else:
            low, _, high = str(m["containerPortRange"]).partition("-")
            container_ports = list(range(int(low), int(high or low) + 1))
            host = None
        for port in container_ports:
            ports.setdefault(f"{port}/{proto}", []).append(host)
    return {k: v[0] if len(v) == 1 else v for k, v in ports.items()}


def links(d: Json, task: TaskSpec) -> dict[str, str]:
    """`links` (bridge only): "name[:alias]" -> the linked container's Docker name."""
    out = {}
    for link in d.get("links") or ():
        name, _, alias = str(link).partition(":")
        out[docker_name(task, name)] = alias or name
    return out


def binds(d: Json, volume_paths: Mapping[str, str]) -> list[str]:
    """mountPoints -> "source:containerPath:ro|rw", the source being a host path or a Docker
    volume name, as setup_task resolved the task's volumes (ECS agent: dockerHostBinds)."""
    out = []
    for mp in d.get("mountPoints") or ():
        name = mp.get("sourceVolume")
        if name not in volume_paths:
            raise DriverError(
                f"CannotCreateContainerError: container {d.get('name')} references invalid "
                f"volume {name}"
            )
        mode = "ro" if mp.get("readOnly") else "rw"
        out.append(f"{volume_paths[name]}:{mp['containerPath']}:{mode}")
    return out


def volumes_from(d: Json, runtime_ids: Mapping[str, str]) -> list[str]:
    out = []
    for vf in d.get("volumesFrom") or ():
        source = vf.get("sourceContainer")
        if source not in runtime_ids:
            raise DriverError(
                f"CannotCreateContainerError: volumesFrom source container {source} has not "
                "been created"
            )
        out.append(f"{runtime_ids[source]}:{'ro' if vf.get('readOnly') else 'rw'}")
    return out


def namespace_modes(task_definition: Json, namespace_pause_id: str | None) -> dict[str, Any]:
    """Task `pidMode`/`ipcMode`: host and none go to Docker as is; task shares one namespace
    through a pause container (ECS agent: pidModeOverride, ipcModeOverride)."""
    kw: dict[str, Any] = {}
    for key, setting in (("pid_mode", "pidMode"), ("ipc_mode", "ipcMode")):
        value = task_definition.get(setting)
        if value == "task":
            if not namespace_pause_id:
                raise DriverError(f"CannotCreateContainerError: {setting} task has no pause")
            kw[key] = f"container:{namespace_pause_id}"
        elif value in ("host", "none"):
            kw[key] = value
    return kw


def system_controls(d: Json, mode: str) -> dict[str, str]:
    """systemControls -> sysctls. In awsvpc the network namespace belongs to the pause
    container, so net.* settings are applied there (see task_network_sysctls)."""
    out = {}
    for sc in d.get("systemControls") or ():
        name = str(sc["namespace"])
        if mode == "awsvpc" and name.startswith("net."):
            continue
        out[name] = str(sc["value"])
    return out


def task_network_sysctls(task_definition: Json) -> dict[str, str]:
    """The net.* systemControls of every container, for an awsvpc task's pause container.
    ECS: when containers disagree, the one started last wins; here the last in the
    definition does."""
    out = {}
    for c in task_definition.get("containerDefinitions") or ():
        for sc in c.get("systemControls") or ():
            if str(sc["namespace"]).startswith("net."):
                out[str(sc["namespace"])] = str(sc["value"])
    return out


def _put(kw: dict[str, Any], key: str, value: Any) -> None:
    if value:
        kw[key] = value


def _str_list(value: Any) -> list[str] | None:
    return [str(v) for v in value] if value else None


def _str_map(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}
