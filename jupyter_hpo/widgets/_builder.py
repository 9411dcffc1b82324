"""SearchSpaceBuilder: build or edit a search space row by row, checked by the core as you type, then launch it.

Each row is turned into the core's parameter (``SearchSpace.from_dict({name: body})``), so the messages a
row shows are the core's :class:`SearchSpaceError` texts; the rows together make a :class:`SearchSpace`,
which reports duplicate names. Numbers and choices are typed as text and parsed here only as far as
needed to hand them to the core (``"3"`` is an int, ``"0.5"`` a float, anything else stays text for the
core to reject with its own message).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import ipywidgets as w

from jupyter_hpo import api
from jupyter_hpo.exceptions import HpoError, SearchSpaceError
from jupyter_hpo.space import SCALINGS, CategoricalParam, Param, SearchSpace, _check_name, _param_from_dict
from jupyter_hpo.widgets._dashboard import Dashboard
from jupyter_hpo.widgets._routing import route_to_sender

__all__ = ["ParamRow", "SearchSpaceBuilder", "format_choices", "format_when", "parse_choices", "parse_when",
           "python_code"]

KINDS = ("int", "float", "categorical")
_ERROR = {"text_color": "var(--jp-error-color1, #d32f2f)"}
_OK = {"text_color": "var(--jp-success-color1, #388e3c)"}
#: beside a disabled Launch button, when the builder has no objective
NO_OBJECTIVE = ("no objective to launch with: run `%hpo launch OBJECTIVE --space NAME`, or set `builder.objective` "
                "to a function or a script path")
_WIDE = {"description_width": "initial"}
_INT = re.compile(r"[-+]?\d+")
_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _number(text: str) -> Any:
    """``"3"`` -> 3, ``"0.5"`` or ``"1e-3"`` -> float; anything else stays text (the core rejects it)."""
    s = text.strip()
    if _INT.fullmatch(s):
        return int(s)
    return float(s) if _FLOAT.fullmatch(s) else s


def _scalar(s: str) -> Any:
    low = s.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("null", "none", "~"):
        return None
    return _number(s) if (_INT.fullmatch(s) or _FLOAT.fullmatch(s)) else s


def parse_choices(text: str) -> list[Any]:
    """Read comma-separated choices: ``3`` is an int, ``0.5`` a float, ``true``/``false`` a bool,
    ``null`` None, anything else a str. Quote (``"..."`` or ``'...'``, ``\\`` escapes) to keep a str as
    it is, e.g. ``"1"``, ``"a, b"`` or ``""``. Empty unquoted items are skipped.

    Raises:
        SearchSpaceError: a quote is not closed.
    """
    items: list[Any] = []
    buf: list[str] = []
    quote, quoted, escaped = "", False, False
    for ch in text + ",":
        if quote:
            if escaped:
                buf.append(ch)
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
            else:
                buf.append(ch)
        elif ch in "\"'" and not "".join(buf).strip():
            quote, quoted, buf = ch, True, []
        elif ch == ",":
            item = "".join(buf)
            if quoted:
                items.append(item)
            elif item.strip():
                items.append(_scalar(item.strip()))
            buf, quoted = [], False
        elif not (quoted and ch.isspace()):
            buf.append(ch)
    if quote:
        raise SearchSpaceError(f"a choice opens a {quote} quote that is not closed, in {text!r}.")
    return items


def _format_choice(c: Any) -> str:
    if isinstance(c, bool):
        return "true" if c else "false"
    if c is None:
        return "null"
    if not isinstance(c, str):
        return repr(c)
    if (c and c == c.strip() and "," not in c and ";" not in c and c[0] not in "\"'" and _scalar(c) == c
            and type(_scalar(c)) is str):  # `;` separates a condition's parents: such a choice is quoted
        return c
    return '"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_choices(choices: Iterable[Any]) -> str:
    """The text :func:`parse_choices` reads back as ``choices``."""
    return ", ".join(_format_choice(c) for c in choices)


def parse_when(text: str) -> dict[str, list[Any]] | None:
    """Read a condition ``booster: dart, gblinear; other: x`` (``;`` between parents, choices as in
    :func:`parse_choices`); None when empty. A clause without ``:`` is kept as text for the core to refuse."""
    out: dict[str, Any] = {}
    for clause in _clauses(text):
        if not clause.strip():
            continue
        parent, sep, values = clause.partition(":")
        if not sep:
            raise SearchSpaceError(f"a condition reads `parent: value, value; parent: value`, but got {clause.strip()!r}.")
        out[parent.strip()] = parse_choices(values)
    return out or None


def _clauses(text: str) -> list[str]:
    """``text`` split at each ``;`` outside quotes (a quoted choice may hold one: ``opt: "sgd;nesterov"``). As in
    :func:`parse_choices`, a quote opens a choice only at its start (``it's`` is no quote)."""
    parts: list[str] = []
    buf: list[str] = []
    quote, escaped, at_start = "", False, True
    for ch in text:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'" and at_start:
            quote = ch
        elif ch == ";":
            parts.append("".join(buf))
            buf, at_start = [], True
            continue
        if not quote:
            at_start = ch in ",:" or (at_start and ch.isspace())
        buf.append(ch)
    return [*parts, "".join(buf)]


def format_when(when: Any) -> str:
    """The text :func:`parse_when` reads back: ``booster: dart, gblinear``."""
    return "; ".join(f"{parent}: {format_choices(values)}" for parent, values in when or ())


def python_code(space: SearchSpace) -> str:
    """Python code that rebuilds ``space``: ``space = SearchSpace.from_dict({...})``, one parameter a line."""
    lines = "".join(f"    {name!r}: {body!r},\n" for name, body in space.to_dict().items())
    return f"from jupyter_hpo import SearchSpace\n\nspace = SearchSpace.from_dict({{\n{lines}}})\n"


def _fields(p: Param) -> dict[str, str]:
    """A row's texts for parameter ``p``."""
    if isinstance(p, CategoricalParam):
        return {"name": p.name, "kind": "categorical", "choices": format_choices(p.choices), "when": format_when(p.when)}
    step = "" if p.step is None or (p.kind == "int" and p.step == 1) else repr(p.step)
    return {"name": p.name, "kind": p.kind, "low": repr(p.low), "high": repr(p.high), "scaling": p.scaling,
            "step": step, "when": format_when(p.when)}


class ParamRow(w.VBox):
    """One parameter: name, kind, low/high/scaling/step or choices, an optional condition (``when``), and the
    core's verdict below them.

    Args:
        name, kind, low, high, scaling, step, choices, when: the initial texts of the controls.
    """

    def __init__(self, name: str = "", kind: str = "float", low: str = "0", high: str = "1",
                 scaling: str = "linear", step: str = "", choices: str = "", when: str = "") -> None:
        def text(value: str, label: str, tip: str, width: str, placeholder: str = "") -> w.Text:
            return w.Text(value=value, description=label, tooltip=tip, placeholder=placeholder, style=_WIDE,
                          layout=w.Layout(width=width))

        self.name_text = text(name, "name", "Parameter name: a letter or '_', then letters, digits, _ - .",
                              "190px", "e.g. max_depth")
        self.kind_dropdown = w.Dropdown(options=KINDS, value=kind, description="kind", style=_WIDE,
                                        tooltip="int, float or categorical", layout=w.Layout(width="170px"))
        self.low_text = text(low, "low", "Lowest value (included)", "130px")
        self.high_text = text(high, "high", "Highest value (included)", "130px")
        self.scaling_dropdown = w.Dropdown(options=SCALINGS, value=scaling, description="scaling", style=_WIDE,
                                           tooltip="linear, log (low > 0) or reverse_log (floats in [0, 1))",
                                           layout=w.Layout(width="190px"))
        self.step_text = text(step, "step", "Optional grid step; empty for none", "120px", "none")
        self.choices_text = text(choices, "choices", 'Comma-separated; quote to keep text as is: "1", "a, b"',
                                 "340px", "e.g. gbtree, dart")
        self.when_text = text(when, "when", "Sample only when a categorical parameter holds one of these values: "
                              "parent: value, value; other: value (all must hold); empty: always", "300px",
                              "e.g. booster: dart")
        self.remove_button = w.Button(description="Remove", icon="trash", tooltip="Remove this parameter",
                                      layout=w.Layout(width="auto"))
        self.message = w.Label(style=_ERROR)
        controls = w.HBox([self.name_text, self.kind_dropdown, self.low_text, self.high_text,
                           self.scaling_dropdown, self.step_text, self.choices_text, self.when_text,
                           self.remove_button],
                          layout=w.Layout(flex_flow="row wrap", align_items="center"))
        super().__init__([controls, self.message])
        route_to_sender(self)
        self.add_class("jp-hpo-param-row")
        self.kind_dropdown.observe(lambda _: self._show_fields(), "value")
        self._show_fields()

    @property
    def inputs(self) -> list[w.ValueWidget]:
        """The controls whose values make the parameter."""
        return [self.name_text, self.kind_dropdown, self.low_text, self.high_text, self.scaling_dropdown,
                self.step_text, self.choices_text, self.when_text]

    def _show_fields(self) -> None:
        categorical = self.kind_dropdown.value == "categorical"
        for ctl in (self.low_text, self.high_text, self.scaling_dropdown, self.step_text):
            ctl.layout.display = "none" if categorical else None
        self.choices_text.layout.display = None if categorical else "none"

    def body(self) -> dict[str, Any]:
        """The parameter in the search-space dict form, as typed (not yet validated)."""
        kind = self.kind_dropdown.value
        when = parse_when(self.when_text.value)
        if kind == "categorical":
            body: dict[str, Any] = {"type": "categorical", "choices": parse_choices(self.choices_text.value)}
        else:
            body = {"type": kind, "scaling": self.scaling_dropdown.value}
            for field, ctl in (("low", self.low_text), ("high", self.high_text), ("step", self.step_text)):
                if ctl.value.strip():
                    body[field] = _number(ctl.value)
        return {**body, "when": when} if when else body

    def param(self) -> Param:
        """The core's parameter for this row.

        Raises:
            SearchSpaceError: the row breaks a rule (the core's message).
        """
        name = self.name_text.value.strip()
        body = self.body()
        if "when" in body:  # its parents are other rows: the whole space checks them (SearchSpaceBuilder._build)
            return _param_from_dict(_check_name(name), body)
        return SearchSpace.from_dict({name: body})[name]

    def show(self, error: str = "") -> None:
        """Show the core's verdict: an error text, or nothing when the row is valid."""
        self.message.value = f"\u26a0 {error}" if error else ""

    def dispose(self) -> None:
        """Close the row and its controls."""
        for ctl in (*self.inputs, self.remove_button, self.message, *self.children):
            ctl.close()
        self.close()


class SearchSpaceBuilder(w.VBox):
    """Build or edit a search space in a form, see it as YAML and Python, and launch a job with it.

    Args:
        space: a space to edit (a :class:`SearchSpace` or its dict form); None starts with one row.
        objective: the objective for Launch (a function or a script path); can be set later
            (``builder.objective = fn``). Without one, Launch is disabled and says how to launch.
        **launch_options: options for :func:`jupyter_hpo.api.launch`, e.g. ``max_trials=20``.

    Raises:
        SearchSpaceError: ``space`` is a dict that is not a valid space.

    Example:
        >>> from jupyter_hpo.widgets import SearchSpaceBuilder
        >>> builder = SearchSpaceBuilder({"x": {"type": "float", "low": 0, "high": 1}}, objective=print)
        >>> builder.space["x"].high
        1.0
    """

    def __init__(self, space: SearchSpace | Mapping[str, Any] | None = None,
                 objective: Callable[..., Any] | str | None = None, **launch_options: Any) -> None:
        super().__init__()
        self._objective = objective
        self.launch_options = dict(launch_options)
        self.job: api.Job | None = None
        self.dashboard: Dashboard | None = None
        self.rows_box = w.VBox()
        self.add_button = w.Button(description="Add parameter", icon="plus", tooltip="Add a parameter row")
        self.message = w.Label()
        self.yaml_preview = w.HTML()
        self.python_preview = w.HTML()
        self.preview = w.Tab(children=[self.yaml_preview, self.python_preview], titles=("YAML", "Python"))
        self.launch_button = w.Button(description="Launch", icon="play", button_style="primary",
                                      tooltip="Launch a tuning job with this space")
        self.launch_message = w.Label(style=_ERROR)
        self.output = w.VBox()
        self.children = [self.rows_box, self.add_button, self.message, self.preview,
                         w.HBox([self.launch_button, self.launch_message]), self.output]
        route_to_sender(self)  # a row added later routes its own controls (ParamRow)
        self.add_class("jp-hpo-builder")
        self.add_button.on_click(lambda _: self.add_row())
        self.launch_button.on_click(lambda _: self.launch())
        self._error: SearchSpaceError | None = None
        self.space = space

    @property
    def objective(self) -> Callable[..., Any] | str | None:
        """What Launch runs for each trial; None: Launch is disabled, with a note saying how to launch."""
        return self._objective

    @objective.setter
    def objective(self, value: Callable[..., Any] | str | None) -> None:
        self._objective = value
        self._validate()

    # -- rows ----------------------------------------------------------------------------------
    @property
    def rows(self) -> list[ParamRow]:
        return list(self.rows_box.children)

    def add_row(self, **fields: str) -> ParamRow:
        """Add a row (default: a float in [0, 1] with a new name) and return it."""
        if "name" not in fields:
            taken = {r.name_text.value for r in self.rows}
            fields["name"] = next(f"param_{i}" for i in range(1, len(taken) + 2) if f"param_{i}" not in taken)
        row = ParamRow(**fields)
        for ctl in row.inputs:
            ctl.observe(lambda _: self._validate(), "value")
        row.remove_button.on_click(lambda _: self.remove_row(row))
        self.rows_box.children = (*self.rows_box.children, row)
        self._validate()
        return row

    def remove_row(self, row: ParamRow) -> None:
        """Remove ``row`` (and close its controls)."""
        self.rows_box.children = tuple(r for r in self.rows_box.children if r is not row)
        row.dispose()
        self._validate()

    # -- the space -----------------------------------------------------------------------------
    @property
    def space(self) -> SearchSpace:
        """The space the rows describe.

        Raises:
            SearchSpaceError: a row or the whole space breaks a rule (the core's message).
        """
        space = self._validate()
        if space is None:
            raise SearchSpaceError(str(self._error))
        return space

    @space.setter
    def space(self, space: SearchSpace | Mapping[str, Any] | None) -> None:
        params = list(SearchSpace.from_dict(space).values()) if space is not None else []
        for row in self.rows:
            row.dispose()
        self.rows_box.children = ()
        for p in params:
            self.add_row(**_fields(p))
        if not params:
            self.add_row()

    def _build(self) -> SearchSpace:
        params: dict[str, Param] = {}
        first: SearchSpaceError | None = None
        for row in self.rows:
            try:
                p = row.param()
                if p.name in params:
                    SearchSpace([params[p.name], p])  # the core's message for a repeated name
                row.show()
                params[p.name] = p
            except SearchSpaceError as e:
                row.show(str(e))
                first = first or e
        if first is not None:
            raise first
        try:
            return SearchSpace(params.values()) if params else SearchSpace.from_dict({})
        except SearchSpaceError as e:  # a condition: shown on the row of the parameter it names
            for row in self.rows:
                if str(e).startswith(f"`when` of {row.name_text.value.strip()!r} "):
                    row.show(str(e))
            raise

    def _validate(self) -> SearchSpace | None:
        """Check every row with the core; update the messages and previews. Returns the space or None."""
        try:
            space = self._build()
        except SearchSpaceError as e:
            self._error = e
            self.message.value, self.message.style.text_color = f"\u26a0 {e}", _ERROR["text_color"]
            note = html.escape("(the preview appears once the space is valid)")
            self.yaml_preview.value = self.python_preview.value = f"<pre>{note}</pre>"
            self.launch_button.disabled = True
            return None
        self._error = None
        n = len(space)
        self.message.value = f"\u2713 {n} parameter{'s' if n != 1 else ''}, valid"
        self.message.style.text_color = _OK["text_color"]
        self.yaml_preview.value = f"<pre>{html.escape(space.to_yaml())}</pre>"
        self.python_preview.value = f"<pre>{html.escape(python_code(space))}</pre>"
        # with no objective Launch could only fail ("`trial` is required"): it waits for one, and says so (a
        # model_trainer among the launch options gives the trial itself)
        missing = self._objective is None and "model_trainer" not in self.launch_options
        self.launch_button.disabled = missing
        if missing:
            self.launch_message.value = NO_OBJECTIVE
        elif self.launch_message.value == NO_OBJECTIVE:
            self.launch_message.value = ""
        return space

    @property
    def yaml_text(self) -> str:
        """The space as YAML (what the YAML preview shows). Raises SearchSpaceError if invalid."""
        return self.space.to_yaml()

    @property
    def python_text(self) -> str:
        """Python code that rebuilds the space (what the Python preview shows)."""
        return python_code(self.space)

    # -- launch --------------------------------------------------------------------------------
    def launch(self) -> api.Job | None:
        """Launch a job with ``objective``, the space and ``launch_options``; show its Dashboard below.

        Errors (the core's, e.g. a bad option) are shown next to the Launch button, and nothing is created.

        Returns:
            The job, or None when it could not be launched.
        """
        self.launch_message.value = ""
        try:
            job = api.launch(objective=self.objective, space=self.space, **self.launch_options)
        except HpoError as e:
            self.launch_message.value = f"\u26a0 {e}"
            return None
        self.job = job
        if self.dashboard is not None:
            self.dashboard.close()
        self.dashboard = Dashboard(job)
        self.output.children = (self.dashboard,)
        self.dashboard.start()
        return job
