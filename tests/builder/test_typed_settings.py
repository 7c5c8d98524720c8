"""The typed training settings (builder/training/typed_settings.py) and their declarations
(builder/training/settings.py) cannot drift apart."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from blocks.params import Bool, Choice, Float, Int
from builder.training import typed_settings
from builder.training.settings import DATA_KEY, TRAINING_SETTINGS, resolve_settings
from builder.training.typed_settings import TrainingSettings, declared_names, field_names, settings_object

HINTS = typing.get_type_hints(TrainingSettings, vars(typed_settings))


def test_every_declared_setting_has_a_field_and_every_field_a_declaration():
    assert set(field_names()) == set(declared_names()) == set(TRAINING_SETTINGS) | {DATA_KEY}
    assert len(field_names()) == len(declared_names())


def test_the_fields_types_match_the_declarations():
    kinds = {Int: int, Float: float, Bool: bool, Choice: str}
    for name, decl in TRAINING_SETTINGS.items():
        allowed = typing.get_args(HINTS[name]) or (HINTS[name],)
        expected = kinds.get(type(decl))
        if expected is not None:
            assert expected in allowed, (name, HINTS[name])
        if getattr(decl, "optional", False):
            assert type(None) in allowed, f"{name} is optional: its field must allow None"


def test_from_dict_reads_resolved_settings():
    resolved = resolve_settings({"data": {"name": "digits"}, "clip_norm": 1.0}, {"epochs": 3})
    config = TrainingSettings.from_dict(resolved)
    assert config == settings_object(resolved)
    assert dataclasses.asdict(config) == resolved
    assert config.clip_norm == 1.0 and config.epochs == 3 and config.clipping
    assert config.data == {"name": "digits"}
    assert not TrainingSettings.from_dict(resolve_settings({})).clipping
    for name, value in resolved.items():  # each resolved value fits its field's type
        hint = HINTS[name]
        allowed = tuple(getattr(t, "__origin__", t) for t in (typing.get_args(hint) or (hint,)))
        assert isinstance(value, allowed), (name, value, hint)


def test_the_typed_settings_are_frozen():
    config = TrainingSettings.from_dict(resolve_settings({}))
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lr = 0.1  # type: ignore[misc]


def test_from_dict_refuses_settings_that_do_not_match_the_declarations():
    resolved = resolve_settings({})
    incomplete = {k: v for k, v in resolved.items() if k != "clip_norm"}
    with pytest.raises(ValueError, match="missing clip_norm"):
        TrainingSettings.from_dict(incomplete)
    with pytest.raises(ValueError, match="unknown colour"):
        TrainingSettings.from_dict({**resolved, "colour": "red"})
