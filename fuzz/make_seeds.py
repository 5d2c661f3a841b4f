"""Writes the fuzz seed corpus: small valid model files (a few KB each) covering every layer,
with and without compile settings and a tokenizer, the compiled ones trained for two batches so
they carry optimizer state (Adam, RMSprop centered with momentum, SGD with momentum), plus a few
near-misses.

    python3 fuzz/make_seeds.py [out_dir [json_out_dir]]
        (default fuzz/seeds and fuzz/seeds_json, the latter for fuzz_json.c; needs liblstmkit.so)
"""
import ctypes
import json
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "bindings" / "python"))
from lstmkit import _capi  # noqa: E402

MODELS = {
    "emb_lstm_dense": ({"input_shape": [5], "layers": [
        {"class_name": "Embedding", "config": {"input_dim": 20, "output_dim": 3}},
        {"class_name": "LSTM", "config": {"units": 2}},
        {"class_name": "Dense", "config": {"units": 1, "activation": "sigmoid"}}]},
        {"optimizer": "adam", "loss": "binary_crossentropy", "metrics": ["accuracy"]}),
    "emb_mask_seq": ({"input_shape": [None], "layers": [
        {"class_name": "Embedding", "config": {"input_dim": 9, "output_dim": 2, "mask_zero": True}},
        {"class_name": "LSTM", "config": {"units": 2, "return_sequences": True}},
        {"class_name": "LSTM", "config": {"units": 2}},
        {"class_name": "Dropout", "config": {"rate": 0.5}},
        {"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}]},
        {"optimizer": {"class_name": "adam", "learning_rate": 0.01},
         "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}),
    "dense_only": ({"input_shape": [4], "layers": [
        {"class_name": "Dense", "config": {"units": 3, "activation": "relu"}},
        {"class_name": "Dense", "config": {"units": 2, "activation": "softmax", "use_bias": False}}]},
        None),
    "lstm_float": ({"input_shape": [3, 2], "layers": [
        {"class_name": "LSTM", "config": {"units": 2}},
        {"class_name": "Dense", "config": {"units": 1, "activation": "tanh"}}]},
        {"loss": "mse"}),
    "dense_rmsprop": ({"input_shape": [4], "layers": [
        {"class_name": "Dense", "config": {"units": 2, "activation": "relu"}},
        {"class_name": "Dense", "config": {"units": 1}}]},
        {"optimizer": {"class_name": "rmsprop", "momentum": 0.5, "centered": True}, "loss": "mse"}),
    "gru_sgd": ({"input_shape": [3, 2], "layers": [
        {"class_name": "GRU", "config": {"units": 2}},
        {"class_name": "Dense", "config": {"units": 1, "activation": "sigmoid"}}]},
        {"optimizer": {"class_name": "sgd", "momentum": 0.9}, "loss": "binary_crossentropy"}),
}


def train_briefly(m, config, compile_settings):
    """Two batches, so the seed carries optimizer state (optimizer/<weight>/<slot> tensors and
    lstmkit.optimizer_iterations) for the fuzzer to mutate."""
    import numpy as np
    shape = [4] + [d or 4 for d in config["input_shape"]]
    first = config["layers"][0]
    if first["class_name"] == "Embedding":
        x = (np.arange(int(np.prod(shape))) % first["config"]["input_dim"]).astype(np.int32).reshape(shape)
    else:
        x = np.linspace(-1, 1, int(np.prod(shape)), dtype=np.float32).reshape(shape)
    if compile_settings["loss"] == "sparse_categorical_crossentropy":
        y = np.array([0, 1, 2, 1], dtype=np.int32)
    else:
        y = np.array([0, 1, 0, 1], dtype=np.float32)

    def arr(a):
        dims = (ctypes.c_int64 * a.ndim)(*a.shape)
        return _capi.lstmkit_array(_capi.INT32 if a.dtype == np.int32 else _capi.FLOAT32, a.ndim, dims,
                                   a.ctypes.data_as(ctypes.c_void_p)), dims
    (xa, xd), (ya, yd) = arr(x), arr(y)
    _capi.check(_capi.lstmkit_model_fit(m, ctypes.byref(xa), ctypes.byref(ya),
                                        b'{"epochs": 1, "batch_size": 2, "seed": 1}', _capi.PROGRESS_FN(), None))


def save_model(config, compile_settings, path, tokenizer=None, text=False):
    m = ctypes.c_void_p()
    _capi.check(_capi.lstmkit_model_create(json.dumps(config).encode(), 7, ctypes.byref(m)))
    try:
        if compile_settings is not None:
            _capi.check(_capi.lstmkit_model_compile(m, json.dumps(compile_settings).encode()))
            train_briefly(m, config, compile_settings)
        if tokenizer is not None:
            _capi.check(_capi.lstmkit_model_set_tokenizer(m, tokenizer))
        if text:   # what predict_texts reads: a target tokenizer and text padding
            _capi.check(_capi.lstmkit_model_set_target_tokenizer(m, tokenizer))
            _capi.check(_capi.lstmkit_model_set_text_padding(m, -1, _capi.PAD_POST, _capi.PAD_PRE, 0))
        _capi.check(_capi.lstmkit_model_save(m, str(path).encode()))
    finally:
        _capi.lstmkit_model_free(m)


def tokenizer():
    t = ctypes.c_void_p()
    _capi.check(_capi.lstmkit_tokenizer_create(b'{"num_words": 10, "oov_token": "<unk>"}', ctypes.byref(t)))
    texts, n, _keep = _capi.encode_texts(["the cat sat", "the dog ran", "caf\u00e9 na\u00efve \u65e5\u672c"])
    _capi.check(_capi.lstmkit_tokenizer_fit(t, texts, n))
    return t


def safetensors(header):
    body = json.dumps(header).encode()
    return struct.pack("<Q", len(body)) + body


JSON_SEEDS = [
    (0, MODELS["emb_lstm_dense"][0]), (0, MODELS["emb_mask_seq"][0]), (0, MODELS["dense_only"][0]),
    (0, MODELS["lstm_float"][0]),
    (0, {"layers": [{"class_name": "InputLayer", "config": {"batch_shape": [None, 3, 2]}},
                    {"class_name": "LSTM", "config": {"units": 3, "return_sequences": True}},
                    {"class_name": "Dense", "config": {"units": 2, "activation": "relu"}}]}),
    (1, MODELS["emb_mask_seq"][1]), (1, MODELS["emb_lstm_dense"][1]),
    (2, None), (3, {"num_words": 10, "oov_token": "<unk>", "lower": False, "split": ",",
                    "filters": "", "char_level": False}),
    (3, {"char_level": True}), (4, "Caf\u00e9 na\u00efve \u65e5\u672c, the CAT sat!"),
    (5, {"epochs": 2, "batch_size": 3, "validation_split": 0.25, "shuffle": False, "seed": 4}),
]


def json_seeds(out):
    """Seeds for fuzz_json.c: one selector byte, then the text."""
    out.mkdir(parents=True, exist_ok=True)
    t = tokenizer()
    try:
        buf = ctypes.create_string_buffer(1 << 16)
        needed = ctypes.c_size_t()
        _capi.check(_capi.lstmkit_tokenizer_to_json(t, buf, 1 << 16, ctypes.byref(needed)))
        tokenizer_json = buf.value.decode()
    finally:
        _capi.lstmkit_tokenizer_free(t)
    for i, (selector, value) in enumerate(JSON_SEEDS):
        if selector == 2:
            text = tokenizer_json
        elif selector == 4:
            text = value
        else:
            text = json.dumps(value)
        (out / ("%02d_%d.seed" % (i, selector))).write_bytes(bytes([selector]) + text.encode())


def main(out):
    out.mkdir(parents=True, exist_ok=True)
    for name, (config, compile_settings) in MODELS.items():
        save_model(config, compile_settings, out / (name + ".lstmkit"))
    tok = tokenizer()
    try:
        config, compile_settings = MODELS["emb_lstm_dense"]
        save_model(config, compile_settings, out / "with_tokenizer.lstmkit", tok)
        save_model(config, None, out / "with_text.lstmkit", tok, text=True)
    finally:
        _capi.lstmkit_tokenizer_free(tok)
    # Near misses: a plain safetensors file without our metadata, an empty header, no tensors.
    (out / "foreign.safetensors").write_bytes(
        safetensors({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}) + b"\0\0\x80\x3f")
    (out / "empty_header.safetensors").write_bytes(safetensors({}))
    for p in sorted(out.iterdir()):
        print("%6d  %s" % (p.stat().st_size, p))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "seeds")
    json_seeds(Path(sys.argv[2]) if len(sys.argv) > 2 else HERE / "seeds_json")


def crafted(metadata, tensors=()):
    """A safetensors file with our CRC-32 (over the metadata values in key order, then the data),
    for files the engine itself would never write."""
    import zlib
    data = b"".join(t[2] for t in tensors)
    crc = 0
    for key in sorted(metadata, key=lambda k: k.encode()):
        crc = zlib.crc32(metadata[key].encode(), crc)
    crc = zlib.crc32(data, crc)
    header, offset = {}, 0
    for name, shape, blob in tensors:
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
    header["__metadata__"] = dict(metadata, **{"lstmkit.crc32": "%08x" % crc})
    return safetensors(header) + data


def regressions(out):
    """Valid-checksum files describing models far too large for memory. Before the memory budget
    (Training/MemoryBudget.swift) loading them aborted the process in the weight allocation."""
    out.mkdir(parents=True, exist_ok=True)
    def meta(layers, shape):
        return {"lstmkit.format": "1", "lstmkit.version": "0.1.0",
                "lstmkit.config": json.dumps({"name": "s", "input_shape": shape, "layers": layers}),
                "lstmkit.built_input_shape": json.dumps(shape)}
    (out / "terabyte_embedding.lstmkit").write_bytes(crafted(meta(
        [{"class_name": "Embedding", "config": {"input_dim": 1 << 24, "output_dim": 65536}}], [3])))
    (out / "terabyte_dense.lstmkit").write_bytes(crafted(meta(
        [{"class_name": "Dense", "config": {"units": 1 << 20}}], [1 << 24])))
    (out / "terabyte_lstm.lstmkit").write_bytes(crafted(meta(
        [{"class_name": "LSTM", "config": {"units": 16384}}], [2, 1 << 24])))
