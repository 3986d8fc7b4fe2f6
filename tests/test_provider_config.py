"""Providers that cannot work are refused at planning: one located line, exit 2, no model
called. Each case here used to surface only at run time, as every cell erroring."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result

import prompteur
from prompteur.core._errors import SuiteError
from prompteur.providers import _registry


def assert_one_line_error(result: Result, expected: str, *, whole: bool = True) -> None:
    """Exit 2 and one line of error: ``expected`` all of it, or its start (``whole=False``)."""
    assert result.exit_code == 2, result.output
    if whole:
        assert result.stderr == f"error: {expected}\n", result.stderr
    else:
        assert result.stderr.startswith(f"error: {expected}"), result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.output


@pytest.fixture
def install_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str, str, str], None]]:
    """Install a provider plugin as pip would: a module and a dist-info folder whose
    entry_points.txt declares ``name = module:factory`` in the ``prompteur.providers``
    group, both on sys.path (importlib.metadata reads the folder from there)."""
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    # forget the prefixes these tests load, so that no other test sees their factories
    monkeypatch.setattr(_registry, "_registered", dict(_registry._registered))
    modules: list[str] = []

    def install(name: str, entry_point: str, source: str) -> None:
        module = entry_point.partition(":")[0]
        modules.append(module)
        (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        dist = site / f"{name}_plugin-1.0.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}-plugin\nVersion: 1.0\n", encoding="utf-8"
        )
        (dist / "entry_points.txt").write_text(
            f"[prompteur.providers]\n{name} = {entry_point}\n", encoding="utf-8"
        )
        importlib.invalidate_caches()

    yield install
    for module in modules:
        sys.modules.pop(module, None)


PLUGIN_SUITE = """
    prompts: [hi]
    providers:
      - id: {id}
        config: {{}}
"""


def test_plugin_factory_refusing_its_config_is_one_located_line(
    install_plugin: Callable[[str, str, str], None],
    write: Callable[[str, str], Path],
    run_cli: Callable[..., Result],
) -> None:
    install_plugin(
        "needsurl",
        "needsurl_provider:create",
        """
        def create(spec, context):
            if "url" not in spec.config:
                raise ValueError("needs config.url")
        """,
    )
    write("suite.yaml", PLUGIN_SUITE.format(id="needsurl:model"))
    result = run_cli("eval", "suite.yaml")
    assert_one_line_error(
        result, "suite.yaml:3:5: provider 'needsurl:model' cannot be set up: needs config.url"
    )


def test_plugin_factory_error_given_on_the_command_line_names_its_type(
    install_plugin: Callable[[str, str, str], None],
    write: Callable[[str, str], Path],
    run_cli: Callable[..., Result],
) -> None:
    install_plugin(
        "keyed",
        "keyed_provider:create",
        "def create(spec, context):\n    return spec.config['url']\n",
    )
    write("suite.yaml", "prompts: [hi]\nproviders: [echo]\n")
    # a KeyError's message alone ("'url'") would not say what went wrong
    result = run_cli("eval", "suite.yaml", "-p", "keyed:m")
    assert_one_line_error(result, "provider 'keyed:m' cannot be set up: KeyError: 'url'")


def test_plugin_that_cannot_be_imported_is_located(
    install_plugin: Callable[[str, str, str], None],
    write: Callable[[str, str], Path],
    run_cli: Callable[..., Result],
) -> None:
    install_plugin("broken", "broken_provider:create", "import no_such_module_for_prompteur\n")
    write("suite.yaml", "prompts: [hi]\nproviders: ['broken:x']\n")
    result = run_cli("eval", "suite.yaml")
    assert_one_line_error(
        result,
        "suite.yaml:2:13: provider 'broken' cannot be imported (No module named "
        "'no_such_module_for_prompteur'); reinstall the package that provides it "
        "(broken-plugin)",
    )


def test_plugin_whose_entry_point_names_a_missing_function(
    install_plugin: Callable[[str, str, str], None], write: Callable[[str, str], Path]
) -> None:
    install_plugin("typo", "typo_provider:craete", "def create(spec, context): ...\n")
    write("suite.yaml", "prompts: [hi]\nproviders: ['typo:x']\n")
    with pytest.raises(SuiteError, match=r"^suite.yaml:2:13: provider 'typo' cannot be imported"):
        prompteur.plan_suite("suite.yaml")


def test_plugin_factory_returning_no_provider(
    install_plugin: Callable[[str, str, str], None], write: Callable[[str, str], Path]
) -> None:
    install_plugin("hollow", "hollow_provider:create", "def create(spec, context): pass\n")
    write("suite.yaml", PLUGIN_SUITE.format(id="hollow:x"))
    with pytest.raises(
        SuiteError, match=r"^suite.yaml:3:5: provider 'hollow:x': its factory returned NoneType"
    ):
        prompteur.plan_suite("suite.yaml")


def test_registered_factory_error_is_a_suite_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_registry, "_registered", dict(_registry._registered))

    def create(spec: object, context: object) -> prompteur.Provider:
        raise RuntimeError("the service needs a region")

    prompteur.register_provider("regional", create)
    with pytest.raises(
        SuiteError,
        match=r"provider 'regional:x' cannot be set up: RuntimeError: the service needs a region",
    ):
        prompteur.plan_suite({"prompts": ["hi"], "providers": ["regional:x"]})


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"root:x:0:0:root:/root:/bin/bash\n", "not a GGUF model file: model.gguf"),
        (
            b"version https://git-lfs.github.com/spec/v1\noid sha256:0\n",
            "model file is a Git LFS pointer, not the model: model.gguf (run git lfs pull)",
        ),
        (b"tjgg\x03\x00\x00\x00", "model file is in the old GGML format"),
        (b"", "not a GGUF model file: model.gguf"),
    ],
    ids=["text", "lfs-pointer", "old-ggml", "empty"],
)
def test_local_model_file_that_is_not_gguf_is_refused(
    tmp_path: Path, run_cli: Callable[..., Result], content: bytes, expected: str
) -> None:
    (tmp_path / "model.gguf").write_bytes(content)
    (tmp_path / "suite.yaml").write_text("prompts: [hi]\nproviders: ['local:model.gguf']\n")
    result = run_cli("eval", "suite.yaml")
    assert_one_line_error(result, f"suite.yaml:2:13: {expected}", whole=False)


def test_local_model_path_that_is_a_folder_is_refused(
    tmp_path: Path, write: Callable[[str, str], Path]
) -> None:
    (tmp_path / "models").mkdir()
    write("suite.yaml", "prompts: [hi]\nproviders: ['local:models']\n")
    with pytest.raises(SuiteError, match=r"^suite.yaml:2:13: model path is not a file: models$"):
        prompteur.plan_suite("suite.yaml")


def test_local_gguf_file_is_accepted_without_loading_it(tmp_path: Path) -> None:
    (tmp_path / "tiny.gguf").write_bytes(b"GGUF\x03\x00\x00\x00" + bytes(16))
    plan = prompteur.plan_suite({"prompts": ["hi"], "providers": ["local:tiny.gguf"]})
    assert [p.id for p in plan.providers] == ["local:tiny.gguf"]


def test_local_without_llama_cpp_is_refused_before_the_run(
    write: Callable[[str, str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # as if it were not installed
    write("suite.yaml", "prompts: [hi]\nproviders: [local]\n")
    with pytest.raises(
        SuiteError,
        match=r"^suite.yaml:2:13: the local provider needs llama-cpp-python: "
        r"pip install llama-cpp-python$",
    ):
        prompteur.plan_suite("suite.yaml")


def test_local_with_a_broken_llama_cpp_is_refused_before_the_run(tmp_path: Path) -> None:
    # a llama_cpp package that fails to import, ahead of the real one, in a process of its own
    shadow = tmp_path / "shadow" / "llama_cpp"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        'raise ImportError("libllama.so: cannot open shared object file")\n'
    )
    (tmp_path / "suite.yaml").write_text("prompts: [hi]\nproviders: [local]\n")
    env = {**os.environ, "PYTHONPATH": str(shadow.parent)}
    result = subprocess.run(
        [sys.executable, "-m", "prompteur", "eval", "suite.yaml", "--db", "store.db"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == (
        "error: suite.yaml:2:13: the local provider cannot import llama-cpp-python "
        "(libllama.so: cannot open shared object file): "
        "pip install --force-reinstall --no-cache-dir llama-cpp-python\n"
    )
    assert not (tmp_path / "store.db").exists(), "nothing is recorded for a refused suite"


def test_checking_llama_cpp_does_not_import_it() -> None:
    # importing it takes about half a second, which a fully cached run must not pay
    code = (
        "import sys, prompteur\n"
        "prompteur.plan_suite({'prompts': ['hi'], 'providers': ['local']})\n"
        "print('llama_cpp' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("provider", "url", "expected"),
    [
        ("openai:chat:m", "not a url", "'not a url' is not a URL"),
        (
            "ollama:chat:m",
            "ftp://127.0.0.1/v1",
            "'ftp://127.0.0.1/v1' is not an http:// or https:// URL",
        ),
        (
            "anthropic:messages:m",
            "localhost:8080",
            "'localhost:8080' has no scheme (did you mean 'http://localhost:8080'?)",
        ),
        ("openai:chat:m", "http://", "'http://' names no host"),
        (
            "openai:chat:m",
            "http://127.0.0.1:99999/v1",
            "'http://127.0.0.1:99999/v1' has an invalid port",
        ),
    ],
)
def test_unusable_api_base_url_is_refused_before_the_run(
    write: Callable[[str, str], Path],
    run_cli: Callable[..., Result],
    provider: str,
    url: str,
    expected: str,
) -> None:
    write(
        "suite.yaml",
        f"""
        prompts: [hi]
        providers:
          - id: {provider}
            config: {{apiBaseUrl: "{url}", apiKey: k}}
        """,
    )
    result = run_cli("eval", "suite.yaml")
    assert_one_line_error(
        result,
        f"suite.yaml:3:5: provider '{provider}' config 'apiBaseUrl': {expected}",
        whole=False,
    )


def test_api_host_that_is_a_url_is_refused() -> None:
    with pytest.raises(
        SuiteError,
        match=r"config 'apiHost': 'https://api.example.com' is not a host name "
        r"\(a full URL goes in apiBaseUrl\)",
    ):
        prompteur.plan_suite(
            {
                "prompts": ["hi"],
                "providers": [
                    {"id": "openai:chat:m", "config": {"apiHost": "https://api.example.com"}}
                ],
            }
        )


@pytest.mark.parametrize(
    ("provider", "variable", "value", "expected"),
    [
        (
            "openai:chat:m",
            "OPENAI_BASE_URL",
            "api.example.com/v1",
            "'api.example.com/v1' has no scheme (did you mean 'https://api.example.com/v1'?)",
        ),
        (
            "ollama:chat:m",
            "OLLAMA_BASE_URL",
            "localhost:11434",
            "'localhost:11434' has no scheme (did you mean 'http://localhost:11434'?)",
        ),
        ("anthropic:messages:m", "ANTHROPIC_BASE_URL", "https://", "'https://' names no host"),
    ],
)
def test_unusable_base_url_from_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, provider: str, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    with pytest.raises(
        SuiteError, match=re.escape(f"provider '{provider}': {variable}: {expected}")
    ):
        prompteur.plan_suite({"prompts": ["hi"], "providers": [provider]})


def test_usable_base_urls_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_BASE_URL", "http://127.0.0.1:11434/")
    plan = prompteur.plan_suite(
        {
            "prompts": ["hi"],
            "providers": [
                "ollama:chat:m",
                {"id": "openai:chat:m", "config": {"apiBaseUrl": "http://[::1]:8080/v1"}},
                {"id": "openai:chat:n", "config": {"apiHost": "llm.example.com:8443"}},
            ],
        }
    )
    assert [getattr(p, "base_url", None) for p in plan.providers] == [
        "http://127.0.0.1:11434/v1",
        "http://[::1]:8080/v1",
        "https://llm.example.com:8443/v1",
    ]


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        (
            "openai:completion:gpt-3.5-turbo-instruct",
            "provider 'openai:completion:gpt-3.5-turbo-instruct': the text completions API is "
            "not supported; call a chat model as 'openai:chat:gpt-3.5-turbo-instruct'",
        ),
        (
            "openai:assistant:asst_123",
            "provider 'openai:assistant:asst_123': the Assistants API is not supported; "
            "call a chat model as 'openai:chat:asst_123'",
        ),
        (
            "ollama:embeddings:nomic-embed-text",
            "provider 'ollama:embeddings:nomic-embed-text' is an embedding model: it serves the "
            "'similar' assertion, not prompts; give a chat model such as 'ollama:chat:MODEL'",
        ),
        (
            "anthropic:completion:claude-2.1",
            "provider 'anthropic:completion:claude-2.1': only the Messages API is supported; "
            "write 'anthropic:messages:claude-2.1'",
        ),
    ],
)
def test_ids_of_unsupported_apis_are_not_read_as_model_names(
    write: Callable[[str, str], Path], run_cli: Callable[..., Result], provider: str, expected: str
) -> None:
    write("suite.yaml", f"prompts: [hi]\nproviders: ['{provider}']\n")
    result = run_cli("eval", "suite.yaml")
    assert_one_line_error(result, f"suite.yaml:2:13: {expected}")


def test_model_names_with_a_tag_are_still_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    plan = prompteur.plan_suite(
        {"prompts": ["hi"], "providers": ["ollama:llama3:8b", "ollama:chat:qwen2.5:0.5b"]}
    )
    assert [getattr(p, "model", None) for p in plan.providers] == ["llama3:8b", "qwen2.5:0.5b"]


@pytest.mark.parametrize("provider", ["openai:chat:m", "anthropic:messages:m", "ollama:chat:m"])
def test_api_key_variable_that_is_not_set_is_refused(
    write: Callable[[str, str], Path], run_cli: Callable[..., Result], provider: str
) -> None:
    # a misspelt variable would otherwise send no key, and every call fail with a 401
    write(
        "suite.yaml",
        f"""
        prompts: [hi]
        providers:
          - id: {provider}
            config: {{apiBaseUrl: "http://127.0.0.1:9/v1", apiKeyEnvar: TEAM_KEY}}
        """,
    )
    result = run_cli("eval", "suite.yaml")
    assert_one_line_error(
        result,
        f"suite.yaml:3:5: provider '{provider}' config 'apiKeyEnvar': TEAM_KEY is not set "
        "(set it, or remove apiKeyEnvar)",
    )


def test_api_key_variable_set_in_the_suite_env_is_used() -> None:
    plan = prompteur.plan_suite(
        {
            "prompts": ["hi"],
            "env": {"TEAM_KEY": "sk-team"},
            "providers": [{"id": "openai:chat:gpt-4o-mini", "config": {"apiKeyEnvar": "TEAM_KEY"}}],
        }
    )
    client = getattr(plan.providers[0], "client", None)
    assert getattr(client, "headers", {}).get("Authorization") == "Bearer sk-team"


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            {"response_format": {"json_schema": {"schema": {}}}},
            "config 'response_format': it needs a type: 'json_object' (optionally with a schema) "
            "or 'json_schema'",
        ),
        (
            {"response_format": {"type": "json"}},
            "config 'response_format': type 'json' is not one of 'json_object', 'json_schema', "
            "'text'",
        ),
        (
            {"response_format": {"type": "json_object", "schema": {"type": "objet"}}},
            "config 'response_format': its schema is not valid JSON Schema: 'objet' is not valid "
            "under any of the given schemas (at type)",
        ),
        (
            {"max_tokens": 4096},
            "config: max_tokens (4096) leaves no room for the prompt in a context of 2048 "
            "tokens: raise contextLength or lower max_tokens",
        ),
        ({"temperature": -1}, "config 'temperature': should be at least 0 (got -1)"),
        (
            {"temprature": 0.5},
            "unknown config key 'temprature' for provider 'local' (did you mean 'temperature'?)",
        ),
    ],
)
def test_local_settings_llama_cpp_would_ignore_or_fail_on_are_refused(
    config: dict[str, object], expected: str
) -> None:
    with pytest.raises(SuiteError) as raised:
        prompteur.plan_suite({"prompts": ["hi"], "providers": [{"id": "local", "config": config}]})
    assert raised.value.message.endswith(expected), raised.value.message


def test_local_takes_openai_response_formats_as_llama_cpp_reads_them() -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    openai_form = {"type": "json_schema", "json_schema": {"name": "v", "schema": schema}}
    plan = prompteur.plan_suite(
        {
            "prompts": ["hi"],
            "providers": [
                {"id": "local", "label": "a", "config": {"response_format": openai_form}},
                {"id": "local", "label": "b", "config": {"response_format": {"type": "text"}}},
                {
                    "id": "local",
                    "label": "c",
                    "config": {"max_tokens": 4096, "contextLength": 8192},
                },
            ],
        }
    )
    a, b, c = (getattr(p, "settings", {}) for p in plan.providers)
    assert a["response_format"] == {"type": "json_object", "schema": schema}
    assert "response_format" not in b
    assert c["max_tokens"] == 4096


@pytest.mark.parametrize(
    ("provider", "key", "suggested"),
    [
        ("ollama:chat:llama3", "num_predict", "max_tokens"),
        ("openai:chat:m", "base_url", "apiBaseUrl"),
        ("anthropic:messages:m", "functions", "tools"),  # OpenAI takes functions too
        ("local", "num_ctx", "contextLength"),
        ("anthropic:messages:m", "stopSequences", "stop_sequences"),
    ],
)
def test_other_tools_names_for_a_setting_get_ours_suggested(
    provider: str, key: str, suggested: str
) -> None:
    suite = {"prompts": ["hi"], "providers": [{"id": provider, "config": {key: 1, "apiKey": "k"}}]}
    if provider == "local":
        del suite["providers"][0]["config"]["apiKey"]  # type: ignore[index]
    with pytest.raises(SuiteError) as raised:
        prompteur.plan_suite(suite)
    assert raised.value.message == (
        f"unknown config key '{key}' for provider '{provider}' (did you mean '{suggested}'?)"
    )


def test_openai_settings_no_server_accepts_are_refused() -> None:
    for config, expected in [
        ({"max_tokens": 0}, "config 'max_tokens': should be at least 1 (got 0)"),
        ({"top_p": 1.5}, "config 'top_p': should be at most 1 (got 1.5)"),
        ({"temperature": -0.1}, "config 'temperature': should be at least 0 (got -0.1)"),
    ]:
        with pytest.raises(SuiteError) as raised:
            prompteur.plan_suite(
                {"prompts": ["hi"], "providers": [{"id": "openai:chat:m", "config": config}]}
            )
        assert raised.value.message == f"provider 'openai:chat:m' {expected}"


def test_promptfoos_passthrough_is_sent_with_each_request() -> None:
    plan = prompteur.plan_suite(
        {
            "prompts": ["hi"],
            "providers": [
                {
                    "id": "openai:chat:m",
                    "config": {"apiBaseUrl": "http://127.0.0.1:9/v1", "passthrough": {"top_k": 5}},
                }
            ],
        }
    )
    body = plan.providers[0].request_body(prompteur.CompletionRequest.from_text("hi"))  # type: ignore[attr-defined]
    assert body["top_k"] == 5


def test_python_provider_that_cannot_take_the_three_arguments_is_refused(
    write: Callable[[str, str], Path], run_cli: Callable[..., Result]
) -> None:
    write("provider.py", "def call_api(prompt):\n    return prompt\n")
    write("suite.yaml", "prompts: [hi]\nproviders: ['file://provider.py']\n")
    result = run_cli("eval", "suite.yaml")
    assert_one_line_error(
        result,
        "suite.yaml:2:13: python provider provider.py:call_api(prompt) cannot be called as "
        "(prompt, options, context); give it those three parameters",
    )


def test_python_provider_with_defaults_or_var_args_is_accepted(
    write: Callable[[str, str], Path],
) -> None:
    write(
        "provider.py",
        """
        def call_api(prompt, options=None, context=None):
            return prompt

        def anything(*args, **kwargs):
            return args[0]
        """,
    )
    plan = prompteur.plan_suite(
        {"prompts": ["hi"], "providers": ["file://provider.py", "python:provider.py:anything"]}
    )
    assert len(plan.providers) == 2


def test_local_with_llama_cpp_lib_path_pointing_nowhere_says_so(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "suite.yaml").write_text("prompts: [hi]\nproviders: [local]\n")
    env = {**os.environ, "LLAMA_CPP_LIB_PATH": str(tmp_path / "empty")}
    result = subprocess.run(
        [sys.executable, "-m", "prompteur", "eval", "suite.yaml", "--db", "store.db"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(
        "error: suite.yaml:2:13: the local provider cannot import llama-cpp-python ("
    ), result.stderr
    assert result.stderr.endswith(
        f"point LLAMA_CPP_LIB_PATH ({tmp_path / 'empty'}) at llama.cpp's library folder, "
        "or unset it\n"
    ), result.stderr


def test_config_values_of_the_wrong_kind_are_told_plainly(
    run_cli: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    cases = {
        "temperature: hot": "config 'temperature': should be a number (got 'hot')",
        "seed: 1.5": "config 'seed': should be a whole number (got 1.5)",
        "stop: {a: 1}": "config 'stop': should be text or a list",
    }
    for setting, message in cases.items():
        write(
            "suite.yaml",
            "prompts: [hi]\nproviders:\n  - id: openai:chat:m\n"
            f"    config: {{apiBaseUrl: 'http://127.0.0.1:9/v1', {setting}}}\ntests: [{{}}]\n",
        )
        result = run_cli("eval", "suite.yaml", "--no-progress")
        assert result.exit_code == 2
        assert result.stderr == (f"error: suite.yaml:3:5: provider 'openai:chat:m' {message}\n"), (
            setting
        )


def test_the_embedded_model_stops_at_128_tokens_unless_told(tmp_path: Path) -> None:
    # a 135M model may repeat itself to the limit: 256 tokens took 167 s on one cell
    (tmp_path / "tiny.gguf").write_bytes(b"GGUF" + bytes(64))
    plan = prompteur.plan_suite({"prompts": ["hi"], "providers": ["local:tiny.gguf"]})
    assert plan.providers[0].identity()["params"]["max_tokens"] == 128
    told = {"id": "local:tiny.gguf", "config": {"max_tokens": 300}}
    plan = prompteur.plan_suite({"prompts": ["hi"], "providers": [told]})
    assert plan.providers[0].identity()["params"]["max_tokens"] == 300
