"""Macro templates: Jinja2 in a sandbox, over plain text only, within limits of size and time.

The template language is a small, safe part of Jinja2: `{{ placeholders }}`, `{% if %}`, `{% for %}`,
`{% set %}`, the operators, `range()` and a few text filters. A template is checked before it is
compiled: calls (other than `range`), macros, includes, blocks, names and attributes starting with an
underscore, and every filter not listed below are refused. It renders over a dict of dicts of strings
built for the purpose (see `PLACEHOLDERS`), never over ORM objects, and attribute access reaches only
the keys of those dicts: no method of any Python object can be reached.

An unknown placeholder (`{{ ticket.numbr }}`) is an error naming `body`, not an empty gap in a reply
to a customer: every documented placeholder is always present (an empty string when unknown), so
`{{ requester.name or "anh/chị" }}` is how a template falls back.

Every value a template makes is bounded, so that no expression can exhaust memory: a string or the
output at most `MAX_OUTPUT_CHARS`, a list at most `MAX_ITEMS` items, an integer at most
`MAX_INTEGER`; `range()` gives at most `MAX_ITEMS` numbers. Every loop iteration and every piece of
output checks the clock, so rendering stops after `MAX_RENDER_SECONDS`.
"""

import contextvars
import functools
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import wraps
from typing import Any

from jinja2 import (
    StrictUndefined,
    Template,
    TemplateError,
    TemplateSyntaxError,
    Undefined,
    nodes,
    pass_context,
)
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from app.errors import Unprocessable

MAX_TEMPLATE_CHARS = 20_000
# A comment body is at most this long.
MAX_OUTPUT_CHARS = 65_536
MAX_RENDER_SECONDS = 0.5
MAX_ITEMS = 1_000
MAX_INTEGER = 10**15

# What a template can read: section → the keys of that section, every value a string.
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "ticket": (
        "id",
        "number",
        "subject",
        "status",
        "status_kind",
        "priority",
        "type",
        "channel",
        "customer_url",
    ),
    "requester": ("name", "email", "phone"),
    "agent": ("name", "email"),
    "workspace": ("name",),
}
Placeholders = dict[str, dict[str, str]]

LOOP_ATTRIBUTES = frozenset(
    {"index", "index0", "revindex", "revindex0", "first", "last", "length", "previtem", "nextitem"}
)
ALLOWED_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Const, nodes.Name, nodes.Getattr,
    nodes.Getitem, nodes.Slice, nodes.Filter, nodes.Test, nodes.If, nodes.For, nodes.Assign,
    nodes.CondExpr, nodes.Compare, nodes.Operand, nodes.And, nodes.Or, nodes.Not, nodes.Neg, nodes.Pos,
    nodes.Add, nodes.Sub, nodes.Mul, nodes.Div, nodes.FloorDiv, nodes.Mod, nodes.Pow, nodes.Concat,
    nodes.List, nodes.Tuple, nodes.Call, nodes.Keyword,
)  # fmt: skip
REFUSED_NODE_NAMES: dict[type[nodes.Node], str] = {
    nodes.Macro: "{% macro %}", nodes.CallBlock: "{% call %}", nodes.Include: "{% include %}",
    nodes.Import: "{% import %}", nodes.FromImport: "{% from … import %}", nodes.Extends: "{% extends %}",
    nodes.Block: "{% block %}", nodes.FilterBlock: "{% filter %}", nodes.With: "{% with %}",
    nodes.AssignBlock: "{% set %}…{% endset %}", nodes.Dict: "a dict literal",
}  # fmt: skip
ALLOWED_TESTS = frozenset(
    {
        "defined", "undefined", "none", "number", "string", "even", "odd", "divisibleby", "eq", "ne",
        "lt", "le", "gt", "ge", "in", "true", "false", "lower", "upper",
    }
)  # fmt: skip
# Filters that turn their input into text: fed anything but text or a number, they would print a repr.
TEXT_FILTERS = frozenset({"upper", "lower", "title", "capitalize", "trim", "truncate", "wordcount"})
OTHER_FILTERS = frozenset({"default", "d", "length", "count", "first", "last", "int"})
# Filters the checker adds; the names cannot be written in a template, which refuses leading underscores.
METERED_FILTER = "_metered"
JOINED_FILTER = "_joined"

_deadline: contextvars.ContextVar[float] = contextvars.ContextVar("macro_render_deadline")


def placeholders(**sections: Mapping[str, Any]) -> Placeholders:
    """The render context: every documented placeholder, as text ('' when unknown)."""
    return {
        section: {key: _as_text(sections.get(section, {}).get(key)) for key in keys}
        for section, keys in PLACEHOLDERS.items()
    }


def _as_text(value: Any) -> str:
    return "" if value is None else str(value)


# What templates are tried against when saved, so that an unknown placeholder is refused at once.
SAMPLE_PLACEHOLDERS = placeholders(
    ticket={
        "id": "00000000-0000-7000-8000-000000000000",
        "number": 1,
        "subject": "Giao hàng chậm",
        "status": "Open",
        "status_kind": "open",
        "priority": "normal",
        "type": "question",
        "channel": "email",
        "customer_url": "https://support.example.vn/t/AZsE4Xn6cKqGCsWbhUAXWT4Bqz3ooPo4Rr1cRxUAhuRb4SlG2FeZiQ2yPbqgnfno",
    },
    requester={"name": "Nguyễn Thị Hoa", "email": "hoa@example.vn", "phone": "+84901234567"},
    agent={"name": "Trần Văn An", "email": "an@example.vn"},
    workspace={"name": "Công ty TNHH Ánh Dương"},
)


Substitution = tuple[str | tuple[str, str], ...]


@functools.lru_cache(maxsize=1024)
def substitution(source: str) -> Substitution | None:
    """A template that only puts placeholders (`{{ requester.name }}`) into its text, as its pieces:
    text, and (section, key) of each placeholder; None for any other template.

    Such a template renders in time and size linear in its own, with nothing to check while it
    runs: the service fills it in itself rather than in a render process.
    """
    if len(source) > MAX_TEMPLATE_CHARS:
        return None
    try:
        tree = _ENVIRONMENT.parse(source)
    except TemplateError:
        return None
    pieces: list[str | tuple[str, str]] = []
    for node in tree.body:
        if not isinstance(node, nodes.Output):
            return None
        for child in node.nodes:
            placeholder = _placeholder(child)
            if isinstance(child, nodes.TemplateData):
                pieces.append(child.data)
            elif placeholder is not None:
                pieces.append(placeholder)
            else:
                return None
    return tuple(pieces)


def substitute(pieces: Substitution, context: Placeholders) -> str:
    """A template from `substitution` filled in, as `render` would have."""
    text = "".join(piece if isinstance(piece, str) else context[piece[0]][piece[1]] for piece in pieces)
    if len(text) > MAX_OUTPUT_CHARS:
        raise _refused(f"the text is longer than {MAX_OUTPUT_CHARS} characters", "template_limit")
    return text


def _placeholder(node: nodes.Node) -> tuple[str, str] | None:
    """(section, key) of a `{{ section.key }}` naming a documented placeholder; None for anything else."""
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name) and node.node.ctx == "load":
        section, key = node.node.name, node.attr
        if key in PLACEHOLDERS.get(section, ()):
            return section, key
    return None


def compile_template(source: str) -> Template:
    """The template, checked and compiled; a 422 naming `body` if it is invalid or not allowed."""
    if len(source) > MAX_TEMPLATE_CHARS:
        raise _refused(f"the template is longer than {MAX_TEMPLATE_CHARS} characters", "template_too_long")
    try:
        tree = _ENVIRONMENT.parse(source)
        _check(tree)
        tree = _Metering().visit(tree)
        tree.set_environment(_ENVIRONMENT)
        return _ENVIRONMENT.from_string(tree)
    except TemplateSyntaxError as exc:
        raise _refused(f"line {exc.lineno}: {exc.message}", "template_syntax") from exc
    except SecurityError as exc:
        raise _refused(str(exc), "template_forbidden") from exc
    except (RecursionError, SyntaxError, MemoryError) as exc:
        # Python's own parser and compiler give up on expressions nested too deeply.
        raise _refused("the template is nested too deeply", "template_too_complex") from exc
    except (TemplateError, ValueError, TypeError, ArithmeticError) as exc:
        raise _refused(str(exc), "template_syntax") from exc


def render(source: str, context: Placeholders) -> str:
    """The text of the template for this context; a 422 naming `body` if it cannot be rendered.

    CPU-bound for up to `MAX_RENDER_SECONDS`: async callers run it in a worker thread.
    """
    plain = _plain(context)
    token = _deadline.set(time.monotonic() + MAX_RENDER_SECONDS)
    try:
        template = compile_template(source)
        pieces: list[str] = []
        size = 0
        for piece in template.generate(plain):
            size += len(piece)
            if size > MAX_OUTPUT_CHARS:
                raise _refused(f"the text is longer than {MAX_OUTPUT_CHARS} characters", "template_limit")
            _check_clock()
            pieces.append(piece)
        return "".join(pieces)
    except _OutOfTime as exc:
        raise _refused(f"rendering took longer than {MAX_RENDER_SECONDS} s", "template_limit") from exc
    except SecurityError as exc:
        raise _refused(str(exc), "template_forbidden") from exc
    except TemplateError as exc:
        raise _refused(str(exc), "template_error") from exc
    except RecursionError as exc:
        raise _refused("the template is nested too deeply", "template_too_complex") from exc
    except (ArithmeticError, ValueError, TypeError, LookupError) as exc:
        # The template's own mistakes: 1 / 0, "a" + 1, int("x") and the like.
        raise _refused(f"{type(exc).__name__}: {exc}", "template_error") from exc
    finally:
        _deadline.reset(token)


def check_template(source: str) -> None:
    """Compile the template and try it on sample data: what an admin saves must render."""
    render(source, SAMPLE_PLACEHOLDERS)


def _refused(reason: str, code: str) -> Unprocessable:
    return Unprocessable(f"body: {reason}", field="body", code=code)


def _plain(context: Placeholders) -> Placeholders:
    """A copy that is provably plain: dicts of strings and nothing else reach the template."""
    plain: Placeholders = {}
    for section, values in context.items():
        if not all(type(value) is str for value in values.values()):
            raise TypeError(f"the placeholders of {section!r} must be strings")
        plain[section] = dict(values)
    return plain


class _OutOfTime(Exception):
    pass


def _check_clock() -> None:
    if time.monotonic() > _deadline.get():
        raise _OutOfTime()


def _check(tree: nodes.Template) -> None:
    """Refuse what the template language does not offer, before anything is compiled."""
    # Names allowed only where the parent put them: `loop` under an attribute, `range` as a callee.
    placed: set[int] = set()
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, ALLOWED_NODES):
            raise SecurityError(f"{_describe(node)} is not allowed in a macro")
        if isinstance(node, nodes.Getattr):
            _check_name(node.attr)
            if _is_name(node.node, "loop") and node.attr in LOOP_ATTRIBUTES:
                placed.add(id(node.node))
        elif isinstance(node, nodes.Getitem):
            if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                _check_name(node.arg.value)
        elif isinstance(node, nodes.Call):
            if not _is_name(node.node, "range"):
                raise SecurityError("only range() can be called in a macro")
            if node.kwargs or node.dyn_args or node.dyn_kwargs:
                raise SecurityError("range() takes plain numbers only")
            placed.add(id(node.node))
        elif isinstance(node, nodes.Filter):
            if node.name not in TEXT_FILTERS | OTHER_FILTERS:
                raise SecurityError(f"the filter {node.name!r} is not allowed in a macro")
        elif isinstance(node, nodes.Test):
            if node.name not in ALLOWED_TESTS:
                raise SecurityError(f"the test {node.name!r} is not allowed in a macro")
        elif isinstance(node, nodes.For) and node.recursive:
            raise SecurityError("recursive loops are not allowed in a macro")
        elif isinstance(node, nodes.Name):
            _check_name(node.name)
            if node.name == "self" or (node.name in ("loop", "range") and id(node) not in placed):
                raise SecurityError(f"{node.name!r} cannot be used this way in a macro")


def _is_name(node: nodes.Node, name: str) -> bool:
    return isinstance(node, nodes.Name) and node.name == name


def _check_name(name: str) -> None:
    if name.startswith("_"):
        raise SecurityError(f"{name!r}: names starting with an underscore are not allowed in a macro")


def _describe(node: nodes.Node) -> str:
    return REFUSED_NODE_NAMES.get(type(node), type(node).__name__)


class _Metering(NodeTransformer):
    """Routes every loop and every `~` through filters that check the clock and the sizes."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, METERED_FILTER, [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        parts = nodes.List(node.nodes, lineno=node.lineno)
        return nodes.Filter(parts, JOINED_FILTER, [], [], None, None, lineno=node.lineno)


# Taking the context keeps Jinja from running the filter while compiling, before the clock is set.
@pass_context
def _metered(_: Context, iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        _check_clock()
        yield item


def _joined(parts: list[Any]) -> str:
    texts = [_text_of(part) for part in parts]
    if sum(len(text) for text in texts) > MAX_OUTPUT_CHARS:
        raise SecurityError(f"a text longer than {MAX_OUTPUT_CHARS} characters")
    return "".join(texts)


def _text_of(value: Any) -> str:
    """Text or a number as text; a list or a dict would print its repr, which a reply has no use for."""
    if isinstance(value, Undefined):
        return str(value)  # StrictUndefined: raises, naming the placeholder
    if value is None or isinstance(value, str | int | float):
        return str(value)
    raise SecurityError(f"only text and numbers can be printed, not a {type(value).__name__}")


def _printable(value: Any) -> Any:
    _text_of(value)
    return value


def _bounded(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_OUTPUT_CHARS:
        raise SecurityError(f"a text longer than {MAX_OUTPUT_CHARS} characters")
    if isinstance(value, list | tuple) and len(value) > MAX_ITEMS:
        raise SecurityError(f"a list longer than {MAX_ITEMS} items")
    if isinstance(value, int) and abs(value) > MAX_INTEGER:
        raise SecurityError(f"a number larger than {MAX_INTEGER}")
    return value


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_ITEMS:
        raise SecurityError(f"range() gives at most {MAX_ITEMS} numbers")
    return numbers


def _checked_filter(function: Callable[..., Any], *, text: bool) -> Callable[..., Any]:
    """The filter with its result bounded; a text filter also refuses input other than text or a number."""
    # Filters marked to take the environment first keep the mark through `wraps`.
    value_position = 1 if getattr(function, "jinja_pass_arg", None) else 0

    @wraps(function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if text:
            _text_of(args[value_position])
        return _bounded(function(*args, **kwargs))

    return checked


class _MacroEnvironment(ImmutableSandboxedEnvironment):
    # Every operator that can make a big value is checked before it makes it.
    intercepted_binops = frozenset({"+", "*", "**", "%", "-", "//", "/"})

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        # Placeholders are dict keys (found without attributes); the loop's counters are the only
        # attributes of any object a template may read.
        return isinstance(obj, LoopContext) and attr in LOOP_ATTRIBUTES

    def wrap_str_format(self, value: Any) -> None:
        # `str.format` is not reachable: no attribute of a string is.
        return None

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _check_repetition(left, right)
        elif operator == "**" and (abs(right) > 64 or abs(left) > MAX_INTEGER):
            raise SecurityError("a number too large")
        elif operator == "%" and isinstance(left, str):
            raise SecurityError("text formatting with % is not allowed in a macro")
        return _bounded(super().call_binop(context, operator, left, right))


def _check_repetition(left: Any, right: Any) -> None:
    """`'x' * 100000000` is refused before Python makes it."""
    for sequence, count in ((left, right), (right, left)):
        repeated = isinstance(sequence, str | list | tuple) and isinstance(count, int)
        if repeated and len(sequence) * count > MAX_OUTPUT_CHARS:
            raise SecurityError(f"a value larger than {MAX_OUTPUT_CHARS} characters or items")


def _environment() -> _MacroEnvironment:
    environment = _MacroEnvironment(autoescape=False, undefined=StrictUndefined, finalize=_printable)
    environment.globals = {"range": _bounded_range}
    builtin = environment.filters
    environment.filters = {name: _checked_filter(builtin[name], text=True) for name in TEXT_FILTERS}
    environment.filters.update({name: _checked_filter(builtin[name], text=False) for name in OTHER_FILTERS})
    environment.filters.update({METERED_FILTER: _metered, JOINED_FILTER: _joined})
    environment.tests = {name: environment.tests[name] for name in ALLOWED_TESTS}
    return environment


_ENVIRONMENT = _environment()
