"""GraphDocument.set_training: the graph's training section as one undoable edit."""

from __future__ import annotations

import copy


from builder import load_graph
from gui.document import GraphDocument


def with_changes(section: dict | None, **changes) -> dict:
    new = copy.deepcopy(section or {})
    new.update(changes)
    return new


def test_set_training_is_one_step_and_undo_redo_restore_exactly(lenet, qtbot):
    original = copy.deepcopy(lenet.graph.training)
    assert original["data"] == {"name": "digits"}
    new = with_changes(original, epochs=3, clip_norm=1.0)
    with qtbot.waitSignal(lenet.trainingChanged):
        assert lenet.set_training(new)
    assert lenet.graph.training == new
    assert lenet.undo_stack.count() == 1 and lenet.is_modified
    assert lenet.undo_stack.undoText() == "Change the training settings"
    with qtbot.waitSignal(lenet.trainingChanged):
        lenet.undo_stack.undo()
    assert lenet.graph.training == original and list(lenet.graph.training) == list(original)
    assert not lenet.is_modified
    with qtbot.waitSignal(lenet.trainingChanged):
        lenet.undo_stack.redo()
    assert lenet.graph.training == new and list(lenet.graph.training) == list(new)


def test_the_document_keeps_its_own_copy(lenet):
    new = with_changes(lenet.graph.training, data={"name": "digits", "limit": 100})
    lenet.set_training(new)
    new["data"]["limit"] = 5
    assert lenet.graph.training["data"]["limit"] == 100


def test_no_change_is_no_step(lenet):
    assert not lenet.set_training(copy.deepcopy(lenet.graph.training))
    assert lenet.undo_stack.count() == 0
    # a different type is a change (lr: 1 is written differently from lr: 1.0)
    assert lenet.set_training(with_changes(lenet.graph.training, lr=1))
    assert lenet.set_training(with_changes(lenet.graph.training, lr=1.0))


def test_consecutive_changes_of_one_setting_merge(lenet):
    original = copy.deepcopy(lenet.graph.training)
    for epochs in (11, 12, 13):
        lenet.set_training(with_changes(lenet.graph.training, epochs=epochs))
    assert lenet.undo_stack.count() == 1 and lenet.undo_stack.undoText() == "Set training epochs"
    lenet.set_training(with_changes(lenet.graph.training, lr=0.01))
    assert lenet.undo_stack.count() == 2
    lenet.undo_stack.undo()
    assert lenet.graph.training["epochs"] == 13 and lenet.graph.training["lr"] == 0.001
    lenet.undo_stack.undo()
    assert lenet.graph.training == original


def test_a_change_that_ends_where_it_started_leaves_no_step(lenet):
    lenet.set_training(with_changes(lenet.graph.training, epochs=11))
    lenet.set_training(with_changes(lenet.graph.training, epochs=10))
    assert lenet.undo_stack.count() == 0 and not lenet.is_modified


def test_remove_and_add_the_section(qapp, lenet):
    original = copy.deepcopy(lenet.graph.training)
    assert lenet.set_training(None)
    assert lenet.graph.training is None and lenet.undo_stack.undoText() == "Remove the training settings"
    lenet.undo_stack.undo()
    assert lenet.graph.training == original

    bare = GraphDocument()
    assert bare.graph.training is None
    bare.set_training({"data": {"name": "digits"}})
    bare.undo_stack.undo()
    assert bare.graph.training is None


def test_the_analysis_is_not_redone(lenet, qtbot):
    analysis = lenet.analysis
    with qtbot.assertNotEmitted(lenet.analysisChanged):
        lenet.set_training(with_changes(lenet.graph.training, epochs=2))
        lenet.undo_stack.undo()
    assert lenet.analysis is analysis


def test_save_writes_the_section_keeps_comments_and_loads_back(lenet, tmp_path):
    new = with_changes(lenet.graph.training, epochs=3, clip_norm=0.5, data={"name": "digits", "limit": 200},
                       custom_key="kept")
    lenet.set_training(new)
    target = lenet.save(tmp_path / "lenet5.yaml")
    assert not lenet.is_modified
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# LeNet-5 (LeCun, Bottou, Bengio, Haffner")
    assert "# C1 + S2: six 5x5 filters" in text
    assert "# Trains on scikit-learn's bundled handwritten digits" in text
    assert "clip_norm: 0.5" in text
    loaded = load_graph(target)
    assert loaded.training == new and list(loaded.training) == list(new)
    assert loaded == lenet.graph

    lenet.set_training(None)
    lenet.save()
    assert "training:" not in target.read_text(encoding="utf-8")
    assert "# LeNet-5 (LeCun" in target.read_text(encoding="utf-8")
    assert load_graph(target).training is None
