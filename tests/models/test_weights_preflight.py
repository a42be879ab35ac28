"""preflight_weights: absent weights are found out once, in seconds, before any partition runs."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import HfApi

from tests.pipeline.learned_fixtures import INTERNVIDEO2_DATA
from video_assets.models import hub as hub_module
from video_assets.models import hub_reach
from video_assets.models.hub import ModelHub
from video_assets.models.hub_reach import UnavailableRepos
from video_assets.models.weight_specs import BERT_LARGE_TOKENIZER_REPO, INTERNVIDEO2_REPO
from video_assets.models.weights_preflight import preflight_weights
from video_assets.settings.config import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens, the connection is refused


@pytest.fixture(autouse=True)
def fresh_memory(monkeypatch: pytest.MonkeyPatch) -> UnavailableRepos:
    memory = UnavailableRepos()
    monkeypatch.setattr(hub_module, "UNAVAILABLE", memory)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    return memory


@pytest.fixture
def requests(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every HTTP request huggingface_hub sends to the hub under test (they still go out).

    Others are left out: huggingface_hub 2.4 may also fetch its "agent harnesses" list from
    its default endpoint once per process (best effort, 3 s timeout) when it builds headers.
    """
    sent: list[str] = []
    real_send = httpx2.Client.send

    def send(self: httpx2.Client, request: httpx2.Request, **kwargs: object) -> httpx2.Response:
        if str(request.url).startswith(UNREACHABLE):
            sent.append(str(request.url))
        return real_send(self, request, **kwargs)

    monkeypatch.setattr(httpx2.Client, "send", send)
    return sent


def _settings(tmp_path: Path, *models: str) -> Settings:
    return Settings(data_dir=tmp_path, enabled_models=("fingerprint", *models))


def _place_internvideo2(model_dir: Path) -> None:
    """The tiny official-layout checkpoint where the pinned spec expects the real one."""
    ckpt = model_dir / INTERNVIDEO2_REPO.repo_id / INTERNVIDEO2_REPO.revision
    ckpt.mkdir(parents=True)
    shutil.copy(INTERNVIDEO2_DATA / "checkpoint.pt", ckpt / INTERNVIDEO2_REPO.required_files[0])
    bert = model_dir / BERT_LARGE_TOKENIZER_REPO.repo_id / BERT_LARGE_TOKENIZER_REPO.revision
    bert.mkdir(parents=True)
    shutil.copy(INTERNVIDEO2_DATA / "vocab.txt", bert / "vocab.txt")
    shutil.copy(INTERNVIDEO2_DATA / "config.json", bert / "config.json")


def test_unreachable_hub_fails_fast_with_what_to_do(tmp_path: Path, requests: list[str]) -> None:
    settings = _settings(tmp_path, "internvideo2")
    hub = ModelHub(settings.paths.model_dir, offline=False, api=HfApi(endpoint=UNREACHABLE))

    started = time.monotonic()
    problems = preflight_weights(settings, hub=hub)
    elapsed = time.monotonic() - started

    assert elapsed < 15, f"preflight took {elapsed:.1f} s: huggingface_hub's retries are not capped"
    assert len(requests) == 1, requests  # one probe, no retries
    [problem] = problems
    assert (problem.model, problem.reason) == ("internvideo2", "network")
    for expected in (
        f"weights for model 'internvideo2' are not available: the hub at {UNREACHABLE} could not be reached",
        "OpenGVLab/InternVideo2-Stage2_1B-224p-f4 @ 4362e1f",
        str(settings.paths.model_dir / INTERNVIDEO2_REPO.repo_id / "4362e1f" / INTERNVIDEO2_REPO.required_files[0]),
        "video-assets models download internvideo2",
        "remove 'internvideo2' from enabled_models",
    ):
        assert expected in problem.message, expected

    # The next attempt in this process (the next partition) does not go back to the hub.
    again = preflight_weights(settings, hub=ModelHub(settings.paths.model_dir, offline=False, api=hub._api))
    assert len(requests) == 1 and again[0].reason == "network"
    assert "remembered from an attempt" in again[0].message


def test_remembered_failure_expires(tmp_path: Path, requests: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    monkeypatch.setattr(hub_module, "UNAVAILABLE", UnavailableRepos(remember_s=60, clock=lambda: now[0]))
    settings = _settings(tmp_path, "cosmos_embed1_224p")
    hub = ModelHub(settings.paths.model_dir, offline=False, api=HfApi(endpoint=UNREACHABLE))
    preflight_weights(settings, hub=hub)
    now[0] = 59.0
    preflight_weights(settings, hub=hub)
    assert len(requests) == 1
    now[0] = 60.0
    [problem] = preflight_weights(settings, hub=hub)
    assert len(requests) == 2 and "remembered from an attempt" not in problem.message


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A port that accepts connections and never answers (a black-holed hub)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def test_a_hub_that_never_answers_times_out(
    tmp_path: Path, silent_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # huggingface_hub's session has no timeout of its own: without the probe's, this hangs.
    monkeypatch.setattr(hub_reach, "PROBE_TIMEOUT_S", 1.0)
    settings = _settings(tmp_path, "internvideo2")
    hub = ModelHub(settings.paths.model_dir, offline=False, api=HfApi(endpoint=silent_server))
    started = time.monotonic()
    [problem] = preflight_weights(settings, hub=hub)
    assert time.monotonic() - started < 15
    assert problem.reason == "network" and "Timeout" in problem.message


def test_offline_never_touches_the_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a request was sent while HF_HUB_OFFLINE=1")

    monkeypatch.setattr(httpx2.Client, "send", refuse)
    monkeypatch.setattr(httpx2.HTTPTransport, "handle_request", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = _settings(tmp_path, "internvideo2", "cosmos_embed1_336p")

    problems = preflight_weights(settings)

    assert [(p.model, p.reason) for p in problems] == [("internvideo2", "offline"), ("cosmos_embed1_336p", "offline")]
    assert "unset HF_HUB_OFFLINE" in problems[0].message
    assert "video-assets models download cosmos_embed1_336p" in problems[1].message


def test_present_weights_pass_without_the_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpx2.Client, "send", lambda *a, **k: pytest.fail("present weights need no request"))
    settings = _settings(tmp_path, "internvideo2")
    _place_internvideo2(settings.paths.model_dir)
    hub = ModelHub(settings.paths.model_dir, offline=False, api=HfApi(endpoint=UNREACHABLE))

    assert preflight_weights(settings, hub=hub) == []
    # Default model choice (enabled_models None) only ever runs models whose weights are present.
    assert preflight_weights(Settings(data_dir=tmp_path / "empty"), hub=hub) == []


def test_no_download_and_unknown_models(tmp_path: Path, requests: list[str]) -> None:
    settings = Settings(data_dir=tmp_path, enabled_models=("internvideo2", "internvideo3"))
    hub = ModelHub(settings.paths.model_dir, offline=False, api=HfApi(endpoint=UNREACHABLE))
    absent, unknown = preflight_weights(settings, hub=hub, download=False)
    assert requests == []
    assert absent.reason == "absent" and "no download was tried" in absent.message
    assert unknown.reason == "unknown_model" and "'internvideo3'" in unknown.message
    assert "fingerprint" in unknown.message  # the registered names are listed
    # Chosen with --models (the CLI says so): the messages point there, not at enabled_models.
    absent, unknown = preflight_weights(settings, hub=hub, download=False, models_option="--models")
    assert "drop 'internvideo2' from --models" in absent.message and "enabled_models" not in absent.message
    assert unknown.message.startswith("--models names 'internvideo3', which is not a registered model")
    typo = Settings(data_dir=tmp_path, models={"internvido2": {"verbose": True}, "fingerprint": {}})
    [problem] = preflight_weights(typo, hub=hub)
    assert problem.reason == "unknown_model" and problem.message.startswith("models.internvido2: ")


def test_hf_endpoint_from_the_environment_is_honoured(tmp_path: Path) -> None:
    """In a fresh process, as a run starts: HF_ENDPOINT decides where the one probe goes."""
    script = (
        "import json, sys, time\n"
        "from video_assets.settings.config import Settings\n"
        "from video_assets.models.weights_preflight import preflight_weights\n"
        "settings = Settings(data_dir=sys.argv[1], enabled_models=('internvideo2',))\n"
        "started = time.monotonic()\n"
        "problems = preflight_weights(settings)\n"
        "print(json.dumps({'s': time.monotonic() - started, 'problems': [[p.reason, p.message] for p in problems]}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))}
    env.update(HF_ENDPOINT=UNREACHABLE, PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["s"] < 15, result
    [[reason, message]] = result["problems"]
    assert reason == "network" and "127.0.0.1:9" in message
