"""Test cases from a suite: inline, or from CSV, JSONL, JSON and YAML files; defaultTest
merged in; array-valued variables expanded into a cross product (unless the test's options
say ``disableVarExpansion``)."""

from __future__ import annotations

import glob
import itertools
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ..core._errors import Location, SuiteError
from ..core._transforms import Transform, TransformError, load_transform
from ._assertion_types import AssertionTypes
from ._csv_tests import csv_tests, parse_compact_assertion
from ._errors import located_validation_error
from ._limits import MAX_DEPTH, check_storable
from ._models import Assertion, Suite, TestCase, TestSource
from ._reading import read_text
from ._source import Origin, SourceFile, loads_yaml, parse_yaml
from ._test_generators import generated_tests, is_generator
from ._var_files import load_var_file, settled_vars, with_vars_files
from ._yaml_stream import yaml_list_items

__all__ = ["ResolvedTest", "parse_compact_assertion", "resolve_tests"]

_TEST = TypeAdapter(TestCase)


@dataclass(frozen=True)
class ResolvedTest:
    """A concrete test case: defaults merged, variables expanded, assertions with origins."""

    index: int
    description: str | None
    vars: dict[str, Any]
    assertions: list[Assertion]  # defaultTest's first
    threshold: float | None
    repeat: int | None
    metadata: dict[str, Any]
    origin: Origin | None
    base_dir: Path
    options: dict[str, Any] = field(default_factory=dict)
    default_origin: Origin | None = None
    default_assert_count: int = 0
    #: the model this test runs on in place of each of the suite's (``provider``), as the
    #: suite writes it: an id, or {id, config, label}
    provider: Any = None

    #: where each of the test's own assertions is written, when they come from several
    #: places (a scenario's config item and its test)
    assert_origins: tuple[Origin | None, ...] | None = None
    #: ``assertScoringFunction`` and the folder its path is relative to
    scoring: tuple[str, Path] | None = None
    #: ``providerOutput``: the output to grade, in place of a provider's
    provider_output: Any = None

    @property
    def location(self) -> Location | None:
        return self.origin.location() if self.origin else None

    def assertion_origin(self, position: int) -> Origin | None:
        """Where the assertion at ``position`` of :attr:`assertions` is written."""
        if self.assert_origins is not None and position >= self.default_assert_count:
            return self.assert_origins[position - self.default_assert_count]
        if position < self.default_assert_count:
            return self.default_origin.child("assert", position) if self.default_origin else None
        index = position - self.default_assert_count
        return self.origin.child("assert", index) if self.origin else None


def _jsonl_tests(source: SourceFile) -> list[Any]:
    tests = []
    for number, line in enumerate(source.text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            tests.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise SuiteError(
                f"invalid JSON: {exc.msg}", Location(source.name, number, exc.colno)
            ) from None
        except RecursionError:
            raise SuiteError(
                f"invalid JSON: data nested more than {MAX_DEPTH} levels deep",
                Location(source.name, number),
            ) from None
        source.row_lines.append(number)
        check_storable(tests[-1], source, (len(tests) - 1,))
    return tests


def _structured_tests(source: SourceFile) -> Iterable[Any]:
    if source.kind == "yaml":
        items = yaml_list_items(source.text, loads_yaml)
        if items is not None:
            return _streamed(items, source)
    return _whole_tests(source)


def _whole_tests(source: SourceFile) -> list[Any]:
    data = parse_yaml(source.text, source)
    if data is None:
        return []
    if isinstance(data, dict):
        return [data]
    if not isinstance(data, list):
        raise SuiteError("a tests file must hold a list of test cases", Location(source.name, 1, 1))
    return data


def _streamed(items: Iterator[Any], source: SourceFile) -> Iterator[Any]:
    """A large file's items as its chunks are parsed; where a chunk does not read, the
    whole file is parsed instead (which names the error's line, or reads what chunks
    could not), and the items not given yet come from it."""
    given = 0
    try:
        for item in items:
            check_storable(item, source, (given,))
            yield item
            given += 1
    except ValueError:
        yield from _whole_tests(source)[given:]


def load_test_file(
    path: Path, referrer: Location | None, types: AssertionTypes
) -> tuple[Iterator[TestCase], SourceFile]:
    """Read one tests file; its cases are validated as they are consumed, each raw record
    released once validated (peak memory stays near one copy of the data). Errors name the
    file, line and column. ``types`` tells a CSV's compact assertions from expected text."""
    text = read_text(path, referrer)
    suffix = path.suffix.lower()
    kinds = {".csv": "csv", ".jsonl": "jsonl", ".json": "json", ".yaml": "yaml", ".yml": "yaml"}
    if suffix not in kinds:
        raise SuiteError(
            f"unsupported tests file {path.name}: use .csv, .jsonl, .json or .yaml, or a "
            "test generator in .py or .js (TypeScript is not run)",
            referrer,
        )
    source = SourceFile(path, text, kinds[suffix])
    raw: Iterable[Any]
    if source.kind == "csv":
        raw = csv_tests(source, types)
    elif source.kind == "jsonl":
        raw = _jsonl_tests(source)
    else:
        raw = _structured_tests(source)
    return _validated(raw, source), source


def _released(raw: list[Any]) -> Iterator[Any]:
    """The records of a list, each let go of as it is handed out."""
    for number in range(len(raw)):
        record, raw[number] = raw[number], None
        yield record


def _validated(raw: Iterable[Any], source: SourceFile) -> Iterator[TestCase]:
    records = _released(raw) if isinstance(raw, list) else raw
    folder = source.path.parent
    for number, record in enumerate(records):
        try:
            if isinstance(record, dict) and isinstance(record.get("vars"), str | list):
                record = with_vars_files(record, folder, source.location((number, "vars")))
            yield _TEST.validate_python(record)
        except ValidationError as exc:
            raise located_validation_error(exc, Origin(source, (number,)), TestCase) from None


def _test_files(ref: str, base_dir: Path, referrer: Location | None) -> list[Path]:
    pattern = ref.removeprefix("file://")
    if glob.has_magic(pattern):
        paths = sorted(Path(p) for p in glob.glob(str(base_dir / pattern), recursive=True))
        if not paths:
            raise SuiteError(f"no tests file matches {pattern}", referrer)
        return paths
    return [base_dir / pattern]


def _source_tests(
    suite: Suite, base_dir: Path, origin: Origin | None, types: AssertionTypes
) -> Iterator[tuple[TestCase, Origin | None, Path]]:
    for position, item in enumerate(suite.tests):
        here = origin.child("tests", position) if origin else None
        if isinstance(item, TestCase):
            yield item, here, base_dir
            continue
        where = here.location() if here else None
        config = item.config if isinstance(item, TestSource) else None
        ref = item.path if isinstance(item, TestSource) else item
        if is_generator(ref):
            for number, raw in enumerate(generated_tests(ref, config, base_dir, where)):
                try:
                    yield _TEST.validate_python(raw), here, base_dir
                except ValidationError as exc:
                    raise SuiteError(
                        f"test {number + 1} of {ref}: {_first_problem(exc)}", where
                    ) from None
            continue
        item = ref
        if not item.startswith("file://"):
            raise SuiteError(
                f"a test must be a mapping or a file:// reference, got {item!r}",
                here.location() if here else None,
            )
        for path in _test_files(item, base_dir, here.location() if here else None):
            cases, source = load_test_file(path, here.location() if here else None, types)
            folder = path.parent  # one object for the file's cases: planning keys on it
            for number, case in enumerate(cases):
                yield case, Origin(source, (number,)), folder


def _scenario_tests(
    suite: Suite, base_dir: Path, origin: Origin | None
) -> Iterator[tuple[TestCase, Origin | None, Path, tuple[Origin | None, ...]]]:
    """Each scenario's tests under each of its config items, as promptfoo combines them:
    the test's settings over the item's, their vars and metadata merged, the item's
    assertions before the test's, and the test's options alone."""
    for s, scenario in enumerate(suite.scenarios):
        here = origin.child("scenarios", s) if origin else None
        tests = scenario.tests or [TestCase()]
        for c, data in enumerate(scenario.config):
            data_origin = here.child("config", c) if here else None
            for t, test in enumerate(tests):
                test_origin = here.child("tests", t) if here and scenario.tests else data_origin
                merged = data.model_copy(
                    update={
                        **{name: getattr(test, name) for name in test.model_fields_set},
                        "vars": {**data.vars, **test.vars},
                        "metadata": {**data.metadata, **test.metadata},
                        "assert_": [*data.assert_, *test.assert_],
                        "options": test.options,
                    }
                )
                origins = (
                    *(
                        data_origin.child("assert", i) if data_origin else None
                        for i in range(len(data.assert_))
                    ),
                    *(
                        test_origin.child("assert", i) if test_origin else None
                        for i in range(len(test.assert_))
                    ),
                )
                yield merged, test_origin, base_dir, origins


def _default_test(
    suite: Suite, base_dir: Path, origin: Origin | None, types: AssertionTypes
) -> tuple[TestCase, Origin | None]:
    default = suite.default_test
    here = origin.child("defaultTest") if origin else None
    if default is None:
        return TestCase(), None
    if isinstance(default, TestCase):
        return default, here
    if isinstance(default, TestSource):
        raise SuiteError(
            "defaultTest must be a mapping or a file:// reference",
            here.location() if here else None,
        )
    if not default.startswith("file://"):
        raise SuiteError(
            "defaultTest must be a mapping or a file:// reference",
            here.location() if here else None,
        )
    found, source = load_test_file(
        base_dir / default.removeprefix("file://"), here.location() if here else None, types
    )
    cases = list(found)
    if len(cases) != 1:
        raise SuiteError(
            "a defaultTest file must hold exactly one test", Location(source.name, 1, 1)
        )
    return cases[0], Origin(source, ())


def _expand(variables: dict[str, Any]) -> list[dict[str, Any]]:
    """Array-valued variables expand into the cross product of their values; as in
    promptfoo, a list whose first item is not text (a chat history of {role: text}
    mappings, numbers) is one value, not one per item."""
    names = [
        k for k, v in variables.items() if isinstance(v, list) and (not v or isinstance(v[0], str))
    ]
    if not names:
        return [variables]
    combos = itertools.product(*(variables[n] for n in names))
    return [{**variables, **dict(zip(names, combo, strict=True))} for combo in combos]


def _empty_expansion(
    variables: dict[str, Any],
    case: TestCase,
    case_origin: Origin | None,
    default_origin: Origin | None,
) -> SuiteError:
    """The error for a test whose cross product of array-valued vars is empty."""
    name = next(k for k, v in variables.items() if isinstance(v, list) and not v)
    origin = case_origin if name in case.vars else default_origin
    return SuiteError(
        f"variable '{name}' is an empty list, so this test expands to no cases (each value of "
        "an array-valued variable makes one); give it values, or set "
        "options.disableVarExpansion to pass the list as it is",
        origin.location("vars", name) if origin else None,
    )


def resolve_tests(
    suite: Suite, base_dir: Path, origin: Origin | None, types: AssertionTypes
) -> Iterator[ResolvedTest]:
    """Every concrete test of the suite, in order, produced as it is read. A suite without
    tests runs each prompt once, with defaultTest alone. ``types`` are the assertion types
    (a CSV's compact assertions name them)."""
    default, default_origin = _default_test(suite, base_dir, origin, types)
    transforms: dict[tuple[str, Path], Transform] = {}
    count = 0
    sources: Iterator[tuple[TestCase, Origin | None, Path, tuple[Origin | None, ...] | None]]
    sources = itertools.chain(
        ((*found, None) for found in _source_tests(suite, base_dir, origin, types)),
        _scenario_tests(suite, base_dir, origin),
    )
    if not suite.tests and not suite.scenarios:
        sources = iter([(TestCase(), None, base_dir, None)])
    for case, case_origin, case_dir, assert_origins in sources:
        merged_vars = {**default.vars, **case.vars}
        for name, value in merged_vars.items():
            if isinstance(value, str) and value.startswith("file://"):
                # a defaultTest's var file is the suite's, wherever the test is written
                from_case = name in case.vars
                here = case_origin if from_case else default_origin
                where = here.location("vars", name) if here else None
                folder = case_dir if from_case else base_dir
                merged_vars[name] = load_var_file(name, value, folder, where, merged_vars)
        asserts = default.assert_ + case.assert_
        options = {
            **(default.options.model_dump(exclude_none=True) if default.options else {}),
            **(case.options.model_dump(exclude_none=True) if case.options else {}),
        }
        # disableVarExpansion: array-valued vars stay lists, one case (promptfoo's option)
        expanded = [merged_vars] if options.get("disable_var_expansion") else _expand(merged_vars)
        if not expanded:
            raise _empty_expansion(merged_vars, case, case_origin, default_origin)
        vars_code = options.get("transform_vars")
        for variables in expanded:
            if vars_code:
                variables = _transformed_vars(
                    variables, vars_code, case_dir, count, transforms, case_origin or default_origin
                )
            variables = settled_vars(variables)
            yield ResolvedTest(
                index=count,
                description=case.description,
                vars=variables,
                assertions=asserts,
                threshold=case.threshold if case.threshold is not None else default.threshold,
                repeat=case.repeat if case.repeat is not None else default.repeat,
                metadata={**default.metadata, **case.metadata},
                origin=case_origin,
                base_dir=case_dir,
                options=options,
                default_origin=default_origin,
                default_assert_count=len(default.assert_),
                provider=case.provider if case.provider is not None else default.provider,
                assert_origins=assert_origins,
                provider_output=(
                    case.provider_output
                    if case.provider_output is not None
                    else default.provider_output
                ),
                scoring=(
                    (case.assert_scoring_function, case_dir)
                    if case.assert_scoring_function
                    else (default.assert_scoring_function, base_dir)
                    if default.assert_scoring_function
                    else None
                ),
            )
            count += 1


def _transformed_vars(
    variables: dict[str, Any],
    code: str,
    folder: Path,
    index: int,
    transforms: dict[tuple[str, Path], Transform],
    origin: Origin | None,
) -> dict[str, Any]:
    """promptfoo's ``transformVars``: what the code returns is merged into the vars."""
    where = origin.location("options", "transformVars") if origin else None
    transform = transforms.get((code, folder))
    if transform is None:
        try:
            transform = load_transform(code, "vars", folder, "transformVars")
        except SuiteError as exc:
            raise SuiteError(exc.message, exc.location or where) from None
        transforms[(code, folder)] = transform
    # promptfoo hands a fresh uuid; one made from the case's position keeps its key stable
    context = {"prompt": {}, "uuid": str(uuid.uuid5(uuid.NAMESPACE_OID, str(index)))}
    try:
        added = transform(dict(variables), context)
    except TransformError as exc:
        raise SuiteError(str(exc), where) from None
    if not isinstance(added, dict):
        raise SuiteError(
            f"transformVars returned {type(added).__name__}, not a mapping of vars", where
        )
    return {**variables, **added}


def _first_problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where + ': ' if where else ''}{first.get('msg', 'invalid')}"
