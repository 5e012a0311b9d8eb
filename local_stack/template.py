"""Read the SAM template: parameters, tables, queues, functions and their events, and the Globals environment.

The local stack never declares a table or a queue itself; everything comes from template.yaml through this module.
CloudFormation short tags (``!Ref``, ``!GetAtt``, ``!Sub``...) load as their long forms (``{"Ref": ...}``,
``{"Fn::GetAtt": [...]}``...), and :meth:`Template.resolve` evaluates them against parameter values, pseudo
parameters and the physical names/URLs/ARNs of the locally created resources.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_REGION = "eu-west-1"
DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account
LOCAL_SUFFIX = "local"


class TemplateError(ValueError):
    """The template uses something the local stack cannot read or resolve."""


# --------------------------------------------------------------------------------------------------------------------
# YAML with CloudFormation short tags


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns ``!Tag value`` into the long form ``{"Fn::Tag": value}`` (``!Ref`` -> ``{"Ref": ...}``)."""


def _construct_node(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise TemplateError(f"unsupported YAML node {node!r}")  # pragma: no cover


def _cfn_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    value = _construct_node(loader, node)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        logical_id, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [logical_id, attribute]}
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_yaml(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=CfnLoader)  # noqa: S506 - CfnLoader is a SafeLoader subclass
    if not isinstance(data, dict):
        raise TemplateError(f"{path}: not a template (top level is not a mapping)")
    return data


# --------------------------------------------------------------------------------------------------------------------
# What the local stack needs from the template


@dataclass(frozen=True)
class TableSpec:
    logical_id: str
    key_schema: list[dict[str, str]]
    attribute_definitions: list[dict[str, str]]
    billing_mode: str = "PROVISIONED"
    global_secondary_indexes: list[dict[str, Any]] = field(default_factory=list)
    local_secondary_indexes: list[dict[str, Any]] = field(default_factory=list)
    provisioned_throughput: dict[str, int] | None = None
    ttl_attribute: str | None = None
    stream_view_type: str | None = None
    table_name: str | None = None  # TableName when the template sets one

    @property
    def physical_name(self) -> str:
        return self.table_name or f"{self.logical_id}-{LOCAL_SUFFIX}"


@dataclass(frozen=True)
class QueueSpec:
    logical_id: str
    visibility_timeout: int = 30  # SQS default
    message_retention_period: int | None = None
    delay_seconds: int | None = None
    receive_message_wait_time: int | None = None
    fifo: bool = False
    content_based_deduplication: bool = False
    dead_letter_target: str | None = None  # logical id of the DLQ named by RedrivePolicy.deadLetterTargetArn
    max_receive_count: int | None = None
    queue_name: str | None = None  # QueueName when the template sets one

    @property
    def physical_name(self) -> str:
        if self.queue_name:
            return self.queue_name
        name = f"{self.logical_id}-{LOCAL_SUFFIX}"
        return f"{name}.fifo" if self.fifo else name


@dataclass(frozen=True)
class ApiEvent:
    name: str
    path: str
    method: str  # upper case; "ANY" matches every method
    rest_api_id: str | None = None


@dataclass(frozen=True)
class SqsEvent:
    name: str
    queue: str  # logical id of the queue
    batch_size: int = 10  # SQS event source default
    maximum_batching_window: float = 0.0
    function_response_types: tuple[str, ...] = ()
    maximum_concurrency: int | None = None
    enabled: bool = True

    @property
    def reports_batch_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.function_response_types


@dataclass(frozen=True)
class ScheduleEvent:
    name: str
    type: str  # "ScheduleV2" (EventBridge Scheduler) or "Schedule" (EventBridge rule)
    expression: str
    enabled: bool = True
    input: str | None = None
    maximum_retry_attempts: int | None = None


EventSpec = ApiEvent | SqsEvent | ScheduleEvent


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: str
    handler: str
    runtime: str | None
    timeout: int
    memory_size: int
    events: list[EventSpec]
    environment: dict[str, Any] = field(default_factory=dict)  # raw (unresolved) function-level variables
    reserved_concurrency: int | None = None

    @property
    def function_name(self) -> str:
        return f"{self.logical_id}-{LOCAL_SUFFIX}"

    def events_of(self, kind: type) -> list[Any]:
        return [event for event in self.events if isinstance(event, kind)]


# --------------------------------------------------------------------------------------------------------------------


_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class Template:
    """A loaded SAM template. ``parameters`` holds the effective values (defaults, then overrides)."""

    def __init__(
        self,
        path: str | Path,
        parameter_overrides: Mapping[str, Any] | None = None,
        *,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
    ) -> None:
        self.path = Path(path).resolve()
        self.root = self.path.parent
        self.data = load_yaml(self.path)
        self.region = region
        self.account_id = account_id
        declared: dict[str, Any] = self.data.get("Parameters") or {}
        unknown = set(parameter_overrides or {}) - set(declared)
        if unknown:
            raise TemplateError(f"parameter overrides for undeclared parameters: {sorted(unknown)}")
        self.parameters: dict[str, Any] = {}
        for name, spec in declared.items():
            if parameter_overrides and name in parameter_overrides:
                value = parameter_overrides[name]
            elif "Default" in (spec or {}):
                value = spec["Default"]
            else:
                raise TemplateError(f"parameter {name} has no Default; pass it in parameter_overrides")
            allowed = (spec or {}).get("AllowedValues")
            if allowed is not None and value not in allowed:
                raise TemplateError(f"parameter {name}={value!r} is not one of {allowed}")
            self.parameters[name] = str(value) if not isinstance(value, list) else value
        self.resources: dict[str, dict[str, Any]] = self.data.get("Resources") or {}

    # ---- intrinsic functions ----------------------------------------------------------------------------------

    def pseudo_parameters(self) -> dict[str, str]:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "kommo-xero-sync-local",
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/kommo-xero-sync-local/local",
        }

    def condition(self, name: str, refs: Mapping[str, Any] | None = None) -> bool:
        conditions = self.data.get("Conditions") or {}
        if name not in conditions:
            raise TemplateError(f"unknown condition {name}")
        return bool(self.resolve(conditions[name], refs))

    def resolve(
        self,
        value: Any,
        refs: Mapping[str, Any] | None = None,
        attrs: Mapping[tuple[str, str], Any] | None = None,
    ) -> Any:
        """Evaluate intrinsic functions in ``value``.

        ``refs`` maps a resource's logical id to what ``!Ref`` returns for it (table name, queue URL...);
        ``attrs`` maps ``(logical_id, attribute)`` to what ``!GetAtt`` returns (``("JobsQueue", "Arn")``...).
        """
        refs = refs or {}
        attrs = attrs or {}

        def ref(name: str) -> Any:
            if name in self.parameters:
                return self.parameters[name]
            pseudo = self.pseudo_parameters()
            if name in pseudo:
                return pseudo[name]
            if name == "AWS::NoValue":
                return _NO_VALUE
            if name in refs:
                return refs[name]
            raise TemplateError(f"cannot resolve !Ref {name} locally")

        def get_att(logical_id: str, attribute: str) -> Any:
            if (logical_id, attribute) in attrs:
                return attrs[(logical_id, attribute)]
            raise TemplateError(f"cannot resolve !GetAtt {logical_id}.{attribute} locally")

        def sub(template: str, variables: Mapping[str, Any]) -> str:
            def replace(match: re.Match[str]) -> str:
                expression = match.group(1)
                if expression.startswith("!"):
                    return "${" + expression[1:] + "}"
                if expression in variables:
                    return str(variables[expression])
                if "." in expression and expression.split(".", 1)[0] in self.resources:
                    logical_id, attribute = expression.split(".", 1)
                    return str(get_att(logical_id, attribute))
                return str(ref(expression))

            return _SUB_VARIABLE.sub(replace, template)

        def walk(node: Any) -> Any:
            if isinstance(node, list):
                return [item for item in (walk(item) for item in node) if item is not _NO_VALUE]
            if not isinstance(node, dict):
                return node
            if len(node) == 1:
                ((key, arg),) = node.items()
                if key == "Ref":
                    return ref(arg)
                if key == "Condition" and isinstance(arg, str):
                    return self.condition(arg, refs)
                if key == "Fn::GetAtt":
                    parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
                    return get_att(str(walk(parts[0])), str(walk(parts[1])))
                if key == "Fn::Sub":
                    if isinstance(arg, list):
                        return sub(str(arg[0]), {k: walk(v) for k, v in (arg[1] or {}).items()})
                    return sub(str(arg), {})
                if key == "Fn::Join":
                    delimiter, items = arg
                    return str(delimiter).join(str(item) for item in walk(items))
                if key == "Fn::Select":
                    index, items = arg
                    return walk(items)[int(walk(index))]
                if key == "Fn::Split":
                    delimiter, source = arg
                    return str(walk(source)).split(str(delimiter))
                if key == "Fn::If":
                    name, when_true, when_false = arg
                    return walk(when_true) if self.condition(name, refs) else walk(when_false)
                if key == "Fn::Not":
                    return not walk(arg[0])
                if key == "Fn::Equals":
                    left, right = (walk(item) for item in arg)
                    return str(left) == str(right)
                if key == "Fn::And":
                    return all(walk(item) for item in arg)
                if key == "Fn::Or":
                    return any(walk(item) for item in arg)
                if key == "Fn::FindInMap":
                    name, top, second = (walk(item) for item in arg)
                    return (self.data.get("Mappings") or {})[name][top][second]
                if key.startswith("Fn::"):
                    raise TemplateError(f"intrinsic function {key} is not supported locally")
            return {k: v for k, v in ((k, walk(v)) for k, v in node.items()) if v is not _NO_VALUE}

        return walk(value)

    # ---- resources ----------------------------------------------------------------------------------------------

    def _of_type(self, resource_type: str) -> list[tuple[str, dict[str, Any]]]:
        found = []
        for logical_id, resource in self.resources.items():
            if resource.get("Type") != resource_type:
                continue
            if "Condition" in resource and not self.condition(resource["Condition"]):
                continue
            found.append((logical_id, resource.get("Properties") or {}))
        return found

    @property
    def globals_function(self) -> dict[str, Any]:
        return (self.data.get("Globals") or {}).get("Function") or {}

    @property
    def tables(self) -> list[TableSpec]:
        tables = []
        for logical_id, props in self._of_type("AWS::DynamoDB::Table"):
            props = self.resolve(props)
            ttl = props.get("TimeToLiveSpecification") or {}
            stream = props.get("StreamSpecification") or {}
            tables.append(
                TableSpec(
                    logical_id=logical_id,
                    key_schema=props["KeySchema"],
                    attribute_definitions=props.get("AttributeDefinitions") or [],
                    billing_mode=props.get("BillingMode", "PROVISIONED"),
                    global_secondary_indexes=props.get("GlobalSecondaryIndexes") or [],
                    local_secondary_indexes=props.get("LocalSecondaryIndexes") or [],
                    provisioned_throughput=props.get("ProvisionedThroughput"),
                    ttl_attribute=ttl.get("AttributeName") if _truthy(ttl.get("Enabled")) else None,
                    stream_view_type=stream.get("StreamViewType"),
                    table_name=props.get("TableName"),
                )
            )
        return tables

    @property
    def queues(self) -> list[QueueSpec]:
        queues = []
        for logical_id, props in self._of_type("AWS::SQS::Queue"):
            redrive = props.get("RedrivePolicy") or {}
            target = redrive.get("deadLetterTargetArn")
            dead_letter_target = None
            if target is not None:
                dead_letter_target = _get_att_target(target, "Arn")
                if dead_letter_target is None:
                    raise TemplateError(f"{logical_id}: RedrivePolicy.deadLetterTargetArn must be !GetAtt <Queue>.Arn")
            plain = self.resolve({k: v for k, v in props.items() if k != "RedrivePolicy"})
            queues.append(
                QueueSpec(
                    logical_id=logical_id,
                    visibility_timeout=int(plain.get("VisibilityTimeout", 30)),
                    message_retention_period=_int_or_none(plain.get("MessageRetentionPeriod")),
                    delay_seconds=_int_or_none(plain.get("DelaySeconds")),
                    receive_message_wait_time=_int_or_none(plain.get("ReceiveMessageWaitTimeSeconds")),
                    fifo=_truthy(plain.get("FifoQueue")),
                    content_based_deduplication=_truthy(plain.get("ContentBasedDeduplication")),
                    dead_letter_target=dead_letter_target,
                    max_receive_count=_int_or_none(self.resolve(redrive.get("maxReceiveCount"))),
                    queue_name=plain.get("QueueName"),
                )
            )
        return queues

    def queue(self, logical_id: str) -> QueueSpec:
        for queue in self.queues:
            if queue.logical_id == logical_id:
                return queue
        raise TemplateError(f"no AWS::SQS::Queue {logical_id} in {self.path}")

    @property
    def functions(self) -> list[FunctionSpec]:
        defaults = self.globals_function
        functions = []
        for logical_id, props in self._of_type("AWS::Serverless::Function"):
            if "CodeUri" not in props or "Handler" not in props:
                raise TemplateError(f"{logical_id}: CodeUri and Handler are required locally (no inline code)")
            events: list[EventSpec] = []
            for name, event in (props.get("Events") or {}).items():
                parsed = self._event(logical_id, name, event)
                if parsed is not None:
                    events.append(parsed)
            functions.append(
                FunctionSpec(
                    logical_id=logical_id,
                    code_uri=str(self.resolve(props["CodeUri"])),
                    handler=str(self.resolve(props["Handler"])),
                    runtime=self.resolve(props.get("Runtime", defaults.get("Runtime"))),
                    timeout=int(self.resolve(props.get("Timeout", defaults.get("Timeout", 3)))),
                    memory_size=int(self.resolve(props.get("MemorySize", defaults.get("MemorySize", 128)))),
                    events=events,
                    environment=dict((props.get("Environment") or {}).get("Variables") or {}),
                    reserved_concurrency=_int_or_none(self.resolve(props.get("ReservedConcurrentExecutions"))),
                )
            )
        return functions

    def function(self, logical_id: str) -> FunctionSpec:
        for function in self.functions:
            if function.logical_id == logical_id:
                return function
        raise TemplateError(f"no AWS::Serverless::Function {logical_id} in {self.path}")

    def _event(self, function_id: str, name: str, event: dict[str, Any]) -> EventSpec | None:
        kind = event.get("Type")
        props = event.get("Properties") or {}
        if kind == "Api":
            rest_api = props.get("RestApiId")
            return ApiEvent(
                name=name,
                path=str(self.resolve(props["Path"])),
                method=str(self.resolve(props["Method"])).upper(),
                rest_api_id=rest_api.get("Ref") if isinstance(rest_api, dict) else rest_api,
            )
        if kind == "SQS":
            queue = _get_att_target(props.get("Queue"), "Arn")
            if queue is None:
                raise TemplateError(f"{function_id}.{name}: SQS Queue must be !GetAtt <Queue>.Arn")
            scaling = self.resolve(props.get("ScalingConfig") or {})
            return SqsEvent(
                name=name,
                queue=queue,
                batch_size=int(self.resolve(props.get("BatchSize", 10))),
                maximum_batching_window=float(self.resolve(props.get("MaximumBatchingWindowInSeconds", 0))),
                function_response_types=tuple(self.resolve(props.get("FunctionResponseTypes") or [])),
                maximum_concurrency=_int_or_none(scaling.get("MaximumConcurrency")),
                enabled=_truthy(self.resolve(props.get("Enabled", True))),
            )
        if kind in ("ScheduleV2", "Schedule"):
            plain = self.resolve({k: v for k, v in props.items() if k != "Target"})
            state = plain.get("State")
            enabled = _truthy(plain.get("Enabled", True)) and state != "DISABLED"
            retry = plain.get("RetryPolicy") or {}
            return ScheduleEvent(
                name=name,
                type=kind,
                expression=str(plain.get("ScheduleExpression") if kind == "ScheduleV2" else plain.get("Schedule")),
                enabled=enabled,
                input=plain.get("Input"),
                maximum_retry_attempts=_int_or_none(retry.get("MaximumRetryAttempts")),
            )
        return None  # other event types are not emulated locally

    # ---- API and environment ------------------------------------------------------------------------------------

    def api_stage(self, rest_api_id: str | None = None) -> str:
        """StageName of the (first, or given) AWS::Serverless::Api; SAM's implicit API uses "Prod"."""
        for logical_id, props in self._of_type("AWS::Serverless::Api"):
            if rest_api_id is None or logical_id == rest_api_id:
                return str(self.resolve(props.get("StageName", "Prod")))
        return "Prod"

    def environment(
        self,
        refs: Mapping[str, Any] | None = None,
        attrs: Mapping[tuple[str, str], Any] | None = None,
        function_id: str | None = None,
    ) -> dict[str, str]:
        """Globals.Function.Environment (plus one function's own variables) with every intrinsic resolved."""
        raw = dict((self.globals_function.get("Environment") or {}).get("Variables") or {})
        if function_id is not None:
            raw.update(self.function(function_id).environment)
        resolved = self.resolve(raw, refs, attrs)
        return {name: _env_string(value) for name, value in resolved.items()}


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


_NO_VALUE = _NoValue()


def _get_att_target(value: Any, attribute: str) -> str | None:
    """``!GetAtt X.Arn`` -> ``"X"`` (None for anything else)."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attr = value["Fn::GetAtt"]
        if attr == attribute:
            return str(logical_id)
    return None


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _int_or_none(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def _env_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def load_template(
    path: str | Path,
    parameter_overrides: Mapping[str, Any] | None = None,
    *,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> Template:
    return Template(path, parameter_overrides, region=region, account_id=account_id)
