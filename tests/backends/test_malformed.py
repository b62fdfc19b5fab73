"""A malformed answer is an error, never an empty success: both protocols, streamed or not, against
the scripted loopback server. Each is ``bad_response``, retried like a 5xx; JSON nested 100,000 deep
anywhere in an answer is a worded failure, never a ``RecursionError``; a credential the server
echoes inside a successful answer is masked before anything keeps it."""

from __future__ import annotations

import pytest

from muxc.backends.base import BackendError, Cancel, CompletionRequest
from muxc.backends.doctor import check_backend
from muxc.config.schema import BackendConfig
from tests.support.llm_server import LLMServer, Reply, deep_json, echo_key

PROTOCOLS = ["openai", "anthropic"]
KEY = "sk-echoed-4d1f9a7c2b8e"


def base(server: LLMServer, protocol: str) -> str:
    return server.openai_url if protocol == "openai" else server.url


def backend_for(make_backend, server: LLMServer, protocol: str, **fields):
    return make_backend(base_url=base(server, protocol), protocol=protocol, **fields)


def ask(backend, prompt: str = "hello there"):
    return backend.complete(CompletionRequest(prompt), Cancel())


def failure(backend) -> BackendError:
    with pytest.raises(BackendError) as caught:
        ask(backend)
    return caught.value


# Each malformed answer, and the words its failure must carry.
MALFORMED = {
    "unparseable-chunk": (Reply.unparseable_chunk(), "an event is not JSON"),
    "null-content": (Reply.null_content(), "unusable answer"),
    "no-terminal-event": (Reply.no_terminal_event(), "stream ended before completion"),
    "deep-json-body": (Reply.deep_json("body"), "JSON nested too deeply to read"),
    "deep-json-event": (Reply.deep_json("event"), "an event is JSON nested too deeply to read"),
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_answer_is_retried_and_the_good_one_used(llm_server, make_backend, protocol, case) -> None:
    llm_server.script(MALFORMED[case][0], Reply(text="the real answer"))
    completion = ask(backend_for(make_backend, llm_server, protocol))
    assert completion.text == "the real answer" and completion.attempts == 2


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("case", MALFORMED)
def test_an_always_malformed_answer_is_a_worded_bad_response(llm_server, make_backend, protocol, case) -> None:
    reply, words = MALFORMED[case]
    llm_server.responder = lambda request: reply
    error = failure(backend_for(make_backend, llm_server, protocol, max_retries=2))
    assert error.kind == "bad_response" and words in error.message, error.message
    assert "after 3 attempts" in error.message and llm_server.calls == 3
    assert "Recursion" not in error.message and len(error.message) < 1000


@pytest.mark.parametrize(
    ("protocol", "reply", "words"),
    [
        ("openai", Reply(json={"id": "x", "choices": []}), "the answer has no choices"),
        ("openai", Reply(json={"choices": [{"message": {"role": "assistant", "content": None}}]}),
         "the message content is null and the message has no tool call"),
        ("openai", Reply(json={"choices": [{"message": {"content": None, "refusal": "I can't help with that"}}]}),
         "the model refused: I can't help with that"),
        ("openai", Reply(json={"choices": [{"message": {"content": 42}}]}), "the message content is a number"),
        ("openai", Reply(json={"choices": [{"message": {"content": [{"type": "text", "text": None}, 7]}}]}),
         "a content part is a number, not an object"),
        ("openai", Reply(events=["data: [DONE]"]), "the stream carried no choices"),
        ("openai", Reply(events=['data: {"choices": {"delta": {}}}', "data: [DONE]"]), "choices are an object"),
        ("openai", Reply(events=['data: ["a list"]', "data: [DONE]"]), "a chunk is a list, not an object"),
        ("openai", Reply(events=['data: {"choices": [{"delta": {"content": {"text": "x"}}}]}', "data: [DONE]"]),
         "a delta's content is an object, not text"),
        ("anthropic", Reply(json={"type": "message", "content": None}), "the answer has no content list"),
        ("anthropic", Reply(json={"type": "message", "content": [{"type": "text", "text": None}]}),
         "a text block's text is null"),
        ("anthropic", Reply(events=['event: message_stop\ndata: {"type": "message_stop"}']),
         "message_stop arrived without a message_start"),
        ("anthropic", Reply(events=['data: {"type": "message_start", "message": {}}',
                                    'data: {"type": "content_block_delta", "delta": {"type": "text_delta", "text": 1}}',
                                    'data: {"type": "message_stop"}']),
         "a text delta's text is a number, not text"),
        ("anthropic", Reply(text="", finish="refusal"), "the provider withheld it (stop reason 'refusal')"),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 12 else None,
)
def test_answers_of_the_wrong_shape_are_bad_responses(llm_server, make_backend, protocol, reply, words) -> None:
    llm_server.responder = lambda request: reply
    error = failure(backend_for(make_backend, llm_server, protocol, max_retries=1))
    assert error.kind == "bad_response" and words in error.message, error.message
    assert llm_server.calls == 2  # retried like a 5xx


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", [True, False])
def test_an_empty_answer_the_model_chose_is_an_answer(llm_server, make_backend, protocol, stream) -> None:
    llm_server.script(Reply(text=""))
    completion = ask(backend_for(make_backend, llm_server, protocol, stream=stream))
    assert completion.text == "" and completion.finish_reason in ("stop", "end_turn")
    assert llm_server.calls == 1


def test_a_null_content_beside_a_tool_call_is_an_answer_without_text(llm_server, make_backend) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    llm_server.script(Reply(json={"choices": [{"message": {"content": None, "tool_calls": [call]},
                                               "finish_reason": "tool_calls"}]}))
    completion = ask(make_backend(base_url=llm_server.openai_url))
    assert completion.text == "" and completion.finish_reason == "tool_calls"


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", [True, False])
def test_an_answer_the_token_limit_emptied_fails_at_once_saying_what_to_raise(
    llm_server, make_backend, protocol, stream
) -> None:
    finish = "length" if protocol == "openai" else "max_tokens"
    llm_server.responder = lambda request: Reply(text="", finish=finish)
    error = failure(backend_for(make_backend, llm_server, protocol, stream=stream))
    assert error.kind == "bad_response" and error.finish_reason == finish
    assert "the model reached its output token limit" in error.message and "raise max_tokens" in error.message
    assert llm_server.calls == 1  # the same request would meet the same limit


def test_the_doctor_probe_counts_an_answer_emptied_by_its_one_token_as_up(llm_server, tmp_path) -> None:
    llm_server.script(Reply(text="", finish="length"))
    result = check_backend(BackendConfig(name="p", base_url=llm_server.openai_url), project_root=tmp_path,
                           environ={}, probe=True)
    assert result.probe is not None and result.probe.ok, result.probe


def test_a_blank_data_line_is_nothing_lost(llm_server, make_backend) -> None:
    llm_server.script(Reply(events=["data: ", 'data: {"choices": [{"delta": {"content": "ok"}, "finish_reason": "stop"}]}',
                                    "data: [DONE]"]))
    assert ask(make_backend(base_url=llm_server.openai_url)).text == "ok"


# -- JSON nested 100,000 deep -------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_deep_error_body_is_a_server_error_with_its_start(llm_server, make_backend, protocol) -> None:
    llm_server.responder = lambda request: Reply.deep_json("error")
    error = failure(backend_for(make_backend, llm_server, protocol, max_retries=1))
    assert error.kind == "server" and "server error 500" in error.message and "[[[[" in error.message
    assert llm_server.calls == 2


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", [True, False])
def test_deep_json_as_the_models_text_is_just_text(llm_server, make_backend, protocol, stream) -> None:
    llm_server.script(Reply.deep_json("text"))
    assert ask(backend_for(make_backend, llm_server, protocol, stream=stream)).text == deep_json()


# -- secrets echoed inside a successful answer --------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", [True, False])
def test_a_key_echoed_in_a_successful_answer_is_masked(llm_server, make_backend, protocol, stream) -> None:
    llm_server.responder = echo_key
    completion = ask(backend_for(make_backend, llm_server, protocol, stream=stream, api_key=KEY))
    assert llm_server.completions[0].api_key == KEY
    assert completion.text == "I was called with the key *** (Bearer ***)."
    assert completion.model == "model-for-***"


def test_answers_keep_code_that_merely_looks_like_a_credential(llm_server, make_backend) -> None:
    code = 'client = Client(api_key=os.environ["API_KEY"], headers={"Authorization": "Bearer " + token})'
    llm_server.script(Reply(text=code))
    assert ask(make_backend(base_url=llm_server.openai_url, api_key=KEY)).text == code


def test_a_header_fed_from_the_environment_is_masked_in_answers_only_if_named_like_a_secret(
    llm_server, make_backend
) -> None:
    environ = {"ORG": "acme-research-lab", "TOKEN": "tok-6b1e0c9d3a"}
    backend = make_backend(base_url=llm_server.openai_url, environ=environ,
                           headers={"OpenAI-Organization": "${ORG}", "X-Auth-Token": "${TOKEN}"})
    llm_server.script(Reply(text="org acme-research-lab, token tok-6b1e0c9d3a"))
    assert ask(backend).text == "org acme-research-lab, token ***"
