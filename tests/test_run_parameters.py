"""The parameter blocks of one run: every typo refused by name, with the closest allowed key."""

from __future__ import annotations

import re

import pytest
import yaml

from insole_mtl.models.registry import model_option_names
from insole_mtl.pipelines.run_config.nodes import configure_run
from insole_mtl.run_parameters import channel_positions, check_run_parameters, train_config
from insole_mtl.training.weighting import weighting_option_names

from pipelines._project import ROOT


def _base() -> dict[str, dict]:
    params: dict[str, dict] = {}
    for name in ("encoding", "oversampling", "training", "evaluation"):
        params.update(yaml.safe_load((ROOT / "conf" / "base" / f"parameters_{name}.yml").read_text()))
    return {k: params[k] for k in ("oversampling", "recurrence", "model", "loss_weighting", "training", "evaluation")}


def test_the_shipped_parameters_pass():
    base = _base()
    check_run_parameters(**base)
    assert configure_run(**base)[2] == base["model"]


def test_option_names_come_from_the_constructors():
    assert model_option_names("mobilenetv2") == (
        "amplitude_features", "amplitude_linear", "bottlenecks", "checkpoint_activations", "embedding_activation",
        "embedding_dim", "last_channels", "stem_channels", "stem_kernel", "stem_padding",
    )  # fmt: skip
    assert weighting_option_names("dwa") == ("temperature",) and weighting_option_names("uniform") == ()
    with pytest.raises(ValueError, match=re.escape("unknown loss weighting 'gradnorm'; known: ['uniform', 'rlw', 'uncertainty', 'dwa']")):
        weighting_option_names("gradnorm")


@pytest.mark.parametrize(
    ("block", "change", "message"),
    [
        ("oversampling", {"k_neighbours": 5}, "params oversampling: unknown key(s) ['k_neighbours']; allowed: ['enabled', 'k_neighbors', 'kind', 'm_neighbors', 'seed', 'target_ratio'] (did you mean 'k_neighbours' -> 'k_neighbors'?)"),
        ("recurrence", {"resolutoin": 80}, "params recurrence: unknown key(s) ['resolutoin']; allowed: ['chunk_size', 'percentage', 'resolution'] (did you mean 'resolutoin' -> 'resolution'?)"),
        ("model", {"optoins": {}}, "params model: unknown key(s) ['optoins']; allowed: ['force_prior', 'name', 'options', 'tasks'] (did you mean 'optoins' -> 'options'?)"),
        ("evaluation", {"batchsize": 8}, "params evaluation: unknown key(s) ['batchsize']; allowed: ['batch_size', 'device'] (did you mean 'batchsize' -> 'batch_size'?)"),
        ("loss_weighting", {"method": "dwa", "options": {"temprature": 2.0}}, "params loss_weighting.options (dwa): unknown key(s) ['temprature']; allowed: ['temperature'] (did you mean 'temprature' -> 'temperature'?)"),
        ("training", {"max_epoch": 3}, "params training: unknown TrainConfig parameter(s) ['max_epoch']; allowed: "),
        ("training", {"lr_schedule": "step"}, "params training: TrainConfig.lr_schedule"),
        ("training", {"ensemble": 0}, "params training: ensemble must be a positive integer (models trained and averaged), got 0"),
        ("training", {"ensemble": 2, "resume": True}, "params training: ensemble=2 trains 2 models, resume: true continues one training"),
    ],
)
def test_a_typo_in_any_block_is_refused_by_name(block, change, message):
    params = _base()
    params[block] = {**params[block], **change}
    with pytest.raises(ValueError, match=re.escape(message)):
        configure_run(**params)


def test_force_scaling_with_a_model_blind_to_the_raw_window_is_refused_before_any_stage():
    params = _base()
    params["training"] = {**params["training"], "force_scaling": {"half_width": 0.2, "tasks": ["weight"]}}
    check_run_parameters(**params)  # the default MobileNetV2 reads the raw window's amplitude statistics
    params["model"] = {**params["model"], "options": {**params["model"]["options"], "amplitude_features": False}}
    with pytest.raises(ValueError, match=re.escape("params training.force_scaling rescales the raw window, but model 'mobilenetv2' with these options does not read it: use a raw-signal model or model.options.amplitude_features: true")):
        configure_run(**params)
    params["model"] = {"name": "mobilenetv2", "options": {}, "tasks": ["weight"]}  # the constructor's default: off
    with pytest.raises(ValueError, match=re.escape("training.force_scaling rescales the raw window")):
        check_run_parameters(**params)
    params["model"] = {"name": "gru", "options": {}, "tasks": ["weight"]}
    check_run_parameters(**params)


def test_model_options_are_checked_against_the_chosen_model():
    params = _base()
    params["model"] = {**params["model"], "options": {**params["model"]["options"], "stem_kernal": 3}}
    with pytest.raises(ValueError, match=re.escape("params model.options (mobilenetv2): unknown key(s) ['stem_kernal']; allowed: ['amplitude_features', 'amplitude_linear', 'bottlenecks', 'checkpoint_activations', 'embedding_activation', 'embedding_dim', 'last_channels', 'stem_channels', 'stem_kernel', 'stem_padding'] (did you mean 'stem_kernal' -> 'stem_kernel'?)")):
        configure_run(**params)
    # MobileNetV2's options mean nothing to an LSTM
    params["model"] = {"name": "lstm", "options": {"bottlenecks": 4}, "tasks": ["activity"]}
    with pytest.raises(ValueError, match=re.escape("params model.options (lstm): unknown key(s) ['bottlenecks']; allowed: [")):
        configure_run(**params)


def test_force_scaling_channels_become_positions_in_the_runs_channels():
    training = {**_base()["training"], "force_scaling": {"half_width": 0.2, "tasks": ["weight"], "channels": ["fsr2_R", "fsr1_L"]}}
    channels = ["x_R", "fsr1_R", "fsr2_R", "fsr1_L"]
    assert train_config(training, channels).force_scaling == {"half_width": 0.2, "tasks": ["weight"], "channels": [2, 3]}
    assert train_config(training).force_scaling["channels"] is None  # the parameter check: the form only
    every = {**training, "force_scaling": {"half_width": 0.2, "tasks": ["weight"], "channels": "all"}}
    assert train_config(every, channels).force_scaling["channels"] is None
    assert channel_positions("training.force_scaling.channels", "all", channels) is None


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["fsr3_R"], "training.force_scaling.channels ['fsr3_R'] are not among the model's channels ['x_R', 'fsr1_R']"),
        ("fsr1_R", "training.force_scaling.channels must be 'all' or a list of channel names, got 'fsr1_R'"),
        ([], "training.force_scaling.channels must be 'all' or a list of channel names, got []"),
        (["fsr1_R", "x_R", "fsr1_R"], "training.force_scaling.channels lists ['fsr1_R'] more than once"),
        ([1], "training.force_scaling.channels must be 'all' or a list of channel names, got [1]"),
    ],
)
def test_force_scaling_channels_are_checked_by_name(names, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        channel_positions("training.force_scaling.channels", names, ["x_R", "fsr1_R"])
    if names != ["fsr3_R"]:  # the form is checked before the run's channels are known too
        with pytest.raises(ValueError, match=re.escape(message)):
            channel_positions("training.force_scaling.channels", names, None)


def test_a_force_scaling_channel_list_of_the_wrong_form_is_refused_before_any_stage():
    params = _base()
    params["model"] = {**params["model"], "name": "cnn1d", "options": {}}
    params["training"] = {**params["training"], "force_scaling": {"half_width": 0.2, "tasks": ["weight"], "channels": "fsr1_R"}}
    message = "params training: training.force_scaling.channels must be 'all' or a list of channel names, got 'fsr1_R'"
    with pytest.raises(ValueError, match=re.escape(message)):
        configure_run(**params)
