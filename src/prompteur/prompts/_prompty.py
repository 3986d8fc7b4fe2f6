"""Reading .prompty files: YAML frontmatter (name, model, inputs with defaults) and a
Jinja2 template body with role-marker lines."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config._source import loads_yaml
from ..core._errors import Location, SuiteError

__all__ = ["Prompty", "parse_prompty"]


@dataclass(frozen=True)
class Prompty:
    name: str | None
    template: str
    body_line: int
    defaults: Mapping[str, Any] = field(default_factory=dict)
    parameters: Mapping[str, Any] = field(default_factory=dict)
    model: str | None = None
    description: str | None = None
    api: str | None = None  # model.api: chat (what prompteur does) or completion
    template_format: str | None = None  # the template engine the file asks for
    # frontmatter prompteur reads nothing from (authors, model.configuration...), as keys
    unread: tuple[str, ...] = ()
    # the metadata block (prompty v2: arbitrary properties)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    version: str | None = None  # as the file gives it: "v3" in a file exported from the registry


def parse_prompty(text: str, origin: Location) -> Prompty:
    """Split frontmatter from body and read the parts prompteur uses."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return Prompty(None, text.strip("\n"), _first_line(text, 1))
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        raise SuiteError("the .prompty frontmatter has no closing '---' line", origin)
    frontmatter = "".join(lines[1:end])
    try:
        meta = loads_yaml(frontmatter) or {}
    except ValueError:
        raise _frontmatter_error(frontmatter, origin) from None
    if not isinstance(meta, dict):
        raise SuiteError("the .prompty frontmatter must be a mapping", origin)
    body = "".join(lines[end + 1 :])
    model: dict[str, Any] = meta["model"] if isinstance(meta.get("model"), dict) else {}
    metadata = meta.get("metadata")
    return Prompty(
        name=str(meta["name"]) if meta.get("name") else None,
        template=body.strip("\n"),
        body_line=_first_line(body, end + 2),
        defaults=_input_defaults(meta.get("inputs"), meta.get("sample")),
        parameters=_model_parameters(model),
        model=_model_name(model),
        description=str(meta["description"]) if meta.get("description") else None,
        api=str(model["api"]) if model.get("api") is not None else None,
        template_format=_template_format(meta.get("template")),
        unread=_unread_keys(meta, model),
        metadata=metadata if isinstance(metadata, dict) else {},
        version=str(meta["version"]) if meta.get("version") is not None else None,
    )


def _first_line(body: str, line: int) -> int:
    """The line where ``body`` starts once its leading blank lines are stripped."""
    return line + len(body) - len(body.lstrip("\n"))


_READ_KEYS = {"name", "description", "version", "model", "inputs", "sample", "template"}
_READ_MODEL_KEYS = {"api", "parameters", "options"}


def _unread_keys(meta: Mapping[str, Any], model: Mapping[str, Any]) -> tuple[str, ...]:
    keys = [str(key) for key in meta if key not in _READ_KEYS and key != "metadata"]
    metadata = meta.get("metadata")
    if isinstance(metadata, dict):  # prompteur keeps its own notes under metadata.prompteur
        keys += [f"metadata.{key}" for key in metadata if key != "prompteur"]
    elif metadata is not None:
        keys.append("metadata")
    keys += [f"model.{key}" for key in model if key not in _READ_MODEL_KEYS]
    if "model" in meta and not isinstance(meta["model"], dict):
        keys.append("model")
    return tuple(keys)


def _template_format(template: Any) -> str | None:
    """``template: jinja2`` (v1) or ``template: {format: jinja2, parser: prompty}`` (v2)."""
    if isinstance(template, dict):
        template = template.get("format")
    return str(template) if template is not None else None


def _frontmatter_error(frontmatter: str, origin: Location) -> SuiteError:
    import yaml

    try:
        yaml.compose(frontmatter, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = Location(origin.file, mark.line + 2, mark.column + 1) if mark else origin
        return SuiteError(f"invalid .prompty frontmatter: {exc.problem}", where)
    return SuiteError("invalid .prompty frontmatter", origin)


def _input_defaults(inputs: Any, sample: Any) -> dict[str, Any]:
    """Defaults from ``inputs`` (v2: a list of {name, default}; v1: a mapping of name to
    {default} or to a plain value), then any v1 ``sample`` values for inputs still unset."""
    defaults: dict[str, Any] = {}
    if isinstance(inputs, list):
        for item in inputs:
            if isinstance(item, dict) and "name" in item and "default" in item:
                defaults[str(item["name"])] = item["default"]
    elif isinstance(inputs, dict):
        for name, spec in inputs.items():
            if isinstance(spec, dict):
                if "default" in spec:
                    defaults[str(name)] = spec["default"]
                elif "sample" in spec:
                    defaults[str(name)] = spec["sample"]
            elif spec is not None:
                defaults[str(name)] = spec
    if isinstance(sample, dict):
        for name, value in sample.items():
            defaults.setdefault(str(name), value)
    return defaults


_PARAMETER_NAMES = {
    "maxOutputTokens": "max_tokens",
    "topP": "top_p",
    "stopSequences": "stop",
    "frequencyPenalty": "frequency_penalty",
    "presencePenalty": "presence_penalty",
}


def _model_parameters(model: Mapping[str, Any]) -> dict[str, Any]:
    """Generation parameters: v1 ``model.parameters`` or v2 ``model.options``."""
    params: dict[str, Any] = {}
    for key in ("parameters", "options"):
        block = model.get(key)
        if isinstance(block, dict):
            for name, value in block.items():
                params[_PARAMETER_NAMES.get(str(name), str(name))] = value
    return params


def _model_name(model: Mapping[str, Any]) -> str | None:
    for key in ("id", "name"):
        if isinstance(model.get(key), str):
            return str(model[key])
    configuration = model.get("configuration") or model.get("connection")
    if isinstance(configuration, dict):
        for key in ("name", "azure_deployment", "model", "id"):
            if isinstance(configuration.get(key), str):
                return str(configuration[key])
    return None
