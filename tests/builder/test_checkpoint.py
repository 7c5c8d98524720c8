

def test_safetensors_with_a_header_length_that_looks_like_a_pickle_is_read(tmp_path):
    """A 640-byte header starts the file with 0x80 0x02, the bytes of a pickle."""
    import json as _json
    import struct

    import torch as _torch
    from safetensors.torch import save as _save

    from builder.training.checkpoint import _looks_pickled

    for name_length in range(1, 700):
        data = _save({"w" * name_length: _torch.zeros(1)})
        if data[:2] == b"\x80\x02":
            break
    else:
        raise AssertionError("no safetensors file with a 640-byte header found")
    assert struct.unpack("<Q", data[:8])[0] == 640 and _json.loads(data[8:648])
    assert not _looks_pickled(data)
    import pickle

    assert _looks_pickled(pickle.dumps({"a": 1}, protocol=2))
    assert _looks_pickled(pickle.dumps({"a": 1}, protocol=5))
