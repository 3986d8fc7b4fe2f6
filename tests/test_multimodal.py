"""Content-part messages and media vars: a file:// image, audio clip or PDF reaches each
provider that takes media in its own API's shape (the exact request body, read by a local
server), and a provider that takes text only refuses the suite before the run."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

import prompteur

from .servers import ProtocolServer, Reply, Seen, serving

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(40))
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(16)
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n"
PNG64, WAV64, PDF64 = (base64.b64encode(b).decode() for b in (PNG, WAV, PDF))

IMAGE_PROMPT = [
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "Describe {{subject}}."},
            {"type": "image_url", "image_url": {"url": "{{image}}"}},
        ],
    }
]


def any_answer(seen: Seen) -> Reply:
    """One answer that every protocol under test reads (each looks at its own keys)."""
    return Reply(
        {
            "choices": [{"message": {"role": "assistant", "content": "a cat"}}],
            "content": [{"type": "text", "text": "a cat"}],
            "candidates": [{"content": {"parts": [{"text": "a cat"}]}, "finishReason": "STOP"}],
            "output": {"message": {"content": [{"text": "a cat"}]}},
            "stopReason": "end_turn",
        }
    )


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ProtocolServer]:
    for name in (
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "GOOGLE_API_KEY",
        "AWS_BEARER_TOKEN_BEDROCK",
    ):
        monkeypatch.setenv(name, "test-key")
    with serving(ProtocolServer(any_answer)) as running:
        assert isinstance(running, ProtocolServer)
        yield running


@pytest.fixture
def media(tmp_path: Path) -> Path:
    (tmp_path / "cat.png").write_bytes(PNG)
    (tmp_path / "hello.wav").write_bytes(WAV)
    (tmp_path / "report.pdf").write_bytes(PDF)
    return tmp_path


def run(provider: str, server: ProtocolServer, messages: list[Any], **vars: Any) -> Seen:
    import json

    Path("prompt.json").write_text(json.dumps(messages))
    result = prompteur.evaluate(
        {
            "prompts": ["file://prompt.json"],
            "providers": [{"id": provider, "config": {"apiBaseUrl": server.url}}],
            "tests": [{"vars": vars}],
        },
        options=prompteur.EvalOptions(max_retries=0),
    )
    (cell,) = result.results
    assert cell.error is None, cell.error
    assert cell.output == "a cat"
    (seen,) = server.seen
    return seen


TEXT_PART = {"type": "text", "text": "Describe the cat."}


def test_openai_gets_the_image_as_a_data_url(server: ProtocolServer, media: Path) -> None:
    seen = run(
        "openai:chat:gpt-4o-mini", server, IMAGE_PROMPT, subject="the cat", image="file://cat.png"
    )
    assert seen.json["messages"] == [
        {
            "role": "user",
            "content": [
                TEXT_PART,
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG64}"}},
            ],
        }
    ]


def test_openai_gets_audio_as_bare_base64_with_its_format(
    server: ProtocolServer, media: Path
) -> None:
    prompt = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Transcribe."},
                {"type": "input_audio", "input_audio": {"data": "{{clip}}", "format": "wav"}},
            ],
        }
    ]
    seen = run("openai:chat:gpt-4o-audio-preview", server, prompt, clip="file://hello.wav")
    assert seen.json["messages"][0]["content"][1] == {
        "type": "input_audio",
        "input_audio": {"data": WAV64, "format": "wav"},
    }


def test_anthropic_gets_image_and_pdf_blocks(server: ProtocolServer, media: Path) -> None:
    prompt = [
        {"role": "system", "content": "You describe things."},
        {
            "role": "user",
            "content": [
                *IMAGE_PROMPT[0]["content"],
                {"type": "file", "file": {"filename": "report.pdf", "file_data": "{{doc}}"}},
            ],
        },
    ]
    seen = run(
        "anthropic:messages:claude-3-5-haiku-latest",
        server,
        prompt,
        subject="the cat",
        image="file://cat.png",
        doc="file://report.pdf",
    )
    assert seen.json["system"] == "You describe things."
    assert seen.json["messages"] == [
        {
            "role": "user",
            "content": [
                TEXT_PART,
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": PNG64},
                },
                {
                    "type": "document",
                    "source": {"type": "base64", "media_type": "application/pdf", "data": PDF64},
                },
            ],
        }
    ]


def test_gemini_gets_inline_data(server: ProtocolServer, media: Path) -> None:
    seen = run(
        "google:gemini-2.0-flash", server, IMAGE_PROMPT, subject="the cat", image="file://cat.png"
    )
    assert seen.json["contents"] == [
        {
            "role": "user",
            "parts": [
                {"text": "Describe the cat."},
                {"inlineData": {"mimeType": "image/png", "data": PNG64}},
            ],
        }
    ]


def test_bedrock_gets_image_bytes_with_their_format(server: ProtocolServer, media: Path) -> None:
    seen = run(
        "bedrock:amazon.nova-lite-v1:0",
        server,
        IMAGE_PROMPT,
        subject="the cat",
        image="file://cat.png",
    )
    assert seen.json["messages"] == [
        {
            "role": "user",
            "content": [
                {"text": "Describe the cat."},
                {"image": {"format": "png", "source": {"bytes": PNG64}}},
            ],
        }
    ]


def test_the_responses_api_gets_input_parts(server: ProtocolServer, media: Path) -> None:
    server.answer = lambda seen: Reply(
        {
            "status": "completed",
            "output": [{"type": "message", "content": [{"type": "output_text", "text": "a cat"}]}],
        }
    )
    seen = run(
        "openai:responses:gpt-4.1-mini",
        server,
        IMAGE_PROMPT,
        subject="the cat",
        image="file://cat.png",
    )
    assert seen.json["input"] == [
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Describe the cat."},
                {"type": "input_image", "image_url": f"data:image/png;base64,{PNG64}"},
            ],
        }
    ]


def test_echo_shows_a_mark_for_each_media_part_and_so_does_the_stored_prompt(media: Path) -> None:
    import json

    Path("prompt.json").write_text(json.dumps(IMAGE_PROMPT))
    result = prompteur.evaluate(
        {
            "prompts": ["file://prompt.json"],
            "providers": ["echo"],
            "tests": [{"vars": {"subject": "the cat", "image": "file://cat.png"}}],
        }
    )
    (cell,) = result.results
    expected = f"user: Describe the cat.\n[image_url: image/png, {len(PNG):,} bytes]"
    assert (cell.output, cell.prompt) == (expected, expected)
    # results keep a mark, not the base64, once per cell
    assert cell.vars == {"subject": "the cat", "image": f"[image/png, {len(PNG)} bytes]"}


def test_echo_reads_modality_value_parts_as_text_and_a_url_mark() -> None:
    prompt = [
        {
            "role": "user",
            "content": [
                {"modality": "text", "value": "What is in {{place}}?"},
                {
                    "modality": "image",
                    "value": {"type": "url", "url": "https://x.test/{{place}}.jpg"},
                },
            ],
        }
    ]
    Path("prompt.json").write_text(json.dumps(prompt))
    result = prompteur.evaluate(
        {
            "prompts": ["file://prompt.json"],
            "providers": ["echo"],
            "tests": [{"vars": {"place": "boardwalk"}}],
        }
    )
    (cell,) = result.results
    assert cell.output == "user: What is in boardwalk?\n[image: https://x.test/boardwalk.jpg]"


def test_a_provider_that_takes_text_only_is_refused_before_the_run(
    media: Path, write: Callable[[str, str], Path], run_cli: Callable[..., Result]
) -> None:
    import json

    write("prompt.json", json.dumps(IMAGE_PROMPT))
    write("provider.py", "def call_api(prompt, options, context):\n    return {'output': 'x'}\n")
    write(
        "suite.yaml",
        """
        prompts: [file://prompt.json]
        providers: [file://provider.py]
        tests:
          - vars: {subject: the cat, image: file://cat.png}
        """,
    )
    result = run_cli("eval", "suite.yaml")
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "error: prompt.json:1:1: provider 'file://provider.py' takes text only, and prompt "
        "'prompt.json' sends content parts (images, audio or files); run it on a provider that "
        "takes them (openai, azure, anthropic, google, vertex, bedrock)\n"
    )


def test_a_content_part_that_is_no_mapping_is_refused_where_it_is_written(
    write: Callable[[str, str], Path], run_cli: Callable[..., Result]
) -> None:
    # a mapping of another shape ({kind, value}) goes to the provider as written, as in
    # promptfoo (tests/test_promptfoo_features.py)
    write("prompt.yaml", "- role: user\n  content:\n    - just text\n")
    write("suite.yaml", "prompts: [file://prompt.yaml]\nproviders: [echo]\n")
    result = run_cli("eval", "suite.yaml")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: prompt.yaml:3:5: message 1 of prompt 'prompt.yaml' has a content part (1) "
        "that is not a mapping\n"
    )


BEDROCK_NATIVE = [
    {
        "role": "user",
        "content": [
            {"image": {"format": "jpg", "source": {"bytes": "{{image}}"}}},
            {"text": "What is this a picture of?"},
        ],
    }
]


def test_bedrock_native_blocks_take_a_media_var_as_bare_base64(
    server: ProtocolServer, media: Path
) -> None:
    seen = run("bedrock:amazon.nova-lite-v1:0", server, BEDROCK_NATIVE, image="file://cat.png")
    assert seen.json["messages"][0]["content"] == [
        {"image": {"format": "png", "source": {"bytes": PNG64}}},
        {"text": "What is this a picture of?"},
    ]


def test_another_apis_blocks_are_rewritten_in_openais_shape(
    server: ProtocolServer, media: Path
) -> None:
    seen = run("openai:chat:gpt-4o-mini", server, BEDROCK_NATIVE, image="file://cat.png")
    assert seen.json["messages"][0]["content"] == [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG64}"}},
        {"type": "text", "text": "What is this a picture of?"},
    ]


def test_anthropic_blocks_and_a_data_url_written_around_the_var(
    server: ProtocolServer, media: Path
) -> None:
    prompt = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look.", "cache_control": {"type": "ephemeral"}},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/jpeg", "data": "{{image}}"},
                },
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,{{image}}"}},
            ],
        }
    ]
    seen = run("anthropic:messages:claude-3-5-haiku-latest", server, prompt, image="file://cat.png")
    png = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG64}}
    assert seen.json["messages"][0]["content"] == [
        {"type": "text", "text": "Look.", "cache_control": {"type": "ephemeral"}},
        png,
        png,
    ]


def test_optimize_and_redteam_refuse_a_prompt_with_media_parts_in_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    write: Callable[[str, str], Path],
    run_cli: Callable[..., Result],
) -> None:
    """Both write into the text of a prompt's messages: an image part would be lost."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTEUR_DB", f"sqlite:///{tmp_path / 'store.db'}")
    write("prompt.json", json.dumps(IMAGE_PROMPT))
    cases = "".join(
        f"  - vars: {{subject: cat{i}, image: 'data:image/png;base64,{PNG64}'}}\n"
        "    assert: [{type: contains, value: cat}]\n"
        for i in range(12)
    )
    write("suite.yaml", "prompts: [file://prompt.json]\nproviders: [echo]\ntests:\n" + cases)
    assert run_cli("eval", "suite.yaml", "--no-progress").exit_code == 0  # echo takes parts
    for command in (
        ["optimize", "suite.yaml", "--prompt", "prompt.json", "--budget", "100"],
        ["redteam", "suite.yaml", "--prompt", "prompt.json", "-n", "1", "--no-progress"],
    ):
        result = run_cli(*command)
        assert result.exit_code == 2, (command, result.output)
        (line,) = result.stderr.strip().splitlines()
        assert "image, audio or file parts" in line
