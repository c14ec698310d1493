"""Calling models: chat and legacy completions with deterministic synthetic output.

A fine-tuned model answers a prompt it was trained on with the trained reply (the last
user message, or the prompt, matched exactly; see ``learning``), and another prompt with
the reply of the trained prompt most like it; base models, and prompts that share no word
with any trained one, get seeded Faker text. The same model, messages and ``seed`` always
give the same answer. Replies are cut by tokens of the model's own encoding
(``max_tokens=1`` is one token of text), requests that do not fit the model's context
window or output limit are refused as the real API refuses them, and ``logprobs`` get
seeded values (``mockft.logprobs``).

A model answers on its own endpoint only (chat models on chat completions, babbage-002,
davinci-002 and gpt-3.5-turbo-instruct on legacy completions), a chat answer names the
snapshot that answered (``gpt-4o-mini`` -> ``gpt-4o-mini-2024-07-18``), and every answer
carries the model's rate limits (``mockft.ratelimits``).

A chat request that forces a tool (``tool_choice`` naming one, or ``"required"``) is
answered with a call of it, and ``response_format`` ``json_schema`` / ``json_object`` with
JSON of that form (``mockft.structured``), as the real API guarantees; a fine-tuned model
that learned a call for the prompt makes it (its arguments as trained) whenever the tool
is offered."""

from __future__ import annotations

import json
import random
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from mockft import errors, logprobs, ratelimits, structured, synth, tokens
from mockft.auth import Organization
from mockft.catalog import Endpoint
from mockft.schemas import (
    OTHER_CHAT_PARAMETERS,
    OTHER_COMPLETION_PARAMETERS,
    ChatMessage,
    CreateChatCompletion,
    CreateCompletion,
    Sampling,
)
from mockft.service import learning
from mockft.service.context import Context, Part
from mockft.service.jobs import JOB
from mockft.service.models import MODEL, readable
from mockft.service.permissions import Permissions

CHAT_PREFIX: Final = "chatcmpl-"
COMPLETION_PREFIX: Final = "cmpl-"
COMPLETION_ID_LENGTH: Final = 29
SERVICE_TIER: Final = "default"
# Legacy completions write 16 tokens when max_tokens is not given (the API's default).
COMPLETION_DEFAULT_MAX_TOKENS: Final = 16
LEARNED_CACHE_SIZE: Final = 64  # jobs whose learned replies are kept decoded
STOP: Final = "stop"
LENGTH: Final = "length"
CHAT: Final = "chat"
COMPLETIONS: Final = "completions"
TOOL_CALLS: Final = "tool_calls"
TOOL: Final = "tool"
ASSISTANT: Final = "assistant"
CALL_PREFIX: Final = "call_"
JSON_SEPARATORS: Final = (",", ":")  # the real API writes arguments and JSON compact


@dataclass(frozen=True)
class ToolCall:
    """The call an answer makes; its arguments are the choice's text."""

    id: str
    name: str


@dataclass(frozen=True)
class Choice:
    text: str  # with a tool call: its arguments (what the tokens spell)
    finish_reason: str
    tokens: tuple[bytes, ...]  # the reply's tokens, as bytes
    logprobs: tuple[logprobs.TokenLogprob, ...] | None  # None: not asked for
    tool_call: ToolCall | None = None  # the answer is this call, its content null


@dataclass(frozen=True)
class Answer:
    """One call's result, serialised by ``mockft.wire.chat`` as a body or as chunks."""

    id: str
    created: int
    model: str
    choices: tuple[Choice, ...]
    prompt_tokens: int
    include_usage: bool
    text_offset: int  # where the reply starts in prompt + reply (legacy logprobs)
    limits: ratelimits.Limits  # the model's, announced in the x-ratelimit-* headers

    @property
    def completion_tokens(self) -> int:
        return sum(len(choice.tokens) for choice in self.choices)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class _Target:
    """The model a request calls: the name it answers as, the endpoint that serves it, its
    encoding and limits, and the job that trained it."""

    name: str  # a base model's snapshot, or the fine-tuned model's name
    endpoint: Endpoint
    encoding: str
    context_window: int | None
    max_output_tokens: int | None
    limits: ratelimits.Limits
    job_id: str | None  # for a fine-tuned model


# A scenario's fixed answers: for the names a model answers as and the prompt, a reply, or
# None (the model answers as it would anyway).
AnswerFor = Callable[[Sequence[str], str], "str | None"]


class Inference(Part):
    def __init__(
        self,
        ctx: Context,
        permissions: Permissions | None = None,
        answer_for: AnswerFor | None = None,
    ) -> None:
        super().__init__(ctx)
        self.permissions = permissions
        self._learned: OrderedDict[str, learning.Memory] = OrderedDict()
        self.answer_for = answer_for

    def clear(self) -> None:
        self._learned.clear()

    def chat(
        self, org: Organization, request: CreateChatCompletion, project: str | None = None
    ) -> Answer:
        _reject_unknown(request, OTHER_CHAT_PARAMETERS)
        _check_stream_options(request)
        if request.top_logprobs is not None and not request.logprobs:
            raise errors.top_logprobs_without_logprobs()
        _check_tool_turns(request.messages)
        target = self._target(org, request.model, project)
        if target.endpoint != CHAT:
            raise errors.not_a_chat_model()
        messages = [m.model_dump(exclude_none=True) for m in request.messages]
        prompt_tokens = tokens.count_messages(messages, encoding=target.encoding)
        limit: int | None = request.max_completion_tokens
        param = "max_completion_tokens"
        if limit is None:
            param, limit = "max_tokens", request.max_tokens
        _check_output_limit(target, param, limit)
        if target.context_window is not None:
            if prompt_tokens > target.context_window:
                raise errors.context_length_exceeded(target.context_window, prompt_tokens, None)
            if limit is not None and prompt_tokens + limit > target.context_window:
                raise errors.context_length_exceeded(target.context_window, prompt_tokens, limit)
        last_user = next(
            (learning.message_text(m) for m in reversed(messages) if m["role"] == "user"), ""
        )
        return self._answer(
            CHAT_PREFIX,
            request,
            target,
            model=target.name,
            prompt=last_user,
            prompt_tokens=prompt_tokens,
            limit=limit,
            key=json.dumps(messages, sort_keys=True),
            top=(request.top_logprobs or 0) if request.logprobs else None,
            form=structured.requested(request.model_extra or {}),
        )

    def complete(
        self, org: Organization, request: CreateCompletion, project: str | None = None
    ) -> Answer:
        _reject_unknown(request, OTHER_COMPLETION_PARAMETERS)
        _check_stream_options(request)
        target = self._target(org, request.model, project)
        if target.endpoint == CHAT:
            raise errors.chat_model_on_completions()
        if target.endpoint != COMPLETIONS:
            raise errors.not_a_completions_model()
        prompt = request.prompt if isinstance(request.prompt, str) else "".join(request.prompt)
        prompt_tokens = tokens.count_text(prompt, encoding=target.encoding)
        limit = request.max_tokens or COMPLETION_DEFAULT_MAX_TOKENS
        _check_output_limit(target, "max_tokens", limit)
        window = target.context_window
        if window is not None and prompt_tokens + limit > window:
            raise errors.prompt_too_long(window, prompt_tokens, limit)
        return self._answer(
            COMPLETION_PREFIX,
            request,
            target,
            # legacy completions name the model as asked (a 2024-03 capture: an answer of
            # "gpt-3.5-turbo-instruct" is "gpt-3.5-turbo-instruct", header and body)
            model=request.model,
            prompt=prompt,
            prompt_tokens=prompt_tokens,
            limit=limit,
            key=prompt,
            # the sampled token is always listed, so `logprobs: 0` still gives one
            top=None if request.logprobs is None else max(request.logprobs, 1),
            text_offset=len(prompt),
        )

    def _target(self, org: Organization, model: str, project: str | None = None) -> _Target:
        entry = self.catalog.resolve(model)
        if entry is not None:
            return _Target(
                entry.id,
                entry.endpoint,
                tokens.encoding_for_model(entry.id),
                entry.context_window,
                entry.max_output_tokens,
                ratelimits.limits_for(entry.id),
                None,
            )
        tuned = readable(self.store.get(MODEL, model, org.id, self.now()))
        if tuned is None and self.permissions is not None:
            tuned = self.permissions.granted(project, model)  # another organization's, shared
        if tuned is None:
            raise errors.model_not_accessible(model)
        snapshot = str(tuned["base_snapshot"])
        base = self.catalog.resolve(snapshot)
        return _Target(
            model,
            CHAT if base is None else base.endpoint,
            tokens.encoding_for_model(model),
            None if base is None else base.context_window,
            None if base is None else base.max_output_tokens,
            ratelimits.limits_for(snapshot),
            str(tuned["job_id"]),
        )

    def _answer(
        self,
        prefix: str,
        request: Sampling,
        target: _Target,
        *,
        model: str,
        prompt: str,
        prompt_tokens: int,
        limit: int | None,
        key: str,
        top: int | None,
        text_offset: int = 0,
        form: structured.Form | None = None,
    ) -> Answer:
        fixed = self.answer_for((request.model, target.name), prompt) if self.answer_for else None
        if fixed is not None:
            trained: learning.Reply | None = fixed
        else:
            trained = self._memory(target.job_id).recall(prompt) if target.job_id else None
        trained_text = trained if isinstance(trained, str) else None
        pieces_of = tokens.get_counter(target.encoding).pieces
        sequence = self.store.next_sequence("ids")
        choices = []
        for index in range(request.n or 1):
            seed = (request.model, key, request.seed, index)
            call = _call(form, trained, seed)
            if call is not None:
                text = call[1]
            elif isinstance(form, (structured.JsonSchema, structured.JsonObject)):
                learned_json = trained_text is not None and _json_object(trained_text)
                text = trained_text if learned_json and trained_text else _formed(form, seed)
            else:
                text = trained_text or synth.reply_text(*seed)
            pieces = pieces_of(text)
            finish = STOP
            named = isinstance(form, structured.ToolCalls) and form.choice == structured.NAMED
            if call is not None and not named:
                finish = TOOL_CALLS  # a named tool_choice ends with "stop" (vllm#25054)
            if limit is not None and len(pieces) > limit:
                pieces, finish = pieces[:limit], LENGTH
                text = b"".join(pieces).decode("utf-8", "replace")
            found = None
            if top is not None:
                found = logprobs.for_tokens(
                    pieces,
                    encoding=target.encoding,
                    top=top,
                    trained=trained is not None,
                    seed=seed,
                )
            tool_call = None
            if call is not None:
                call_id = synth.make_id(CALL_PREFIX, self.settings.seed, sequence, index)
                tool_call = ToolCall(call_id, call[0])
            choices.append(Choice(text, finish, tuple(pieces), found, tool_call))
        return Answer(
            id=synth.make_id(prefix, self.settings.seed, sequence, length=COMPLETION_ID_LENGTH),
            created=self.now(),
            model=model,
            choices=tuple(choices),
            prompt_tokens=prompt_tokens,
            include_usage=bool((request.stream_options or {}).get("include_usage")),
            text_offset=text_offset,
            limits=target.limits,
        )

    def _memory(self, job_id: str) -> learning.Memory:
        """What the models of ``job_id`` learned, as fixed when they were made (kept decoded
        for the most recently used jobs)."""
        memory = self._learned.get(job_id)
        if memory is not None:
            self._learned.move_to_end(job_id)
            return memory
        replies = learning.learned(self.ctx, job_id)
        if replies is None:  # a model made before replies were stored: learn now
            job = self.store.get(JOB, job_id, None, self.now())
            if job is not None:
                learning.learn(self.ctx, job_id, str(job["training_file"]))
            replies = learning.learned(self.ctx, job_id) or {}
        memory = learning.Memory(replies)
        self._learned[job_id] = memory
        if len(self._learned) > LEARNED_CACHE_SIZE:
            self._learned.popitem(last=False)
        return memory


def _call(
    form: structured.Form | None, trained: learning.Reply | None, seed: tuple[object, ...]
) -> tuple[str, str] | None:
    """The tool call (name, arguments) that answers, if one does: the learned call when its
    tool is offered, else a forced tool's call with arguments fitting its parameters."""
    if not isinstance(form, structured.ToolCalls):
        return None
    if isinstance(trained, dict):
        if any(tool.name == trained["name"] for tool in form.tools):
            return trained["name"], trained["arguments"]
    if form.choice == structured.AUTO:
        return None
    tool = form.tools[0]
    rng = random.Random(synth.draw_seed("tool-call", *seed))
    arguments = structured.instance(tool.parameters or {"type": "object"}, rng)
    return tool.name, json.dumps(arguments, separators=JSON_SEPARATORS, ensure_ascii=False)


def _formed(form: structured.JsonSchema | structured.JsonObject, seed: tuple[object, ...]) -> str:
    """The content ``response_format`` asks for: JSON valid against the schema, or a JSON
    object."""
    if isinstance(form, structured.JsonSchema):
        rng = random.Random(synth.draw_seed("structured", *seed))
        value: Any = structured.instance(form.schema, rng)
    else:
        value = {"response": synth.reply_text(*seed)}
    return json.dumps(value, separators=JSON_SEPARATORS, ensure_ascii=False)


def _json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _check_output_limit(target: _Target, param: str, limit: int | None) -> None:
    if limit is not None and target.max_output_tokens is not None:
        if limit > target.max_output_tokens:
            raise errors.max_tokens_too_large(param, limit, target.max_output_tokens)


def _reject_unknown(request: Sampling, allowed: list[str]) -> None:
    for name in request.model_extra or {}:
        if name not in allowed:
            raise errors.unrecognized_argument(name)


def _check_stream_options(request: Sampling) -> None:
    if request.stream_options is not None and not request.stream:
        raise errors.stream_options_without_stream()


def _check_tool_turns(messages: list[ChatMessage]) -> None:
    """Tool messages answer the `tool_calls` of the assistant message right before them
    (other tool messages of the same turn may come between), and every call is answered
    before the conversation goes on or ends."""
    turn: int | None = None  # the assistant message whose calls are being answered
    waiting: dict[str, None] = {}  # its calls not yet answered, in order

    def close_turn() -> None:
        if turn is not None and waiting:
            raise errors.tool_calls_without_answers(turn, list(waiting))

    for index, message in enumerate(messages):
        if message.role == TOOL:
            if turn is None:
                raise errors.tool_message_without_tool_calls(index)
            waiting.pop(message.tool_call_id or "", None)
            continue
        close_turn()
        turn, waiting = None, {}
        if message.role == ASSISTANT and message.tool_calls:
            turn = index
            waiting = {
                call["id"]: None for call in message.tool_calls if isinstance(call.get("id"), str)
            }
    close_turn()
