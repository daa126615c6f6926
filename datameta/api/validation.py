"""Request validation against openapi.yaml, with what is the same for every request done once.

openapi-core, as pyramid_openapi3 calls it, finds the operation among all paths and builds
a JSON schema validator for the body afresh on every request, then walks the body once more
to unmarshal it, resolving the schema of every property again on the way (for a staged
record of 20 values, about two thirds of the request's Python time). Here:

- the operation found for a route pattern and method is remembered;
- the body's validator is built once per operation and media type, by openapi-core's own
  factory from the same spec, with the same validator class and format checks;
- a body that this validator accepts is answered as it was parsed when its schema has
  nothing to unmarshal (no ``format`` that openapi-core turns into another type, no
  ``default`` to fill in): unmarshalling would give back the very same value;
- the validators and unmarshallers of parameters and bodies, and the style deserializers
  of parameters, are built once per schema;
- the parameters of an operation are read once, and optional ones not given passed over
  (or given their default, unmarshalled by openapi-core the first time);
- the security requirements of an operation and their providers are looked up once, and
  an HTTP scheme's name is read once;
- everything else (bodies the validator rejects, schemas with formats or defaults,
  parameters, security, multipart bodies) goes through openapi-core unchanged, so that the
  error lists and the unmarshalled values are exactly what openapi-core answers.

openapi.yaml stays the one source of truth: nothing here describes a request.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple, cast

from jsonschema_path import SchemaPath
from openapi_core import V30RequestUnmarshaller
from openapi_core.datatypes import Parameters, RequestParameters
from openapi_core.deserializing.styles.deserializers import StyleDeserializer
from openapi_core.schema.parameters import get_style_and_explode
from openapi_core.security.exceptions import SecurityProviderError
from openapi_core.security.providers import BaseProvider, HttpProvider
from openapi_core.templating.paths.datatypes import PathOperationServer
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.templating.security.exceptions import SecurityNotFound
from openapi_core.unmarshalling.schemas.unmarshallers import SchemaUnmarshaller
from openapi_core.validation.decorators import ValidationErrorWrapper
from openapi_core.validation.request.exceptions import (
    InvalidSecurity,
    MissingParameter,
    ParametersError,
    ParameterValidationError,
    SecurityValidationError,
)
from openapi_core.validation.schemas.validators import SchemaValidator
from pyramid.config import PHASE1_CONFIG, Configurator

JSON_MEDIA_TYPE = "application/json"
# Keywords after which an unmarshalled value may differ from the parsed JSON.
UNMARSHALLING_KEYWORDS = frozenset({"format", "default"})
OPERATION_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Route patterns and methods are few; hosts are not: a bound on what is remembered.
MAX_REMEMBERED_PATHS = 1024


def _nodes(spec: dict[str, Any], node: Any, seen: set[str]) -> Iterator[dict[str, Any]]:
    """Every schema object under ``node``, following local $refs once each."""
    if isinstance(node, list):
        for item in node:
            yield from _nodes(spec, item, seen)
    elif isinstance(node, dict):
        reference = node.get("$ref")
        if isinstance(reference, str):
            if reference in seen or not reference.startswith("#/"):
                # Seen already, or not in this document (the spec has none such).
                return
            seen.add(reference)
            target: Any = spec
            for part in reference[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            yield from _nodes(spec, target, seen)
            return
        yield node
        for key, value in node.items():
            if key not in ("enum", "example", "examples", "default"):
                yield from _nodes(spec, value, seen)


def unmarshals_as_parsed(spec: dict[str, Any], schema: Any) -> bool:
    """True when openapi-core's unmarshalling of a valid value of ``schema`` is the value."""
    return not any(UNMARSHALLING_KEYWORDS & node.keys() for node in _nodes(spec, schema, set()))


class _BodySchema:
    """A body's validator, built once, and whether a valid body needs unmarshalling."""

    def __init__(self, validator: SchemaValidator, as_parsed: bool) -> None:
        self.validator = validator
        self.as_parsed = as_parsed


class _Parameter(NamedTuple):
    name: str
    location: str
    spec: SchemaPath
    # Optional, no default, no content: absent, it is simply left out.
    skippable: bool
    # A string with no style, format or default: given and valid, it is its own value.
    plain_string: bool
    # Optional with a default and no content: absent, it takes the same value every time.
    defaulted: bool

    @property
    def key(self) -> tuple[str | int, ...]:
        return (self.location, *self.spec.parts)


# Values that stay what they are: an absent parameter's default may be handed out again.
_IMMUTABLE_DEFAULTS = frozenset({bool, int, float, str, type(None)})


# One security requirement: its schemes' names and providers (None: a scheme not defined).
_Requirement = list[tuple[str, BaseProvider | None]]


class CompiledRequestUnmarshaller(V30RequestUnmarshaller):
    """openapi-core's OpenAPI 3.0 request unmarshaller with its per-operation work cached."""

    def __init__(self, spec: SchemaPath, **options: Any) -> None:
        super().__init__(spec, **options)
        self._spec_dict: dict[str, Any] = spec.read_value()
        self._paths: dict[tuple[str, str, str], PathOperationServer] = {}
        self._bodies: dict[tuple[str | int, ...], _BodySchema | None] = {}
        self._security: dict[tuple[str | int, ...], list[_Requirement]] = {}
        self._parameters: dict[tuple[str | int, ...], list[_Parameter]] = {}
        self._validators: dict[tuple[str | int, ...], SchemaValidator] = {}
        self._unmarshallers: dict[tuple[str | int, ...], SchemaUnmarshaller] = {}
        self._style_deserializers: dict[tuple[Any, ...], StyleDeserializer] = {}
        self._absent_values: dict[tuple[str | int, ...], Any] = {}

    def prepare(self) -> None:
        """Do for every operation what its first request would do: read its parameters and
        security requirements, build its JSON body's validator, and parse every path
        template (openapi-core keeps the parsed templates for the process). Run before the
        server forks its workers (``datameta.warm_up``): they then start with all of it."""
        for _, path in (self.spec / "paths").str_items():
            for method in OPERATION_METHODS:
                if method in path:
                    operation = path / method
                    self._parameters_of(operation, path)
                    self._requirements(operation)
                    self._body_schema(operation, JSON_MEDIA_TYPE)
        # A path that matches none is compared with every template.
        with contextlib.suppress(PathError):
            self.path_finder.find("get", "/-")

    def _find_path(self, request: Any) -> PathOperationServer:
        key = (request.method, request.host_url, request.path_pattern)
        found = self._paths.get(key)
        if found is None:
            found = super()._find_path(request)  # raises PathError: nothing remembered
            if len(self._paths) >= MAX_REMEMBERED_PATHS:
                self._paths.clear()
            self._paths[key] = found
        return found

    def _parameters_of(self, operation: SchemaPath, path: SchemaPath) -> list[_Parameter]:
        """The operation's parameters (then the path's not overridden), read once."""
        key = (*operation.parts, "", *path.parts)
        if key not in self._parameters:
            found: dict[tuple[str, str], _Parameter] = {}
            for param in [*operation.get("parameters", []), *path.get("parameters", [])]:
                name, location = (param / "name").read_str(), (param / "in").read_str()
                required = (param / "required").read_bool(default=False)
                has_default = "content" not in param and "default" in param / "schema"
                skippable = not ("content" in param or has_default or required)
                found.setdefault(
                    (name, location),
                    _Parameter(
                        name,
                        location,
                        param,
                        skippable,
                        self._plain_string(param),
                        has_default and not required,
                    ),
                )
            self._parameters[key] = list(found.values())
        return self._parameters[key]

    def _plain_string(self, param: SchemaPath) -> bool:
        """A string taken as given: no style to undo, nothing to cast, nothing to unmarshal."""
        if "content" in param or (param / "deprecated").read_bool(default=False):
            return False
        location = (param / "in").read_str()
        style = (param / "style").read_str(None) if "style" in param else None
        if style not in (None, "form" if location == "query" else "simple"):
            return False
        with (param / "schema").resolve() as resolved:
            schema = resolved.contents
        return (
            isinstance(schema, dict)
            and schema.get("type") == "string"
            and unmarshals_as_parsed(self._spec_dict, schema)
        )

    def _get_parameters(
        self, parameters: RequestParameters, operation: SchemaPath, path: SchemaPath
    ) -> Parameters:
        """openapi-core's answer; optional parameters not given are passed over at once."""
        errors = []
        validated = Parameters()
        for param in self._parameters_of(operation, path):
            given = parameters[param.location]
            if param.name not in given:
                if param.skippable:
                    continue  # what openapi-core does after finding it missing
                if param.defaulted and param.key in self._absent_values:
                    getattr(validated, param.location)[param.name] = self._absent_values[param.key]
                    continue
            elif param.plain_string:
                value = given[param.name]
                # An empty value is openapi-core's to refuse (allowEmptyValue).
                valid = self._schema_validator(param.spec / "schema").validator.is_valid(value)
                if value != "" and valid:
                    getattr(validated, param.location)[param.name] = value
                    continue
            try:
                value = self._get_parameter(parameters, param.spec)
            except MissingParameter:
                continue
            except ParameterValidationError as error:
                errors.append(error)
                continue
            if param.defaulted and param.name not in given and type(value) in _IMMUTABLE_DEFAULTS:
                # Absent, it got its default: the spec alone decides that value.
                self._absent_values[param.key] = value
            getattr(validated, param.location)[param.name] = value
        if errors:
            raise ParametersError(errors=errors, parameters=validated)
        return validated

    def _deserialise_style(
        self, param_or_header: SchemaPath, location: Mapping[str, Any], name: str | None = None
    ) -> Any:
        """openapi-core's reading of a parameter by its style, by a deserializer built once."""
        key = (*param_or_header.parts, name)
        deserializer = self._style_deserializers.get(key)
        if deserializer is None:
            style, explode = get_style_and_explode(param_or_header)
            deserializer = self.style_deserializers_factory.create(
                self.spec,
                param_or_header / "schema",
                style,
                explode,
                name=name or (param_or_header / "name").read_str(),
            )
            self._style_deserializers[key] = deserializer
        return deserializer.deserialize(location)

    def _validator_options(self) -> dict[str, Any]:
        """The options openapi-core gives every validator and unmarshaller it builds."""
        return {
            "format_validators": self.format_validators,
            "extra_format_validators": self.extra_format_validators,
            "forbid_unspecified_additional_properties": (
                self.forbid_unspecified_additional_properties
            ),
            "enforce_properties_required": self.enforce_properties_required,
        }

    def _schema_validator(self, schema: SchemaPath) -> SchemaValidator:
        key = tuple(schema.parts)
        if key not in self._validators:
            self._validators[key] = self.schema_validators_factory.create(
                self.spec,
                schema,
                **self._validator_options(),
            )
        return self._validators[key]

    def _validate_schema(self, schema: SchemaPath, value: Any) -> None:
        """openapi-core's check of a parameter or body, by a validator built once."""
        self._schema_validator(schema).validate(value)

    def _unmarshal_schema(self, schema: SchemaPath, value: Any) -> Any:
        """openapi-core's unmarshalling of a parameter or body, by an unmarshaller built once."""
        key = tuple(schema.parts)
        if key not in self._unmarshallers:
            self._unmarshallers[key] = self.schema_unmarshallers_factory.create(
                self.spec,
                schema,
                **self._validator_options(),
                format_unmarshallers=self.format_unmarshallers,
                extra_format_unmarshallers=self.extra_format_unmarshallers,
            )
        return self._unmarshallers[key].unmarshal(value)

    def _requirements(self, operation: SchemaPath) -> list[_Requirement]:
        """The operation's security requirements (else the spec's), each with its providers."""
        key = tuple(operation.parts)
        if key not in self._security:
            security = None
            if "security" in self.spec:
                security = self.spec / "security"
            if "security" in operation:
                security = operation / "security"
            schemes = self.spec / "components#securitySchemes"
            self._security[key] = [
                [
                    (name, self._provider(schemes / name)) if name in schemes else (name, None)
                    for name in requirement.str_keys()
                ]
                for requirement in security or []
            ]
        return self._security[key]

    def _provider(self, scheme: SchemaPath) -> BaseProvider:
        """openapi-core's provider of ``scheme``; an HTTP one reads its scheme from the
        scheme's contents, read once, not through the spec's path on every request."""
        provider = self.security_provider_factory.create(scheme)
        if isinstance(provider, HttpProvider):
            with scheme.resolve() as resolved:
                contents = cast(dict[str, Any], resolved.contents)
            provider.scheme = cast(Any, dict(contents))
        return provider

    @ValidationErrorWrapper(SecurityValidationError, InvalidSecurity)
    def _get_security(
        self, parameters: RequestParameters, operation: SchemaPath
    ) -> dict[str, Any] | None:
        """openapi-core's answer, from requirements and providers looked up once."""
        requirements = self._requirements(operation)
        if not requirements:
            return {}
        tried = []
        for requirement in requirements:
            tried.append([name for name, _ in requirement])
            try:
                return {
                    name: provider(parameters) if provider is not None else None
                    for name, provider in requirement
                }
            except SecurityProviderError:
                continue
        raise SecurityNotFound(tried)

    def json_body_check(self, path: str, method: str) -> Callable[[Any], bool] | None:
        """Whether a parsed JSON body of ``method`` on ``path`` (as openapi.yaml names
        them) is valid and is its own unmarshalled value; None where a body may need
        unmarshalling. For the express lane (``datameta.api.express``)."""
        operation = self.spec / "paths" / path / method
        compiled = self._body_schema(operation, JSON_MEDIA_TYPE)
        if compiled is None or not compiled.as_parsed:
            return None
        return compiled.validator.validator.is_valid

    def _body_schema(self, operation: SchemaPath, mimetype: str) -> _BodySchema | None:
        """The compiled validator of ``operation``'s JSON body, or None if there is none."""
        key = (*operation.parts, mimetype)
        if key not in self._bodies:
            self._bodies[key] = self._compile_body_schema(operation, mimetype)
        return self._bodies[key]

    def _compile_body_schema(self, operation: SchemaPath, mimetype: str) -> _BodySchema | None:
        if mimetype != JSON_MEDIA_TYPE or "requestBody" not in operation:
            return None
        content = operation / "requestBody" / "content"
        if JSON_MEDIA_TYPE not in content or "schema" not in content / JSON_MEDIA_TYPE:
            return None
        schema = content / JSON_MEDIA_TYPE / "schema"
        validator = self._schema_validator(schema)
        with schema.resolve() as resolved:
            as_parsed = unmarshals_as_parsed(self._spec_dict, resolved.contents)
        return _BodySchema(validator, as_parsed)

    def _get_body(self, body: bytes | None, mimetype: str, operation: SchemaPath) -> Any:
        compiled = self._body_schema(operation, mimetype) if body else None
        if compiled is not None and compiled.as_parsed:
            try:
                value = json.loads(body)  # type: ignore[arg-type]
            except ValueError:
                value = compiled = None
            if compiled is not None and compiled.validator.validator.is_valid(value):
                return value
        # Rejected, or needs unmarshalling: openapi-core answers, errors and all.
        return super()._get_body(body, mimetype, operation)


def _use_compiled_unmarshaller(config: Configurator) -> None:
    settings = config.registry.settings["pyramid_openapi3"]
    original = settings["request_validator"]
    settings["request_validator"] = CompiledRequestUnmarshaller(
        settings["spec"],
        extra_format_validators=original.extra_format_validators,
        extra_media_type_deserializers=original.extra_media_type_deserializers,
        extra_format_unmarshallers=original.extra_format_unmarshallers,
    )


def prepare_request_validation(registry: Any) -> None:
    """Prepare the validation of every operation's requests (see ``prepare``)."""
    validator = registry.settings["pyramid_openapi3"]["request_validator"]
    if isinstance(validator, CompiledRequestUnmarshaller):
        validator.prepare()


def includeme(config: Configurator) -> None:
    """Swap pyramid_openapi3's request unmarshaller for ours once the spec is loaded."""
    config.action(
        ("datameta_request_unmarshaller",),
        lambda: _use_compiled_unmarshaller(config),
        order=PHASE1_CONFIG,
    )
