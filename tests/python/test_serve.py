"""`squish serve`: the OpenAI and Ollama APIs driven by the real `openai` and `ollama` client
packages and by raw HTTP; greedy output checked against `squish generate`; bad requests answered
with the right status and JSON error while other streams keep flowing; disconnects free the slot;
SIGTERM lets a running stream finish."""
from __future__ import annotations

import http.client
import json
import threading
import time

import pytest

from conftest import SMOLLM2, run_squish
from serve_support import ServeProcess, sse_events

openai = pytest.importorskip("openai")
ollama = pytest.importorskip("ollama")

KEY = "test-key-123"
MODEL_ID = SMOLLM2.stem
PROMPT = "The three primary colors are"
QUESTION = "Name a large animal that lives in the ocean."


@pytest.fixture(scope="module")
def server():
    if not SMOLLM2.exists():
        pytest.skip(f"{SMOLLM2} not found")
    # 4 slots of 256 positions; bodies over 64 KiB are refused.
    srv = ServeProcess(SMOLLM2, "--parallel", 4, "--ctx-size", 1024, "-t", 2, "--max-body-kib", 64, api_key=KEY)
    yield srv
    assert srv.stop() == 0, srv.log_text()


@pytest.fixture(scope="module")
def oai(server):
    return openai.OpenAI(base_url=server.base + "/v1", api_key=KEY, max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def oll(server):
    return ollama.Client(host=server.base, headers={"Authorization": f"Bearer {KEY}"})


def generate_cli(prompt: str, n: int, *extra) -> str:
    """`squish generate` on the same weights (quantized, as the server runs them); its trailing newline removed."""
    out = run_squish("generate", SMOLLM2, "--weights", "quantized", "-p", prompt, "-n", n, *extra).stdout
    assert out.endswith("\n")
    return out[:-1]


# --- OpenAI API through the openai package ------------------------------------------------------

def test_completion_greedy_matches_generate(oai):
    want = generate_cli(PROMPT, 16)
    got = oai.completions.create(model=MODEL_ID, prompt=PROMPT, max_tokens=16, temperature=0)
    assert got.choices[0].text == want
    assert got.object == "text_completion"
    assert got.usage.completion_tokens <= 16 and got.usage.prompt_tokens > 0
    assert got.usage.total_tokens == got.usage.prompt_tokens + got.usage.completion_tokens


def test_repeated_prompt_reuses_the_slot_cache_and_matches_generate(server, oai):
    """A free slot whose cache starts with the new prompt keeps those positions (llama-server's
    cache_prompt): the second identical request evaluates only the prompt's last token, and both
    outputs equal `squish generate`'s."""
    prompt = "A lighthouse keeper finds a message in a bottle. The message says"
    want = generate_cli(prompt, 12)
    server.wait_idle()
    before = server.metric("squish_prompt_tokens_cached_total", 0)
    first = oai.completions.create(model=MODEL_ID, prompt=prompt, max_tokens=12, temperature=0)
    server.wait_idle()
    second = oai.completions.create(model=MODEL_ID, prompt=prompt, max_tokens=12, temperature=0)
    reused = server.metric("squish_prompt_tokens_cached_total") - before
    assert first.choices[0].text == second.choices[0].text == want
    assert reused == first.usage.prompt_tokens - 1, (reused, first.usage.prompt_tokens)
    assert second.usage.prompt_tokens == first.usage.prompt_tokens  # usage counts the whole prompt


def test_a_shared_prefix_is_copied_from_a_running_slot(server, oai):
    """A prompt that shares its beginning with a running request's prompt (a common system prompt)
    takes those positions from that request's slot instead of evaluating them again."""
    prefix = "You are a patient assistant who knows everything about lighthouses and the sea. "
    server.wait_idle()
    before = server.metric("squish_prompt_tokens_cached_total", 0)
    stream = oai.completions.create(model=MODEL_ID, prompt=prefix + "Tell me a long story.", max_tokens=120,
                                    temperature=0, stream=True, extra_body={"ignore_eos": True})
    first = next(iter(stream))  # its prompt is in its slot's cache now
    other = oai.completions.create(model=MODEL_ID, prompt=prefix + "Name one lighthouse.", max_tokens=4, temperature=0,
                                   extra_body={"ignore_eos": True})
    reused = server.metric("squish_prompt_tokens_cached_total") - before
    rest = "".join(c.choices[0].text for c in stream if c.choices)
    assert first.choices and len(rest) > 0
    assert other.usage.completion_tokens == 4
    assert 10 <= reused < other.usage.prompt_tokens, (reused, other.usage.prompt_tokens)


def test_chat_greedy_matches_generate_streamed_and_not(oai):
    want = generate_cli(QUESTION, 24, "--chat")
    messages = [{"role": "user", "content": QUESTION}]
    whole = oai.chat.completions.create(model=MODEL_ID, messages=messages, max_tokens=24, temperature=0)
    assert whole.choices[0].message.content == want
    assert whole.choices[0].message.role == "assistant"
    assert whole.choices[0].finish_reason in ("stop", "length")
    chunks = list(oai.chat.completions.create(model=MODEL_ID, messages=messages, max_tokens=24, temperature=0,
                                              stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == want
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == whole.choices[0].finish_reason
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert chunks[-1].usage.prompt_tokens == whole.usage.prompt_tokens


def test_stop_sequence_cuts_the_output(oai):
    full = oai.completions.create(model=MODEL_ID, prompt=PROMPT, max_tokens=24, temperature=0).choices[0].text
    assert len(full) > 12
    stop = full[8:11]
    want = full[:full.index(stop)]
    got = oai.completions.create(model=MODEL_ID, prompt=PROMPT, max_tokens=24, temperature=0, stop=[stop])
    assert got.choices[0].text == want and got.choices[0].finish_reason == "stop"
    streamed = oai.completions.create(model=MODEL_ID, prompt=PROMPT, max_tokens=24, temperature=0, stop=stop, stream=True)
    assert "".join(c.choices[0].text for c in streamed) == want


def test_seeded_sampling_is_reproduced_and_matches_generate(oai):
    # cache_prompt false: a slot's cached prompt leaves only the last prompt token to evaluate, whose
    # logits then come from the one-row path and may differ from a whole prompt's in the last bits
    # (as llama-server documents for its cache_prompt) — enough to move a sampled token.
    kw = dict(model=MODEL_ID, prompt=PROMPT, max_tokens=16, temperature=1.0, seed=1234,
              extra_body={"cache_prompt": False})
    a = oai.completions.create(**kw).choices[0].text
    b = oai.completions.create(**kw).choices[0].text
    assert a == b
    assert a == generate_cli(PROMPT, 16, "--temp", 1.0, "--seed", 1234)


def test_logprobs_are_consistent_with_greedy_choice(oai):
    got = oai.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": QUESTION}], max_tokens=6,
                                      temperature=0, logprobs=True, top_logprobs=3)
    content = got.choices[0].logprobs.content
    assert 1 <= len(content) <= 6
    for tok in content:
        assert tok.logprob <= 0 and len(tok.top_logprobs) == 3
        tops = [t.logprob for t in tok.top_logprobs]
        assert tops == sorted(tops, reverse=True)
        # Greedy decoding picks the most likely token.
        assert tok.token == tok.top_logprobs[0].token and abs(tok.logprob - tops[0]) < 1e-5


def test_models_lists_the_model(oai):
    assert [m.id for m in oai.models.list().data] == [MODEL_ID]


# --- Ollama API through the ollama package --------------------------------------------------------

def test_ollama_generate_and_chat_match_openai_chat(oai, oll):
    want = oai.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": QUESTION}],
                                       max_tokens=12, temperature=0).choices[0].message.content
    opts = {"temperature": 0, "num_predict": 12}
    gen = oll.generate(model=MODEL_ID, prompt=QUESTION, options=opts, stream=False)
    assert gen.response == want and gen.done
    assert gen.eval_count <= 12 and gen.prompt_eval_count > 0
    streamed = "".join(p.response for p in oll.generate(model=MODEL_ID, prompt=QUESTION, options=opts, stream=True))
    assert streamed == want
    chat = oll.chat(model=MODEL_ID, messages=[{"role": "user", "content": QUESTION}], options=opts, stream=False)
    assert chat.message.content == want and chat.message.role == "assistant"
    parts = list(oll.chat(model=MODEL_ID, messages=[{"role": "user", "content": QUESTION}], options=opts, stream=True))
    assert "".join(p.message.content for p in parts) == want
    assert parts[-1].done and parts[-1].done_reason in ("stop", "length")


def test_ollama_stop_option_and_seed(oll):
    opts = {"temperature": 0.9, "seed": 7, "num_predict": 10}
    a = oll.generate(model=MODEL_ID, prompt=PROMPT, options=opts, raw=True, stream=False).response
    b = oll.generate(model=MODEL_ID, prompt=PROMPT, options=opts, raw=True, stream=False).response
    assert a == b
    full = oll.generate(model=MODEL_ID, prompt=PROMPT, raw=True, stream=False,
                        options={"temperature": 0, "num_predict": 24}).response
    stop = full[8:11]
    cut = oll.generate(model=MODEL_ID, prompt=PROMPT, raw=True, stream=False,
                       options={"temperature": 0, "num_predict": 24, "stop": [stop]})
    assert cut.response == full[:full.index(stop)] and cut.done_reason == "stop"


def test_ollama_tags_show_version(oll, server):
    names = [m.model for m in oll.list().models]
    assert names == [MODEL_ID]
    show = oll.show(MODEL_ID)
    assert show.details.family == "llama" and show.details.format == "gguf"
    assert show.modelinfo["general.architecture"] == "llama"
    status, body, _ = server.post_json("/api/show", {"model": "no-such-model"})
    assert status == 404 and isinstance(body["error"], str)
    status, _, data = server.request("GET", "/api/version")
    assert status == 200 and "version" in json.loads(data)


# --- Raw HTTP: bad requests while streams are in flight -----------------------------------------

def stream_completion(server, max_tokens: int, results: list, index: int, ignore_eos: bool = False) -> None:
    """Streams a greedy completion over raw HTTP; records (status, text, finish_reason, usage, saw [DONE])."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    body = {"prompt": PROMPT, "max_tokens": max_tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}, "ignore_eos": ignore_eos}
    conn.request("POST", "/v1/completions", body=json.dumps(body), headers=server.headers())
    resp = conn.getresponse()
    events = sse_events(resp)
    conn.close()
    chunks = [json.loads(e) for e in events if e != "[DONE]"]
    text = "".join(c["choices"][0]["text"] for c in chunks if c["choices"])
    reason = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1]
    results[index] = (resp.status, text, reason, chunks[-1]["usage"], events[-1] == "[DONE]")


BAD_REQUESTS = [
    # (path, body, headers-override, expected status, field expected in error.param or None)
    ("/v1/chat/completions", b"{not json", None, 400, None),
    ("/v1/chat/completions", {"messages": "hello"}, None, 400, "messages"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}, None, 400, "temperature"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "temperature": 5}, None, 400, "temperature"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "top_p": 1.5}, None, 400, "top_p"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}, None, 400, "max_tokens"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 10**6}, None, 400, "max_tokens"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "n": 2}, None, 400, "n"),
    ("/v1/chat/completions", {"messages": [{"role": "wizard", "content": "hi"}]}, None, 400, "messages"),
    ("/v1/completions", {"prompt": 42}, None, 400, "prompt"),
    ("/v1/completions", {"prompt": "word " * 400, "max_tokens": 4}, None, 400, "prompt"),
    ("/v1/completions", {"prompt": "x" * (70 * 1024)}, None, 413, None),
    ("/v1/completions", {"prompt": "hi"}, {"Content-Type": "application/json"}, 401, None),
    ("/v1/completions", {"prompt": "hi"}, {"Authorization": "Bearer wrong"}, 401, None),
    ("/v1/nothing-here", {"prompt": "hi"}, None, 404, None),
]


def check_bad_request(server, path, body, headers, status, param) -> None:
    got_status, got, hdrs = server.post_json(path, body, headers)
    assert got_status == status, (path, body if not isinstance(body, dict) else list(body), got)
    assert isinstance(got, dict) and isinstance(got["error"]["message"], str) and got["error"]["message"]
    assert got["error"]["type"]
    if param:
        assert got["error"]["param"] == param


def test_bad_requests_get_json_errors_while_streams_flow(server):
    results = [None] * 3
    streams = [threading.Thread(target=stream_completion, args=(server, 48, results, i)) for i in range(3)]
    for t in streams:
        t.start()
    time.sleep(0.3)
    for case in BAD_REQUESTS:
        check_bad_request(server, *case)
    # Ollama's error shape: {"error": "..."}.
    status, got, _ = server.post_json("/api/chat", b"[1, 2", None)
    assert status == 400 and isinstance(got["error"], str)
    status, got, _ = server.post_json("/api/generate", {"prompt": "hi", "options": {"temperature": "x"}})
    assert status == 400 and "temperature" in got["error"]
    for t in streams:
        t.join(timeout=120)
    want = results[0][1]
    for status, text, reason, usage, done in results:
        assert status == 200 and done and text == want
        assert reason in ("stop", "length") and usage["completion_tokens"] <= 48
    server.wait_idle()


def test_client_disconnect_cancels_and_frees_the_slot(server):
    server.wait_idle()
    before = server.metric("squish_generated_tokens_total")
    other = [None]
    keep = threading.Thread(target=stream_completion, args=(server, 32, other, 0, True))
    keep.start()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    body = {"prompt": PROMPT, "max_tokens": 200, "temperature": 0.7, "seed": 3, "stream": True, "ignore_eos": True}
    conn.request("POST", "/v1/completions", body=json.dumps(body), headers=server.headers())
    resp = conn.getresponse()
    assert resp.status == 200
    resp.read1(1)  # the first bytes of the stream arrived
    conn.sock.close()
    conn.close()
    keep.join(timeout=120)
    server.wait_idle()
    assert other[0][0] == 200 and other[0][4]
    cancelled_tokens = server.metric("squish_generated_tokens_total") - before - other[0][3]["completion_tokens"]
    # The 200-token request stopped within a few steps of its client leaving.
    assert 0 < cancelled_tokens < 100


def send_and_leave(server, body: dict, wait_s: float) -> None:
    """Sends a request (not streamed), waits `wait_s` without reading the answer, then closes the connection."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.request("POST", "/v1/completions", body=json.dumps(body), headers=server.headers())
    time.sleep(wait_s)
    conn.sock.close()
    conn.close()


def test_client_that_leaves_a_whole_request_cancels_it(server):
    server.wait_idle()
    before = server.metric("squish_generated_tokens_total")
    left_before = server.metric('squish_requests_total{status="499"}', 0)
    body = {"prompt": PROMPT, "max_tokens": 240, "temperature": 0, "ignore_eos": True}  # a slot holds 256
    send_and_leave(server, body, 0.3)
    server.wait_idle()
    deadline = time.monotonic() + 10
    while server.metric('squish_requests_total{status="499"}', 0) == left_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.metric('squish_requests_total{status="499"}', 0) == left_before + 1
    # Generation stopped within a few steps of the client leaving (250 ms), long before the 240 tokens.
    generated = server.metric("squish_generated_tokens_total") - before
    assert 0 < generated < 160


def test_health_and_metrics(server, oai):
    oai.completions.create(model=MODEL_ID, prompt=PROMPT, max_tokens=4, temperature=0)
    status, _, data = server.request("GET", "/health", headers={})
    assert status == 200 and json.loads(data)["status"] == "ok"
    status, _, data = server.request("GET", "/metrics")
    text = data.decode()
    assert status == 200
    for name in ("squish_requests_total{status=\"200\"}", "squish_requests_total{status=\"400\"}",
                 "squish_prompt_tokens_total", "squish_generated_tokens_total",
                 "squish_time_to_first_token_seconds_bucket", "squish_inter_token_latency_seconds_count",
                 "squish_slots_busy", "squish_queue_length", "squish_kv_cache_bytes_in_use"):
        assert name in text, name
    assert server.metric("squish_slots_total") == 4
    assert server.metric("squish_kv_cache_bytes_allocated") > 0


# --- A one-slot server: the queue bound and a graceful shutdown ----------------------------------

def test_full_queue_gets_503_and_sigterm_finishes_running_streams():
    if not SMOLLM2.exists():
        pytest.skip(f"{SMOLLM2} not found")
    # A grace period long enough for the running stream to finish even in the sanitizer build.
    srv = ServeProcess(SMOLLM2, "--parallel", 1, "--max-queue", 1, "--ctx-size", 1024, "-t", 2,
                       "--shutdown-grace-ms", 300000)
    try:
        results = [None]
        # Long enough to still be running after the queue checks below (several seconds).
        running = threading.Thread(target=stream_completion, args=(srv, 500, results, 0, True))
        running.start()
        deadline = time.monotonic() + 30
        while srv.metric("squish_slots_busy") < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        # A queued request whose client leaves gives its place in the queue up at once (499).
        leaving = threading.Thread(target=send_and_leave, args=(srv, {"prompt": "hi", "max_tokens": 2}, 1.0))
        leaving.start()
        while srv.metric("squish_queue_length") < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert srv.metric("squish_queue_length") == 1
        leaving.join()
        def left_the_queue() -> bool:
            return srv.metric("squish_queue_length") == 0 and srv.metric('squish_requests_total{status="499"}', 0) == 1
        while not left_the_queue() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert left_the_queue() and results[0] is None
        queued_status = [None]

        def queued_request():
            queued_status[0] = srv.post_json("/v1/completions", {"prompt": "hi", "max_tokens": 2})
        queued = threading.Thread(target=queued_request)
        queued.start()
        while srv.metric("squish_queue_length") < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        # The slot and the queue are full: the next request is refused with Retry-After.
        status, body, headers = srv.post_json("/v1/completions", {"prompt": "hi", "max_tokens": 2})
        assert status == 503 and headers.get("Retry-After") and body["error"]["message"]
        # SIGTERM while the long stream runs: it still ends with [DONE]; the queued request is
        # refused (503); the process exits 0.
        assert srv.proc.poll() is None and results[0] is None
        srv.proc.send_signal(15)
        running.join(timeout=300)
        queued.join(timeout=300)
        status, text, reason, usage, done = results[0]
        assert status == 200 and done and reason == "length" and usage["completion_tokens"] == 500
        assert queued_status[0][0] == 503 and queued_status[0][1]["error"]["message"]
        assert srv.proc.wait(timeout=60) == 0
    finally:
        srv.stop()
