"""Check, once before any partition runs, that every enabled model's weights can be had.

A model whose weights are absent would otherwise fail in every partition, each
after its own download attempt. `preflight_weights` looks on disk, makes at most
one download attempt per model (which fails within seconds when the hub cannot be
reached, see `hub_reach`; never when offline), and returns one problem per model
that cannot run, with the same message `search` gives for absent weights plus how
to leave the model out.
"""

from __future__ import annotations

from dataclasses import dataclass

from video_assets.models.embedder_registry import registered
from video_assets.models.hub import ModelHub
from video_assets.models.hub_errors import ChecksumMismatchError, WeightsNotFoundError
from video_assets.models.transnetv2_weights import TransNetV2WeightsUnavailable, transnetv2_weights_path
from video_assets.settings.config import Settings


@dataclass(frozen=True)
class WeightsProblem:
    """An enabled model that cannot run. `message` is ready to print (several lines)."""

    model: str
    # A WeightsNotFoundError reason ("offline", "network", "gated", "repo_not_found",
    # "revision_not_found", "file_not_found", "http"), or "checksum", "unknown_model" or
    # "scene_detector" (clipping.scene_detector's weights; `model` is the detector).
    reason: str
    message: str

    def __str__(self) -> str:
        return self.message


def preflight_weights(
    settings: Settings, *, hub: ModelHub | None = None, download: bool = True, models_option: str | None = None
) -> list[WeightsProblem]:
    """Problems of the models `settings` enables, in their order; [] when all can run.

    Settings under `models` for a name that is not registered are problems too.

    `enabled_models` None enables only the models whose weights are present (plus the
    weights-free ones), so there is nothing to check. With `download`, absent weights are
    fetched now, once, instead of in each partition; offline (HF_HUB_OFFLINE=1, or a hub
    made with offline=True) the hub is never contacted. `models_option` names the command-line
    option that chose the models (``--models``), None when they came from the settings: the
    messages say where to leave a model out.
    """
    entries = registered()
    # Settings for a model that does not exist would be accepted and ignored (a typo).
    problems = [
        WeightsProblem(
            name,
            "unknown_model",
            f"models.{name}: settings for a model that is not registered (a typo?); "
            f"registered: {', '.join(sorted(entries))}",
        )
        for name in settings.models
        if name not in entries
    ]
    problems.extend(scene_detector_problems(settings))
    if settings.enabled_models is None:
        return problems
    hub = hub if hub is not None else ModelHub(settings.paths.model_dir)
    for name in settings.enabled_models:
        entry = entries.get(name)
        if entry is None:
            problems.append(
                WeightsProblem(
                    name,
                    "unknown_model",
                    f"{models_option or 'enabled_models'} names {name!r}, which is not a registered model; "
                    f"registered: {', '.join(sorted(entries))}",
                )
            )
            continue
        if entry.weights is None or hub.status(entry.weights).state == "present":
            continue
        if not download:
            error = hub.not_found_error(entry.weights, "absent", "the files are not on disk (no download was tried)")
            problems.append(WeightsProblem(name, error.reason, _with_way_out(str(error), name, models_option)))
            continue
        try:
            hub.ensure(entry.weights)
        except WeightsNotFoundError as error:
            problems.append(WeightsProblem(name, error.reason, _with_way_out(str(error), name, models_option)))
        except ChecksumMismatchError as error:
            problems.append(WeightsProblem(name, "checksum", _with_way_out(str(error), name, models_option)))
    return problems


def scene_detector_problems(settings: Settings) -> list[WeightsProblem]:
    """The weights of a learned scene detector, checked once too: without them the clips
    step of every partition would fail."""
    clipping = settings.clipping
    if clipping.method != "scene_cut" or clipping.scene_detector != "transnetv2":
        return []
    try:
        transnetv2_weights_path()
    except TransNetV2WeightsUnavailable as error:
        way_out = 'Or pick another detector: clipping.scene_detector "builtin" or "adaptive".'
        return [WeightsProblem("transnetv2", "scene_detector", f"{error}\n{way_out}")]
    return []


def _with_way_out(message: str, model: str, models_option: str | None) -> str:
    if models_option is not None:
        return (
            f"{message}\nOr leave the model out: drop {model!r} from {models_option} "
            f"(or leave {models_option} out: then only the models whose weights are present run)."
        )
    return (
        f"{message}\nOr leave the model out: remove {model!r} from enabled_models in the settings "
        "(or drop enabled_models: then only the models whose weights are present run)."
    )
