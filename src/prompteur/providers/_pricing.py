"""Known prices of hosted models, to record a cost with each completion.

Prices are USD per million tokens (input, output) as the vendors publish them; a model is
matched by the longest known prefix of its name, so dated snapshots share their family's
price. A provider's ``config.cost`` (per token, both directions) or ``inputCost`` and
``outputCost`` (per token) override the table, as in promptfoo.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Price", "completion_cost", "known_price"]

_PER_MILLION: dict[str, tuple[float, float]] = {
    # OpenAI
    "gpt-5-nano": (0.05, 0.40),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5": (1.25, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o4-mini": (1.10, 4.40),
    "o3-mini": (1.10, 4.40),
    "o3": (2.00, 8.00),
    "o1-mini": (1.10, 4.40),
    "o1": (15.00, 60.00),
    # Anthropic
    "claude-3-haiku": (0.25, 1.25),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-haiku-4-5": (1.00, 5.00),
    "claude-3-5-sonnet": (3.00, 15.00),
    "claude-3-7-sonnet": (3.00, 15.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-3-opus": (15.00, 75.00),
    "claude-opus-4": (15.00, 75.00),
    # Google
    "gemini-2.5-pro": (1.25, 10.00),
    "gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.5-flash-lite": (0.10, 0.40),
    "gemini-2.0-flash": (0.10, 0.40),
    "gemini-2.0-flash-lite": (0.075, 0.30),
    "gemini-1.5-pro": (1.25, 5.00),
    "gemini-1.5-flash": (0.075, 0.30),
    # Amazon (Bedrock)
    "nova-micro": (0.035, 0.14),
    "nova-lite": (0.06, 0.24),
    "nova-pro": (0.80, 3.20),
}


@dataclass(frozen=True, slots=True)
class Price:
    """Cost per token, input and output."""

    input: float
    output: float


def known_price(model: str) -> Price | None:
    """The table's price for ``model`` (longest matching prefix), or None."""
    name = model.lower().split("/")[-1]
    best = max((p for p in _PER_MILLION if name.startswith(p)), key=len, default=None)
    if best is None:
        return None
    per_input, per_output = _PER_MILLION[best]
    return Price(per_input / 1e6, per_output / 1e6)


def configured_price(
    cost: float | None, input_cost: float | None, output_cost: float | None, model: str
) -> Price | None:
    """The price to use: explicit configuration first, then the table."""
    if input_cost is not None or output_cost is not None:
        return Price(input_cost or 0.0, output_cost or 0.0)
    if cost is not None:
        return Price(cost, cost)
    return known_price(model)


def completion_cost(
    price: Price | None, prompt_tokens: int | None, completion_tokens: int | None
) -> float | None:
    if price is None or (prompt_tokens is None and completion_tokens is None):
        return None
    return (prompt_tokens or 0) * price.input + (completion_tokens or 0) * price.output
