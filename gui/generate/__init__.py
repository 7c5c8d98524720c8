"""The Generate panel: a trained decoder run (seq2seq, captioner, character language model)
writes sequences from an input the user types or picks, greedy, sampled or by beam search,
with the attention map beside the output (docs/editor.md, docs/sequences.md).

:mod:`.dock` puts the panel in the window on first use, :mod:`.panel` is the panel,
:mod:`.jobs` the work it runs on its worker thread (builder's ``open_generator``), and
:mod:`.decoder_check` answers "can this run generate?" for the runs list without torch.
"""
