"""The HTTP API's surface: its request bodies, generated from the one option schema (the fields of
`PlanOptions`, `RenderRequest` and `VaryOptions`, their types and help), and its operations, which
the routes, OpenAPI and the function-calling tool definitions (`audiogen tools`) all read.

The bodies describe values but do not check them: the schema's own ``create`` does, so a bad
value gets the one-line message the CLI prints, not pydantic's.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, WithJsonSchema, create_model

from audiogen.errors import RequestError
from audiogen.explain.run import ExplainOptions
from audiogen.request import PROMPT_HELP, PlanOptions, RenderRequest, VaryOptions

WAIT_HELP = "seconds to wait for the beat to be finished before answering (default: 0, at once)"
ID_HELP = "the beat's id, as generate_beat or vary_beat answered it"
_TEXT = {"type": "string"}
_OBJECT = {"type": "object"}
SCORE_HELP = (
    'the drum score, as get_beat_score answers it: {"bpm": 120, "meter": "4/4", "bars": 1, '
    '"hits": [[tick, instrument, velocity 1-127, offset_ms], ...]}, ticks counted 24 per '
    "quarter note from the start, instruments as get_beat_score lists them"
)


def _field(default: Any, help: str) -> Any:
    """A body field: any JSON value at run time (the schema's ``create`` checks it), described
    with ``help`` and the default it takes when left out (None: unset, decided by the schema)."""

    def document(schema: dict[str, Any]) -> None:
        schema.pop("default", None)
        if default is not None:
            schema["default"] = list(default) if isinstance(default, tuple) else default

    return Field(None, description=help, json_schema_extra=document)


def _options(
    classes: tuple[type, ...], skip: tuple[str, ...] = (), hide_defaults: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The fields of the schema's dataclasses as pydantic field definitions."""
    fields: dict[str, Any] = {}
    for cls in classes:
        types = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.name in skip:
                continue
            json_type = TypeAdapter(types[f.name]).json_schema()
            default = None if f.name in hide_defaults else f.default
            annotation = Annotated[Any, WithJsonSchema(json_type)]
            fields[f.name] = (annotation, _field(default, f.metadata["help"]))
    return fields


def _body(name: str, doc: str, fields: dict[str, Any]) -> type[BaseModel]:
    # Unknown names pass through to the schema, which refuses them in the CLI's words; the JSON
    # Schema still says there are none, so a chat model does not invent any.
    config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": False})
    return create_model(name, __config__=config, __doc__=doc, **fields)


if TYPE_CHECKING:  # made at run time from the schema; to a type checker, models like any other
    BeatRequest = BaseModel
    VaryRequest = BaseModel
    RenderOptions = BaseModel
    ScoreRenderRequest = BaseModel
    ExplainRequest = BaseModel
else:
    BeatRequest = _body(
        "BeatRequest",
        "A new beat: a sentence and/or any option; unset options take the genre's defaults.",
        {
            "prompt": (Annotated[Any, WithJsonSchema(_TEXT)], _field(None, PROMPT_HELP)),
            # as `audiogen generate`: no MIDI is read; the kit and mix default to the genre's
            **_options(
                (PlanOptions, RenderRequest), skip=("note_map",), hide_defaults=("kit", "mix")
            ),
        },
    )
    VaryRequest = _body(
        "VaryRequest",
        "Section variations of a finished beat, and the song built from them.",
        _options((VaryOptions, RenderRequest)),
    )
    RenderOptions = _body(
        "RenderOptions", "How an uploaded drum MIDI file is rendered.", _options((RenderRequest,))
    )
    ScoreRenderRequest = _body(
        "ScoreRenderRequest",
        "A drum score given as JSON, and how to render it.",
        {
            "score": (Annotated[Any, WithJsonSchema(_OBJECT)], _field(None, SCORE_HELP)),
            **_options((RenderRequest,), skip=("note_map",)),
        },
    )
    ExplainRequest = _body(
        "ExplainRequest", "A rhythm lesson on one concept.", _options((ExplainOptions,))
    )


class Error(BaseModel):
    """A refusal: 404 unknown beat or file, 409 not finished, 413 too large an upload, 422 a bad
    value, 429 busy (with Retry-After)."""

    error: str = Field(description="what is wrong, in one line: the message the CLI prints")


def body_options(body: BaseModel) -> dict[str, Any]:
    """The options a body sets, unknown names included (the schema refuses those)."""
    return body.model_dump(exclude_unset=True)


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """A body's fields as OpenAPI query parameters (for a route whose body is a file)."""
    properties = model.model_json_schema()["properties"]
    return [
        {"name": name, "in": "query", "required": False, "description": p.pop("description"),
         "schema": p}
        for name, p in properties.items()
    ]  # fmt: skip


@dataclass(frozen=True)
class Operation:
    """One thing the API does: its route, what it says about itself, and what it takes."""

    name: str  # operation id, and tool name
    method: str
    path: str
    description: str
    body: type[BaseModel] | None = None
    waits: bool = False  # takes ?wait=S
    tool: bool = True  # offered as a tool (an upload is not)

    @property
    def path_parameters(self) -> list[str]:
        return [part[1:-1].split(":")[0] for part in self.path.split("/") if part.startswith("{")]


OPERATIONS = (
    Operation(
        "generate_beat", "POST", "/v1/beats",
        "Write a new drum beat with the planner and render it into a mix, stems, MIDI and a "
        "manifest. Answers the job: its id, status, progress and, once done, file URLs.",
        BeatRequest, waits=True,
    ),
    Operation(
        "get_beat", "GET", "/v1/beats/{id}",
        "A beat's status (queued, running, done, failed), progress from 0 to 1, resolved "
        "request, and the URLs of its files once done.",
    ),
    Operation(
        "vary_beat", "POST", "/v1/beats/{id}/vary",
        "Keep a finished beat's identity (its kick, and as much more as amount says) and write "
        "section variations of it, and the song built from them, as a new beat.",
        VaryRequest, waits=True,
    ),
    Operation(
        "get_beat_file", "GET", "/v1/beats/{id}/files/{name:path}",
        "One of a finished beat's files, by the name get_beat lists: mix.wav, stems/<group>.wav, "
        "stems.zip, beat.mid, grid.png, manifest.json...", tool=False,
    ),
    Operation(
        "get_beat_score", "GET", "/v1/beats/{id}/score",
        "A finished beat's drum score as JSON, as its beat.mid holds it: tempo, meter, bars, "
        "sections and hits [tick, instrument, velocity, offset_ms] on a grid of 24 ticks per "
        "quarter note, with the instruments a score may use. Edit it and send it to "
        "render_score.",
    ),
    Operation(
        "render_score", "POST", "/v1/render/score",
        "Render a drum score given as JSON (get_beat_score's, edited, or one written anew) into "
        "a mix, stems, MIDI and a manifest, as render_midi does with a MIDI file.",
        ScoreRenderRequest, waits=True,
    ),
    Operation("delete_beat", "DELETE", "/v1/beats/{id}", "Delete a beat and its files."),
    Operation("list_genres", "GET", "/v1/genres", "The genres the planner knows, with their "
              "defaults (tempo range, feel, meter, kit)."),
    Operation("list_kits", "GET", "/v1/kits", "The drum kits that ship with audiogen."),
    Operation("list_topics", "GET", "/v1/explain", "The rhythm lessons explain_topic gives "
              "(backbeat, swing, syncopation, polyrhythm, clave...) and the words they answer to."),
    Operation(
        "explain_topic", "POST", "/v1/explain",
        "A rhythm lesson: the concept in words (what it is, where it is heard, how to count "
        "it) and 2-4 planner beats that differ only in it, each with what it measured and the "
        "generate_beat body that writes it (humanize and seed included) to hear it.",
        ExplainRequest,
    ),
    Operation(
        "explain_midi", "POST", "/v1/explain/beat",
        "Describe an uploaded drum MIDI file (the request body) in words and numbers: tempo, "
        "meter, feel and swing ratio, syncopation, density, kick and snare figures in counts, "
        "ghost notes, accents, fills, cross-rhythms, nearest genres.", tool=False,
    ),
    Operation(
        "render_midi", "POST", "/v1/render",
        "Render an uploaded drum MIDI file (the request body; General MIDI channel 10 or Roland "
        "TD-11) into a mix, stems, MIDI and a manifest, with the options as query parameters.",
        RenderOptions, waits=True, tool=False,
    ),
)  # fmt: skip
OPERATION = {op.name: op for op in OPERATIONS}


def tool_parameters(op: Operation) -> dict[str, Any]:
    """The JSON Schema of a tool call's arguments: path parameters, ``wait``, and the body."""
    properties: dict[str, Any] = {p: {"type": "string", "description": ID_HELP}
                                  for p in op.path_parameters}  # fmt: skip
    if op.waits:
        properties["wait"] = {"type": "number", "minimum": 0, "description": WAIT_HELP}
    if op.body is not None:
        properties.update(op.body.model_json_schema()["properties"])
    for p in properties.values():
        p.pop("title", None)
    return {"type": "object", "properties": properties, "required": op.path_parameters,
            "additionalProperties": False}  # fmt: skip


TOOL_STYLES: Mapping[str, Callable[[Operation], dict[str, Any]]] = {
    "openai": lambda op: {
        "type": "function",
        "function": {"name": op.name, "description": op.description,
                     "parameters": tool_parameters(op)},
    },
    "anthropic": lambda op: {
        "name": op.name, "description": op.description, "input_schema": tool_parameters(op),
    },
}  # fmt: skip


def tool_definitions(style: str = "openai") -> list[dict[str, Any]]:
    """The operations as function-calling tools, in a chat API's ``style`` (see `TOOL_STYLES`)."""
    if style not in TOOL_STYLES:
        raise RequestError(f"tool style {style!r}: use {', '.join(TOOL_STYLES)}")
    return [TOOL_STYLES[style](op) for op in OPERATIONS if op.tool]


@dataclass(frozen=True)
class HttpCall:
    """The HTTP request that carries out a tool call."""

    method: str
    path: str
    query: dict[str, Any]
    json: dict[str, Any] | None


def tool_request(name: str, arguments: Mapping[str, Any]) -> HttpCall:
    """The request for a tool call: path parameters into the path, ``wait`` into the query,
    the rest as the JSON body."""
    op = OPERATION.get(name)
    if op is None or not op.tool:
        tools = ", ".join(o.name for o in OPERATIONS if o.tool)
        raise RequestError(f"unknown tool {name!r}; tools: {tools}")
    args = dict(arguments)
    missing = [p for p in op.path_parameters if p not in args]
    if missing:
        raise RequestError(f"{name}: give {missing[0]}")
    path = op.path.format(**{p: quote(str(args.pop(p)), safe="") for p in op.path_parameters})
    query = {"wait": args.pop("wait")} if op.waits and "wait" in args else {}
    if op.body is None and args:
        raise RequestError(f"{name}: unknown argument {sorted(args)[0]!r}")
    return HttpCall(op.method, path, query, args if op.body is not None else None)
