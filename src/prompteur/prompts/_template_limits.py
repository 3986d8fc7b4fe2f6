"""Limits on what a template may compute: Jinja2's sandbox keeps a template from reaching
out, not from computing for ever or filling the memory. Single operations that would make
a huge value in one step (``'A' * 10**10``, ``10**10**9``, ``lipsum(n=10**6)``) are refused
before they run; loops are ended by a time limit; the text a template writes is capped."""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum

from ..core._time_limit import TimeLimitExceeded, call_with_time_limit

__all__ = [
    "MAX_TEMPLATE_CHARS",
    "TEMPLATE_SECONDS",
    "BoundedEnvironment",
    "render_bounded",
]

#: The most characters one template may write (prompts, assertion values): ten million,
#: beyond any model's context window.
MAX_TEMPLATE_CHARS = 10_000_000
#: Seconds one rendering may take.
TEMPLATE_SECONDS = 10.0
#: The largest integer (in bits) an operation of a template may make.
_MAX_INT_BITS = 100_000
#: The most paragraphs ``lipsum`` writes, and words in one.
_MAX_LIPSUM = (100, 1_000)

# a width or precision of 7 digits or more in printf-style formatting: a huge string
_HUGE_FORMAT = re.compile(r"%[-+ #0]*(?:\d{7,}|\d*\.\d{7,})")


def _too_large(what: str) -> SecurityError:
    return SecurityError(f"{what} is too large for a template (at most {MAX_TEMPLATE_CHARS:,})")


def _check_size(left: Any, right: Any) -> None:
    """Refuse ``left * right`` when it would repeat a sequence past the limit."""
    for sequence, count in ((left, right), (right, left)):
        sized = isinstance(sequence, str | list | tuple | bytes) and isinstance(count, int)
        if sized and len(sequence) * count > MAX_TEMPLATE_CHARS:
            raise _too_large(f"a repetition of {len(sequence) * count:,} items")


def _check_power(left: Any, right: Any) -> None:
    integers = isinstance(left, int) and isinstance(right, int) and right > 0
    if integers and abs(left).bit_length() * right > _MAX_INT_BITS:
        raise SecurityError(f"{left} ** {right} is too large a number for a template")


def _check_int_arguments(args: Iterable[Any]) -> None:
    for value in args:
        if isinstance(value, int) and abs(value) > MAX_TEMPLATE_CHARS:
            raise _too_large(f"the argument {value:,}")


#: methods whose integer arguments are the size of what they make
_SIZED_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
_HUGE_WIDTH = re.compile(r"\d{7,}")


def _format_argument(field: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Iterable[Any]:
    """The values a nested format field (``{w}``, ``{0}``, ``{}``) may stand for."""
    if field.isdigit():
        return args[int(field) : int(field) + 1]
    if field:
        head = re.split(r"[.\[]", field, maxsplit=1)[0]
        mapping = args[0] if args and isinstance(args[0], Mapping) else kwargs
        return [mapping[head]] if head in mapping else []
    return args  # numbered automatically: any of them


def _check_call(obj: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Refuse a call that would make a huge value at once: a width given to a padding
    method, or a huge width in a ``str.format`` string; other numbers are anyone's."""
    obj = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    if name in ("range", "safe_range") and not kwargs:
        try:
            count = len(range(*args))
        except (TypeError, ValueError, OverflowError):
            return  # range itself says what is wrong
        if count > MAX_TEMPLATE_CHARS:
            raise _too_large(f"a range of {count:,} numbers")
    elif isinstance(owner, str | bytes) and name in _SIZED_METHODS:
        _check_int_arguments(args)
        _check_int_arguments(kwargs.values())
    elif isinstance(owner, str) and name in ("format", "format_map"):
        try:
            fields = list(string.Formatter().parse(owner))
        except ValueError:
            return  # str.format itself says what is wrong
        for _, _, spec, _ in fields:
            if not spec:
                continue
            if _HUGE_WIDTH.search(spec):
                raise _too_large("a formatting width")
            for field in re.findall(r"\{([^{}]*)\}", spec):  # a width as an argument: {:{w}}
                _check_int_arguments(_format_argument(field, args, kwargs))


def _bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if n > _MAX_LIPSUM[0] or max > _MAX_LIPSUM[1] or min > max:
        raise SecurityError(
            f"lipsum writes at most {_MAX_LIPSUM[0]} paragraphs of {_MAX_LIPSUM[1]} words"
        )
    return str(generate_lorem_ipsum(n, html, min, max))


def _bounded_filter(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A filter whose numeric arguments (widths) are bounded (it keeps what Jinja2 marks on
    it: whether it takes the environment first)."""

    @functools.wraps(fn)
    def filter_(value: Any, *args: Any, **kwargs: Any) -> Any:
        _check_int_arguments(args)
        _check_int_arguments(kwargs.values())
        return fn(value, *args, **kwargs)

    return filter_


def _bounded_format(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The ``format`` filter, refusing printf widths that would make a huge string (its
    arguments are values, which may well be large numbers)."""

    @functools.wraps(fn)
    def format_(value: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) and _HUGE_FORMAT.search(value):
            raise _too_large("a formatting width")
        return fn(value, *args, **kwargs)

    return format_


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, refusing operations that would make huge values in one step."""

    # intercepted operators are also never folded at compile time
    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["lipsum"] = _bounded_lipsum
        for name in ("center", "indent", "wordwrap", "truncate"):
            self.filters[name] = _bounded_filter(self.filters[name])
        self.filters["format"] = _bounded_format(self.filters["format"])

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        if operator == "*":
            _check_size(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif isinstance(left, str) and _HUGE_FORMAT.search(left):
            raise _too_large("a formatting width")
        elif isinstance(left, str) and "*" in left:  # '%*d' % (width, value)
            _check_int_arguments(right if isinstance(right, tuple) else (right,))
        return super().call_binop(context, operator, left, right)

    def call(
        __self,  # as Jinja2 names it, so that no keyword argument clashes
        __context: jinja2.runtime.Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        # str.center(10**10), 'x'.zfill(...), '{:>999999999}'.format(1)
        _check_call(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)


def _render_capped(template: jinja2.Template, scope: Mapping[str, Any]) -> str:
    pieces = []
    size = 0
    for piece in template.root_render_func(template.new_context(dict(scope))):
        size += len(piece)
        if size > MAX_TEMPLATE_CHARS:
            raise _too_large(f"the text written ({size:,} characters so far)")
        pieces.append(piece)
    return "".join(pieces)


def render_bounded(template: jinja2.Template, scope: Mapping[str, Any]) -> str:
    """Render within the limits. Whatever the template's code raises (a division by zero,
    a macro calling itself for ever, a limit reached) is a jinja2.TemplateError."""
    try:
        return call_with_time_limit(TEMPLATE_SECONDS, "template", _render_capped, template, scope)
    except jinja2.TemplateError:
        raise
    except TimeLimitExceeded as exc:
        raise SecurityError(str(exc)) from None
    except RecursionError:
        raise jinja2.TemplateRuntimeError(
            "recursion too deep (a macro that calls itself without end?)"
        ) from None
    except Exception as exc:
        raise jinja2.TemplateRuntimeError(f"{type(exc).__name__}: {exc}") from None
