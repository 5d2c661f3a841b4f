"""Bad input through the raw C ABI: every case asserts the exact status, that a failure comes
with a message, and that the process is still healthy afterwards (a reference prediction on a
separate model still gives the same numbers).

The cases are plain functions returning a status, collected in CASES with the status expected;
pytest parametrizes over them. Nothing here goes through the Keras-shaped classes.
"""

import ctypes
import json
import os
from ctypes import POINTER, byref, c_char, c_char_p, c_double, c_float, c_int32, c_int64, c_size_t, c_void_p

import numpy as np
import pytest

from lstmkit import _capi as C

OK, ARG, CFG, STATE, IO, FMT, MEM, SMALL = (C.OK, C.E_INVALID_ARGUMENT, C.E_BAD_CONFIG,
                                            C.E_WRONG_STATE, C.E_IO, C.E_FORMAT, C.E_NO_MEMORY,
                                            C.E_BUFFER_TOO_SMALL)
NULL = None

# ---- building blocks -----------------------------------------------------------------------

DENSE_CFG = {"input_shape": [4], "layers": [
    {"class_name": "Dense", "config": {"units": 2, "activation": "softmax"}}]}
EMB_CFG = {"input_shape": [5], "layers": [
    {"class_name": "Embedding", "config": {"input_dim": 10, "output_dim": 3}},
    {"class_name": "LSTM", "config": {"units": 2}},
    {"class_name": "Dense", "config": {"units": 1, "activation": "sigmoid"}}]}
BINARY = b'{"optimizer": "adam", "loss": "binary_crossentropy", "metrics": ["accuracy"]}'
SPARSE = b'{"optimizer": "adam", "loss": "sparse_categorical_crossentropy"}'


def create(cfg, seed=1):
    """A new model handle (an int), or raises."""
    text = cfg if isinstance(cfg, bytes) else json.dumps(cfg).encode()
    out = c_void_p()
    C.check(C.lstmkit_model_create(text, seed, byref(out)))
    return out.value


def create_status(text):
    out = c_void_p(12345)
    status = C.lstmkit_model_create(text if isinstance(text, bytes) else json.dumps(text).encode(),
                                    0, byref(out))
    if status == OK:
        C.lstmkit_model_free(out)
    else:
        assert out.value is None, "a failed create must leave *out NULL"
    return status


class Arr:
    """An lstmkit_array over a numpy array (kept alive with it); fields can be overridden."""

    def __init__(self, a, dtype=None, ndim=None, shape=None, data=None, null_shape=False,
                 null_data=False):
        self.a = np.ascontiguousarray(a)
        dims = list(self.a.shape) if shape is None else list(shape)
        self.shape = (c_int64 * max(len(dims), 1))(*dims)
        code = {np.dtype(np.float32): C.FLOAT32, np.dtype(np.int32): C.INT32}.get(self.a.dtype, 99)
        self.s = C.lstmkit_array(code if dtype is None else dtype,
                                 len(dims) if ndim is None else ndim,
                                 None if null_shape else self.shape,
                                 None if null_data else self.a.ctypes.data_as(c_void_p))

    @property
    def ref(self):
        return byref(self.s)


def f32(*shape, fill=0.5):
    return np.full(shape, fill, np.float32)


def ids(*shape, fill=1):
    return np.full(shape, fill, np.int32)


class Fixtures:
    """Handles shared by the cases; rebuilt lazily if a case broke one."""

    def __init__(self):
        self.dense = create(DENSE_CFG)                 # compiled, sparse labels
        C.check(C.lstmkit_model_compile(self.dense, SPARSE))
        self.emb = create(EMB_CFG)                     # compiled, binary labels
        C.check(C.lstmkit_model_compile(self.emb, BINARY))
        self.raw = create(DENSE_CFG)                   # never compiled
        self.lazy = create({"layers": [{"class_name": "Dense", "config": {"units": 1}}]})  # no input shape
        tok = c_void_p()
        C.check(C.lstmkit_tokenizer_create(None, byref(tok)))
        self.tok = tok.value
        texts, n, _ = C.encode_texts(["the cat sat on the mat", "the dog"])
        C.check(C.lstmkit_tokenizer_fit(self.tok, texts, n))
        freed = create(DENSE_CFG)
        C.lstmkit_model_free(freed)
        self.freed = freed
        tfreed = c_void_p()
        C.check(C.lstmkit_tokenizer_create(None, byref(tfreed)))
        C.lstmkit_tokenizer_free(tfreed)
        self.tok_freed = tfreed.value
        self.foreign_buf = ctypes.create_string_buffer(256)   # memory that is not a handle
        self.foreign = ctypes.addressof(self.foreign_buf)


_fx = None


def fx():
    global _fx
    if _fx is None:
        _fx = Fixtures()
    return _fx


HANDLES = {
    "null": lambda: None,
    "freed": lambda: fx().freed,
    "foreign": lambda: fx().foreign,
    "small_int": lambda: 8,
    "wrong_type": lambda: fx().tok,
}
TOKENIZER_HANDLES = {
    "null": lambda: None,
    "freed": lambda: fx().tok_freed,
    "foreign": lambda: fx().foreign,
    "wrong_type": lambda: fx().dense,
}

# ---- the reference the health check compares with ------------------------------------------

_REF_X = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
_ref = {}


def reference_prediction():
    m = create(DENSE_CFG, seed=42)
    try:
        x = Arr(_REF_X)
        out = (c_float * 6)()
        n = c_size_t()
        C.check(C.lstmkit_model_predict(m, x.ref, 2, out, 6, byref(n), None, 0, None))
        return list(out)
    finally:
        C.lstmkit_model_free(m)


def assert_healthy():
    if "x" not in _ref:
        _ref["x"] = reference_prediction()
    assert reference_prediction() == _ref["x"]


# ---- the cases -----------------------------------------------------------------------------

CASES = []


def case(name, expected, fn):
    CASES.append(pytest.param(expected, fn, id=name))


def buf(n):
    return ctypes.create_string_buffer(n)


def sz():
    return byref(c_size_t())


def predict(h, x, batch=8, cap=64, out=True, shape_out=None, shape_cap=0):
    o = (c_float * max(cap, 1))() if out else None
    return C.lstmkit_model_predict(h, x, batch, o, cap if out else 0, sz(), shape_out, shape_cap,
                                   None)


def fit(h, x, y, options=b'{"epochs": 1, "batch_size": 2}', progress=None):
    return C.lstmkit_model_fit(h, x, y, options, progress or C.PROGRESS_FN(), None)


def evaluate(h, x, y, batch=4, cap=4):
    return C.lstmkit_model_evaluate(h, x, y, batch, (c_double * max(cap, 1))(), cap, sz())


def dx(rows=4):
    return Arr(f32(rows, 4))


def dy(rows=4):
    return Arr(ids(rows, fill=1))


def ex(rows=4):
    return Arr(ids(rows, 5, fill=3))


def ey(rows=4):
    return Arr(f32(rows, fill=1.0))


# 1. Every handle-taking function, with each kind of bad handle.
MODEL_CALLS = {
    "compile": lambda h: C.lstmkit_model_compile(h, BINARY),
    "summary": lambda h: C.lstmkit_model_summary(h, buf(4096), 4096, sz()),
    "config": lambda h: C.lstmkit_model_config(h, buf(4096), 4096, sz()),
    "count_params": lambda h: C.lstmkit_model_count_params(h, byref(c_int64())),
    "input_spec": lambda h: C.lstmkit_model_input_spec(h, (c_int64 * 8)(), 8, byref(c_int32()), byref(c_int32())),
    "fit": lambda h: fit(h, dx().ref, dy().ref),
    "evaluate": lambda h: evaluate(h, dx().ref, dy().ref),
    "predict": lambda h: predict(h, dx().ref),
    "weight_count": lambda h: C.lstmkit_model_weight_count(h, byref(c_int32())),
    "weight_info": lambda h: C.lstmkit_model_weight_info(h, 0, buf(64), 64, sz(), (c_int64 * 8)(), 8, byref(c_int32())),
    "get_weight": lambda h: C.lstmkit_model_get_weight(h, 0, (c_float * 64)(), 64, sz()),
    "set_weight": lambda h: C.lstmkit_model_set_weight(h, 0, (c_float * 8)(), 8),
    "save": lambda h: C.lstmkit_model_save(h, b"/tmp/lstmkit-never-written.lstmkit"),
    "set_tokenizer": lambda h: C.lstmkit_model_set_tokenizer(h, fx().tok),
    "get_tokenizer": lambda h: C.lstmkit_model_get_tokenizer(h, byref(c_void_p())),
}
for fname, call in MODEL_CALLS.items():
    for hname, handle in HANDLES.items():
        case("model_%s-%s_handle" % (fname, hname), ARG, (lambda c, h: lambda: c(h()))(call, handle))

TOKENIZER_CALLS = {
    "fit": lambda h: C.lstmkit_tokenizer_fit(h, *C.encode_texts(["a b"])[:2]),
    "texts_to_sequences": lambda h: C.lstmkit_tokenizer_texts_to_sequences(
        h, *C.encode_texts(["a b"])[:2], (c_int32 * 8)(), 8, sz(), (c_int64 * 2)()),
    "to_json": lambda h: C.lstmkit_tokenizer_to_json(h, buf(4096), 4096, sz()),
    "set_on_model": lambda h: C.lstmkit_model_set_tokenizer(fx().emb, h),
}
for fname, call in TOKENIZER_CALLS.items():
    for hname, handle in TOKENIZER_HANDLES.items():
        if (fname, hname) == ("set_on_model", "null"):
            continue   # NULL detaches: a valid call, covered below
        case("tokenizer_%s-%s_handle" % (fname, hname), ARG, (lambda c, h: lambda: c(h()))(call, handle))


def freeing(fn, h):
    fn(h)
    return OK


for hname in ("null", "freed", "foreign", "small_int"):
    case("model_free-%s_is_harmless" % hname, OK, (lambda h: lambda: freeing(C.lstmkit_model_free, h()))(HANDLES[hname]))
    case("tokenizer_free-%s_is_harmless" % hname, OK,
         (lambda h: lambda: freeing(C.lstmkit_tokenizer_free, h()))(HANDLES[hname]))
case("model_free-tokenizer_handle_is_refused_and_kept", OK,
     lambda: (C.lstmkit_model_free(fx().tok), C.lstmkit_tokenizer_to_json(fx().tok, None, 0, sz()))[1])
case("tokenizer_free-model_handle_is_refused_and_kept", OK,
     lambda: (C.lstmkit_tokenizer_free(fx().dense), C.lstmkit_model_count_params(fx().dense, byref(c_int64())))[1])


def double_free():
    m = create(DENSE_CFG)
    C.lstmkit_model_free(m)
    C.lstmkit_model_free(m)
    return C.lstmkit_model_count_params(m, byref(c_int64()))


def freed_handle_not_confused_with_new():
    # Memory of a freed model is reused at once by the next one; its handle must stay dead.
    a = create(DENSE_CFG)
    C.lstmkit_model_free(a)
    b = create(EMB_CFG)
    try:
        assert a != b
        return C.lstmkit_model_count_params(a, byref(c_int64()))
    finally:
        C.lstmkit_model_free(b)


case("double_free_then_use", ARG, double_free)
case("freed_handle_not_reused_by_next_create", ARG, freed_handle_not_confused_with_new)

# 2. NULL pointers other than handles.
case("create-null_config", ARG, lambda: C.lstmkit_model_create(None, 0, byref(c_void_p())))
case("create-null_out", ARG, lambda: C.lstmkit_model_create(json.dumps(DENSE_CFG).encode(), 0, None))
case("compile-null_json", ARG, lambda: C.lstmkit_model_compile(fx().raw, None))
case("summary-null_buf_with_capacity", ARG, lambda: C.lstmkit_model_summary(fx().dense, None, 100, sz()))
case("summary-query_size", OK, lambda: C.lstmkit_model_summary(fx().dense, None, 0, sz()))
case("summary-query_without_needed", OK, lambda: C.lstmkit_model_summary(fx().dense, None, 0, None))
case("config-null_buf_with_capacity", ARG, lambda: C.lstmkit_model_config(fx().dense, None, 10, sz()))
case("count_params-null_out", ARG, lambda: C.lstmkit_model_count_params(fx().dense, None))
case("input_spec-all_outputs_null", OK, lambda: C.lstmkit_model_input_spec(fx().dense, None, 0, None, None))
case("fit-null_x", ARG, lambda: fit(fx().dense, None, dy().ref))
case("fit-null_y", ARG, lambda: fit(fx().dense, dx().ref, None))
case("fit-null_options_means_defaults", OK, lambda: fit(fx().dense, dx().ref, dy().ref, options=None))
case("fit-null_progress", OK, lambda: C.lstmkit_model_fit(fx().dense, dx().ref, dy().ref, None, C.PROGRESS_FN(), None))
case("evaluate-null_x", ARG, lambda: evaluate(fx().dense, None, dy().ref))
case("evaluate-null_y", ARG, lambda: evaluate(fx().dense, dx().ref, None))
case("evaluate-null_results_with_capacity", ARG,
     lambda: C.lstmkit_model_evaluate(fx().dense, dx().ref, dy().ref, 4, None, 4, sz()))
case("evaluate-query_count", OK, lambda: C.lstmkit_model_evaluate(fx().dense, dx().ref, dy().ref, 4, None, 0, sz()))
case("predict-null_x", ARG, lambda: predict(fx().dense, None))
case("predict-null_out_with_capacity", ARG,
     lambda: C.lstmkit_model_predict(fx().dense, dx().ref, 4, None, 8, sz(), None, 0, None))
case("predict-query_count", OK, lambda: C.lstmkit_model_predict(fx().dense, dx().ref, 4, None, 0, sz(), None, 0, None))
case("weight_count-null_out", ARG, lambda: C.lstmkit_model_weight_count(fx().dense, None))
case("weight_info-null_name_with_capacity", ARG,
     lambda: C.lstmkit_model_weight_info(fx().dense, 0, None, 10, sz(), None, 0, None))
case("get_weight-null_out_with_capacity", ARG, lambda: C.lstmkit_model_get_weight(fx().dense, 0, None, 8, sz()))
case("set_weight-null_values", ARG, lambda: C.lstmkit_model_set_weight(fx().dense, 0, None, 8))
case("save-null_path", ARG, lambda: C.lstmkit_model_save(fx().dense, None))
case("save-empty_path", ARG, lambda: C.lstmkit_model_save(fx().dense, b""))
case("load-null_path", ARG, lambda: C.lstmkit_model_load(None, byref(c_void_p())))
case("load-empty_path", ARG, lambda: C.lstmkit_model_load(b"", byref(c_void_p())))
case("load-null_out", ARG, lambda: C.lstmkit_model_load(b"/nonexistent", None))
case("get_tokenizer-null_out", ARG, lambda: C.lstmkit_model_get_tokenizer(fx().dense, None))
case("set_tokenizer-null_detaches", OK, lambda: C.lstmkit_model_set_tokenizer(fx().raw, None))
case("tokenizer_create-null_out", ARG, lambda: C.lstmkit_tokenizer_create(None, None))
case("tokenizer_create-null_options_means_defaults", OK,
     lambda: (lambda o: (C.lstmkit_tokenizer_create(None, byref(o)), C.lstmkit_tokenizer_free(o))[0])(c_void_p()))
case("tokenizer_fit-null_texts", ARG, lambda: C.lstmkit_tokenizer_fit(fx().tok, None, 2))
case("tokenizer_fit-null_texts_n0", OK, lambda: C.lstmkit_tokenizer_fit(fx().tok, None, 0))
case("tokenizer_fit-null_text_inside", ARG, lambda: C.lstmkit_tokenizer_fit(fx().tok, (c_char_p * 2)(b"a", None), 2))
case("texts_to_sequences-null_texts", ARG,
     lambda: C.lstmkit_tokenizer_texts_to_sequences(fx().tok, None, 1, None, 0, sz(), None))
case("texts_to_sequences-null_offsets_with_ids", ARG,
     lambda: C.lstmkit_tokenizer_texts_to_sequences(fx().tok, *C.encode_texts(["the cat"])[:2], (c_int32 * 8)(), 8, sz(), None))
case("texts_to_sequences-null_ids_with_capacity", ARG,
     lambda: C.lstmkit_tokenizer_texts_to_sequences(fx().tok, *C.encode_texts(["the cat"])[:2], None, 8, sz(), (c_int64 * 2)()))
case("to_json-null_buf_with_capacity", ARG, lambda: C.lstmkit_tokenizer_to_json(fx().tok, None, 10, sz()))
case("from_json-null_json", ARG, lambda: C.lstmkit_tokenizer_from_json(None, byref(c_void_p())))
case("from_json-null_out", ARG, lambda: C.lstmkit_tokenizer_from_json(b"{}", None))


def pad(ids_=(1, 2, 3), offsets=(0, 2, 3), n=None, maxlen=4, padding=0, truncating=0, cap=None,
        null_ids=False, null_offsets=False, null_out=False):
    n = len(offsets) - 1 if n is None else n
    cap = n * maxlen if cap is None and maxlen > 0 else (cap or 0)
    i = (c_int32 * max(len(ids_), 1))(*ids_)
    o = (c_int64 * len(offsets))(*offsets)
    out = (c_int32 * max(cap, 1))()
    return C.lstmkit_pad_sequences(None if null_ids else i, None if null_offsets else o, n, maxlen,
                                   padding, truncating, 0, None if null_out else out, cap)


case("pad-valid", OK, lambda: pad())
case("pad-null_ids", ARG, lambda: pad(null_ids=True))
case("pad-null_ids_no_ids_is_fine", OK, lambda: pad(ids_=(), offsets=(0, 0), null_ids=True))
case("pad-null_offsets", ARG, lambda: pad(null_offsets=True))
case("pad-null_out", ARG, lambda: pad(null_out=True))
case("pad-maxlen_0", ARG, lambda: pad(maxlen=0))
case("pad-maxlen_negative", ARG, lambda: pad(maxlen=-3))
case("pad-maxlen_huge", ARG, lambda: pad(maxlen=1 << 40, cap=8))
case("pad-padding_2", ARG, lambda: pad(padding=2))
case("pad-truncating_negative", ARG, lambda: pad(truncating=-1))
case("pad-offsets_not_starting_at_0", ARG, lambda: pad(offsets=(1, 2, 3)))
case("pad-offsets_decreasing", ARG, lambda: pad(ids_=(1, 2, 3), offsets=(0, 3, 2)))
case("pad-offsets_last_negative", ARG, lambda: pad(offsets=(0, 1, -1)))
case("pad-capacity_too_small", SMALL, lambda: pad(cap=3))
case("pad-n_0", OK, lambda: pad(ids_=(), offsets=(0,), cap=0))
case("pad-n_negative_as_size_t", ARG, lambda: pad(n=-1 & 0xFFFFFFFFFFFFFFFF, offsets=(0,), cap=1))

# 3. Arrays: dtype, rank, shape, data.
ARRAY_CASES = {
    "dtype_0": lambda: Arr(f32(4, 4), dtype=0),
    "dtype_3": lambda: Arr(f32(4, 4), dtype=3),
    "dtype_negative": lambda: Arr(f32(4, 4), dtype=-1),
    "ndim_0": lambda: Arr(f32(4, 4), ndim=0),
    "ndim_negative": lambda: Arr(f32(4, 4), ndim=-2),
    "ndim_9": lambda: Arr(f32(4, 4), ndim=9, shape=[4, 4, 1, 1, 1, 1, 1, 1, 1]),
    "ndim_huge": lambda: Arr(f32(4, 4), ndim=1 << 30),
    "null_shape": lambda: Arr(f32(4, 4), null_shape=True),
    "null_data": lambda: Arr(f32(4, 4), null_data=True),
    "zero_dim": lambda: Arr(f32(4, 4), shape=[0, 4]),
    "empty_dataset": lambda: Arr(np.zeros((0, 4), np.float32)),
    "negative_dim": lambda: Arr(f32(4, 4), shape=[4, -4]),
    "overflowing_shape": lambda: Arr(f32(4, 4), shape=[1 << 62, 1 << 62]),
    "over_2_40_elements": lambda: Arr(f32(4, 4), shape=[1 << 21, 1 << 21]),
}
for aname, make in ARRAY_CASES.items():
    case("predict-x_%s" % aname, ARG, (lambda mk: lambda: predict(fx().dense, mk().ref))(make))
    case("fit-x_%s" % aname, ARG, (lambda mk: lambda: fit(fx().dense, mk().ref, dy().ref))(make))
    case("evaluate-y_%s" % aname, ARG, (lambda mk: lambda: evaluate(fx().emb, ex().ref, mk().ref))(make))

# 4. Shapes and values that do not suit the model.
case("predict-x_rank_1", ARG, lambda: predict(fx().dense, Arr(f32(4)).ref))
case("predict-x_wrong_features", ARG, lambda: predict(fx().dense, Arr(f32(4, 5)).ref))
case("predict-x_extra_rank", ARG, lambda: predict(fx().dense, Arr(f32(4, 4, 1)).ref))
case("predict-x_nan", ARG, lambda: predict(fx().dense, Arr(np.array([[1, 2, np.nan, 4]], np.float32)).ref))
case("predict-x_inf", ARG, lambda: predict(fx().dense, Arr(np.array([[1, 2, np.inf, 4]], np.float32)).ref))
case("predict-x_neg_inf", ARG, lambda: predict(fx().dense, Arr(np.array([[-np.inf, 2, 3, 4]], np.float32)).ref))
case("predict-ids_equal_input_dim", ARG, lambda: predict(fx().emb, Arr(ids(2, 5, fill=10)).ref))
case("predict-ids_huge", ARG, lambda: predict(fx().emb, Arr(ids(2, 5, fill=2 ** 31 - 1)).ref))
case("predict-ids_negative", ARG, lambda: predict(fx().emb, Arr(ids(2, 5, fill=-1)).ref))
case("predict-ids_int_min", ARG, lambda: predict(fx().emb, Arr(ids(2, 5, fill=-2 ** 31)).ref))
case("predict-ids_as_fractional_floats", ARG, lambda: predict(fx().emb, Arr(f32(2, 5, fill=1.5)).ref))
case("predict-ids_as_nan_floats", ARG, lambda: predict(fx().emb, Arr(f32(2, 5, fill=np.nan)).ref))
case("predict-ids_as_whole_floats", OK, lambda: predict(fx().emb, Arr(f32(2, 5, fill=3.0)).ref))
case("predict-ids_wrong_length", ARG, lambda: predict(fx().emb, Arr(ids(2, 6)).ref))
case("predict-ids_rank_3", ARG, lambda: predict(fx().emb, Arr(ids(2, 5, 1)).ref))
case("predict-batch_0", ARG, lambda: predict(fx().dense, dx().ref, batch=0))
case("predict-batch_negative", ARG, lambda: predict(fx().dense, dx().ref, batch=-1))
case("predict-batch_larger_than_data", OK, lambda: predict(fx().dense, dx(3).ref, batch=1000))
case("predict-uncompiled_model_is_allowed", OK, lambda: predict(fx().raw, dx().ref))
case("predict-model_without_input_shape_builds", OK, lambda: predict(fx().lazy, Arr(f32(2, 7)).ref))
case("fit-x_y_rows_differ", ARG, lambda: fit(fx().dense, dx(4).ref, dy(3).ref))
case("fit-y_more_rows", ARG, lambda: fit(fx().dense, dx(2).ref, dy(5).ref))
case("fit-sparse_label_out_of_range", ARG, lambda: fit(fx().dense, dx().ref, Arr(ids(4, fill=2)).ref))
case("fit-sparse_label_negative", ARG, lambda: fit(fx().dense, dx().ref, Arr(ids(4, fill=-1)).ref))
case("fit-sparse_label_fractional", ARG, lambda: fit(fx().dense, dx().ref, Arr(f32(4, fill=0.5)).ref))
case("fit-sparse_label_nan", ARG, lambda: fit(fx().dense, dx().ref, Arr(f32(4, fill=np.nan)).ref))
case("fit-sparse_label_wrong_shape", ARG, lambda: fit(fx().dense, dx().ref, Arr(ids(4, 2)).ref))
case("fit-binary_label_nan", ARG, lambda: fit(fx().emb, ex().ref, Arr(f32(4, fill=np.nan)).ref))
case("fit-binary_label_inf", ARG, lambda: fit(fx().emb, ex().ref, Arr(f32(4, fill=np.inf)).ref))
case("fit-binary_label_wrong_shape", ARG, lambda: fit(fx().emb, ex().ref, Arr(f32(4, 3)).ref))
case("fit-binary_label_column_ok", OK, lambda: fit(fx().emb, ex().ref, Arr(f32(4, 1, fill=1.0)).ref))
case("fit-x_nan", ARG, lambda: fit(fx().dense, Arr(np.array([[np.nan] * 4] * 4, np.float32)).ref, dy().ref))
case("fit-ids_out_of_range", ARG, lambda: fit(fx().emb, Arr(ids(4, 5, fill=99)).ref, ey().ref))
case("fit-ids_negative", ARG, lambda: fit(fx().emb, Arr(ids(4, 5, fill=-7)).ref, ey().ref))
case("fit-batch_larger_than_data", OK, lambda: fit(fx().dense, dx(3).ref, dy(3).ref, b'{"batch_size": 1000}'))
case("fit-one_sample", OK, lambda: fit(fx().dense, dx(1).ref, dy(1).ref))
case("fit-before_compile", STATE, lambda: fit(fx().raw, dx().ref, dy().ref))
case("evaluate-before_compile", STATE, lambda: evaluate(fx().raw, dx().ref, dy().ref))
case("evaluate-batch_0", ARG, lambda: evaluate(fx().dense, dx().ref, dy().ref, batch=0))
case("evaluate-batch_larger_than_data", OK, lambda: evaluate(fx().dense, dx().ref, dy().ref, batch=1 << 20))
case("evaluate-rows_differ", ARG, lambda: evaluate(fx().dense, dx(4).ref, dy(2).ref))
case("evaluate-label_nan", ARG, lambda: evaluate(fx().emb, ex().ref, Arr(f32(4, fill=np.nan)).ref))

# 5. Fit options.
FIT_OPTIONS = {
    b'{"batch_size": 0}': CFG, b'{"batch_size": -1}': CFG, b'{"batch_size": 1e9}': CFG,
    b'{"batch_size": 2.5}': CFG, b'{"batch_size": "8"}': CFG, b'{"epochs": -1}': CFG,
    b'{"epochs": 0}': OK, b'{"epochs": 1e12}': CFG, b'{"epochs": null}': OK,
    b'{"validation_split": 1.0}': CFG, b'{"validation_split": -0.1}': CFG,
    b'{"validation_split": "0.1"}': CFG, b'{"validation_split": 0.99}': ARG,
    b'{"validation_split": 0.5}': OK, b'{"shuffle": "yes"}': CFG, b'{"shuffle": 1}': CFG,
    b'{"seed": -1}': CFG, b'{"seed": 1.5}': CFG, b'{"seed": 1e300}': CFG, b'{"seed": 7}': OK,
    b'{"epoch": 3}': CFG, b'{': CFG, b'[]': CFG, b'null': CFG, b'42': CFG, b'': CFG,
    b'{"epochs": 1} trailing': CFG, b'{"epochs": 1, "epochs": 2}': OK,  # last wins, as Python's json
    b'{"initial_epoch": -1}': CFG, b'{"initial_epoch": 1}': CFG, b'{"epochs": 2, "initial_epoch": 2}': CFG,
    b'{"epochs": 2, "initial_epoch": 9}': CFG, b'{"epochs": 2, "initial_epoch": 0.5}': CFG,
    b'{"epochs": 2, "initial_epoch": "1"}': CFG, b'{"epochs": 2, "initial_epoch": 1e300}': CFG,
    b'{"epochs": 2, "initial_epoch": 1}': OK, b'{"epochs": 0, "initial_epoch": 0}': OK,
}
for options, expected in FIT_OPTIONS.items():
    case("fit-options_%s" % options.decode()[:40], expected,
         (lambda o: lambda: fit(fx().dense, dx().ref, dy().ref, options=o))(options))

# 6. Output buffers too small.
case("summary-capacity_1", SMALL, lambda: C.lstmkit_model_summary(fx().dense, buf(1), 1, sz()))
case("config-capacity_8", SMALL, lambda: C.lstmkit_model_config(fx().dense, buf(8), 8, sz()))
case("predict-capacity_short_by_one", SMALL, lambda: predict(fx().dense, dx(4).ref, cap=7))
case("predict-capacity_0_with_buffer", SMALL, lambda: predict(fx().dense, dx(4).ref, cap=0, out=True))
case("predict-shape_capacity_1", SMALL, lambda: predict(fx().dense, dx().ref, shape_out=(c_int64 * 1)(), shape_cap=1))
case("predict-shape_capacity_negative", SMALL, lambda: predict(fx().dense, dx().ref, shape_out=(c_int64 * 1)(), shape_cap=-5))
case("evaluate-capacity_0_with_buffer", SMALL, lambda: evaluate(fx().emb, ex().ref, ey().ref, cap=0))
case("evaluate-capacity_1_needs_2", SMALL, lambda: evaluate(fx().emb, ex().ref, ey().ref, cap=1))
case("input_spec-shape_capacity_1", SMALL, lambda: C.lstmkit_model_input_spec(fx().emb, (c_int64 * 1)(), 1, None, None))
case("weight_info-name_capacity_2", SMALL,
     lambda: C.lstmkit_model_weight_info(fx().dense, 0, buf(2), 2, sz(), None, 0, None))
case("weight_info-shape_capacity_1", SMALL,
     lambda: C.lstmkit_model_weight_info(fx().dense, 0, None, 0, sz(), (c_int64 * 1)(), 1, None))
case("get_weight-capacity_short", SMALL, lambda: C.lstmkit_model_get_weight(fx().dense, 0, (c_float * 7)(), 7, sz()))
case("to_json-capacity_4", SMALL, lambda: C.lstmkit_tokenizer_to_json(fx().tok, buf(4), 4, sz()))
case("texts_to_sequences-capacity_1", SMALL,
     lambda: C.lstmkit_tokenizer_texts_to_sequences(fx().tok, *C.encode_texts(["the cat sat"])[:2], (c_int32 * 1)(), 1, sz(), (c_int64 * 2)()))
case("size_t_capacity_max_is_not_trusted_beyond_need", OK,
     lambda: C.lstmkit_model_summary(fx().dense, buf(8192), 8192, sz()))

# 7. Weights.
case("get_weight-index_negative", ARG, lambda: C.lstmkit_model_get_weight(fx().dense, -1, (c_float * 64)(), 64, sz()))
case("get_weight-index_past_end", ARG, lambda: C.lstmkit_model_get_weight(fx().dense, 2, (c_float * 64)(), 64, sz()))
case("get_weight-index_int_max", ARG, lambda: C.lstmkit_model_get_weight(fx().dense, 2 ** 31 - 1, (c_float * 64)(), 64, sz()))
case("weight_info-unbuilt_model", STATE, lambda: C.lstmkit_model_weight_info(
    create({"layers": [{"class_name": "Dense", "config": {"units": 1}}]}), 0, None, 0, sz(), None, 0, None))
case("set_weight-wrong_count", ARG, lambda: C.lstmkit_model_set_weight(fx().dense, 0, (c_float * 7)(), 7))
case("set_weight-count_huge", ARG, lambda: C.lstmkit_model_set_weight(fx().dense, 0, (c_float * 8)(), 2 ** 64 - 1))
case("set_weight-nan", ARG, lambda: C.lstmkit_model_set_weight(fx().dense, 0, (c_float * 8)(*([float("nan")] * 8)), 8))
case("set_weight-inf", ARG, lambda: C.lstmkit_model_set_weight(fx().dense, 1, (c_float * 2)(float("inf"), 0), 2))
case("set_weight-index_negative", ARG, lambda: C.lstmkit_model_set_weight(fx().dense, -1, (c_float * 8)(), 8))

# 8. Model configurations.
def layers(*specs, **top):
    cfg = {"layers": [{"class_name": c, "config": k} for c, k in specs]}
    cfg.update(top)
    return cfg


CONFIGS = {
    "empty_text": (b"", CFG), "not_json": (b"hello", CFG), "truncated": (b'{"layers": [', CFG),
    "trailing_garbage": (b'{"layers": []} x', CFG), "array": (b"[1, 2]", CFG), "null": (b"null", CFG),
    "number": (b"42", CFG), "string": (b'"x"', CFG), "deep_nesting": (b"[" * 100000, CFG),
    "deep_object_nesting": (b'{"a":' * 5000, CFG), "bad_utf8": (b'{"name": "\xff\xfe", "layers": []}', CFG),
    "nan_literal": (b'{"layers": [{"class_name": "Dense", "config": {"units": NaN}}]}', CFG),
    "lone_surrogate_escape": (b'{"name": "\\ud800", "layers": [{"class_name": "Dense", "config": {"units": 1}}]}', CFG),
    "no_layers": ({}, CFG), "layers_not_list": ({"layers": {}}, CFG), "empty_layers": ({"layers": []}, CFG),
    "layers_of_numbers": ({"layers": [1, 2]}, CFG), "missing_class_name": ({"layers": [{"config": {}}]}, CFG),
    "class_name_number": ({"layers": [{"class_name": 3}]}, CFG),
    "unknown_layer": (layers(("Conv2D", {"filters": 3})), CFG),
    "unknown_lowercase_dense": (layers(("dense", {"units": 1})), CFG),
    "config_not_object": ({"layers": [{"class_name": "Dense", "config": [1]}]}, CFG),
    "dense_missing_units": (layers(("Dense", {})), CFG), "dense_units_0": (layers(("Dense", {"units": 0})), CFG),
    "dense_units_negative": (layers(("Dense", {"units": -4})), CFG),
    "dense_units_string": (layers(("Dense", {"units": "4"})), CFG),
    "dense_units_fraction": (layers(("Dense", {"units": 2.5})), CFG),
    "dense_units_1e300": (layers(("Dense", {"units": 1e300})), CFG),
    "dense_units_bool": (layers(("Dense", {"units": True})), CFG),
    "dense_bad_activation": (layers(("Dense", {"units": 1, "activation": "gelu9"})), CFG),
    "dense_activation_number": (layers(("Dense", {"units": 1, "activation": 1})), CFG),
    "embedding_missing_input_dim": (layers(("Embedding", {"output_dim": 2})), CFG),
    "embedding_missing_output_dim": (layers(("Embedding", {"input_dim": 2})), CFG),
    "embedding_input_dim_0": (layers(("Embedding", {"input_dim": 0, "output_dim": 2})), CFG),
    "embedding_dims_huge": (layers(("Embedding", {"input_dim": 1 << 40, "output_dim": 1 << 40})), CFG),
    "lstm_units_0": (layers(("LSTM", {"units": 0})), CFG),
    "lstm_units_huge": (layers(("LSTM", {"units": 1 << 40})), CFG),
    "lstm_unsupported_activation": (layers(("LSTM", {"units": 2, "activation": "relu"})), CFG),
    "dropout_rate_1": (layers(("Dropout", {"rate": 1.0})), CFG),
    "dropout_rate_negative": (layers(("Dropout", {"rate": -0.5})), CFG),
    "dropout_rate_string": (layers(("Dropout", {"rate": "half"})), CFG),
    "duplicate_layer_names": (layers(("Dense", {"units": 1, "name": "a"}), ("Dense", {"units": 1, "name": "a"})), CFG),
    "slash_in_layer_name": (layers(("Dense", {"units": 1, "name": "a/b"})), CFG),
    "name_not_string": (layers(("Dense", {"units": 1}), name=5), CFG),
    "input_shape_empty": (layers(("Dense", {"units": 1}), input_shape=[]), CFG),
    "input_shape_zero": (layers(("Dense", {"units": 1}), input_shape=[0]), CFG),
    "input_shape_negative": (layers(("Dense", {"units": 1}), input_shape=[-3]), CFG),
    "input_shape_string": (layers(("Dense", {"units": 1}), input_shape="4"), CFG),
    "input_shape_9_dims": (layers(("Dense", {"units": 1}), input_shape=[2] * 9), CFG),
    "input_layer_not_first": ({"layers": [{"class_name": "Dense", "config": {"units": 1}},
                                          {"class_name": "InputLayer", "config": {"batch_shape": [None, 4]}}]}, CFG),
    "lstm_after_dense": (layers(("Dense", {"units": 3}), ("LSTM", {"units": 2}), input_shape=[4]), CFG),
    "embedding_with_2d_input": (layers(("Embedding", {"input_dim": 5, "output_dim": 2}), input_shape=[3, 4]), CFG),
    "lstm_on_flat_input": (layers(("LSTM", {"units": 2}), input_shape=[4]), CFG),
    # Sizes each within its field's limit, together far beyond any machine: refused before allocating.
    "terabyte_embedding": (layers(("Embedding", {"input_dim": 1 << 24, "output_dim": 65536}), input_shape=[3]), MEM),
    "terabyte_lstm": (layers(("LSTM", {"units": 16384}), input_shape=[3, 1 << 24]), MEM),
    "terabyte_dense": (layers(("Dense", {"units": 1 << 20}), input_shape=[1 << 24]), MEM),
    "terabyte_stack": (layers(*[("Dense", {"units": 1 << 20})] * 4, input_shape=[1 << 20]), MEM),
    "valid_small": (DENSE_CFG, OK),
}
for cname, (cfg, expected) in CONFIGS.items():
    case("create-%s" % cname, expected, (lambda c: lambda: create_status(c))(cfg))


def predict_lazy_absurd():
    # No input shape in the config: the size only becomes known from the data.
    m = create(layers(("Dense", {"units": 1 << 20})))
    try:
        return predict(m, Arr(f32(1, 1 << 22)).ref)   # 16 MB of input, 64 TB of weights
    finally:
        C.lstmkit_model_free(m)


def predict_activations_too_large():
    m = create(layers(("LSTM", {"units": 256, "return_sequences": True}), input_shape=[None, 1]))
    try:
        x = Arr(f32(1, 1 << 23, 1))   # 32 MB of input, about 100 GB of activations
        return C.lstmkit_model_predict(m, x.ref, 1, (c_float * 1)(), 1, sz(), None, 0, None)
    finally:
        C.lstmkit_model_free(m)


def with_memory_limit_1gb():
    # Found by fuzz_json: 3.9 GB of LSTM kernel (1 unit on 244M features), within the machine's
    # budget but not a host's that sets LSTMKIT_MEMORY_LIMIT.
    os.environ["LSTMKIT_MEMORY_LIMIT"] = str(10 ** 9)
    try:
        return create_status(layers(("LSTM", {"units": 1}), input_shape=[3, 244444444]))
    finally:
        del os.environ["LSTMKIT_MEMORY_LIMIT"]


case("create-over_LSTMKIT_MEMORY_LIMIT", MEM, with_memory_limit_1gb)
case("predict-weights_too_large_for_memory", MEM, predict_lazy_absurd)
case("predict-activations_too_large_for_memory", MEM, predict_activations_too_large)

# 9. Compile settings.
COMPILES = {
    b"": CFG, b"{": CFG, b"[]": CFG, b"{}": CFG, b'{"loss": 5}': CFG, b'{"loss": "hinge_loss_x"}': CFG,
    b'{"loss": "mse", "optimizer": "no_such_optimizer"}': CFG, b'{"loss": "mse", "optimizer": 5}': CFG,
    b'{"loss": "mse", "optimizer": {"class_name": "adam", "learning_rate": -1}}': CFG,
    b'{"loss": "mse", "optimizer": {"class_name": "adam", "learning_rate": "fast"}}': CFG,
    b'{"loss": "mse", "optimizer": {"class_name": "adam", "beta_1": 1.0}}': CFG,
    b'{"loss": "mse", "optimizer": {"class_name": "adam", "epsilon": -1e-7}}': CFG,
    b'{"loss": "mse", "metrics": "accuracy"}': CFG, b'{"loss": "mse", "metrics": ["f1_score_x"]}': CFG,
    b'{"loss": "mse", "metrics": [1]}': CFG, b'{"loss": "mse"}': OK,
}
for text, expected in COMPILES.items():
    case("compile-%s" % text.decode()[:50], expected,
         (lambda t: lambda: C.lstmkit_model_compile(create(DENSE_CFG), t))(text))

# 10. State.
case("save-unbuilt_model", STATE, lambda: C.lstmkit_model_save(
    create({"layers": [{"class_name": "Dense", "config": {"units": 1}}]}), b"/tmp/lstmkit-unbuilt.lstmkit"))
case("get_tokenizer-none_attached", OK, lambda: C.lstmkit_model_get_tokenizer(fx().raw, byref(c_void_p())))

# 11. Files.
case("load-missing_file", IO, lambda: C.lstmkit_model_load(b"/nonexistent/dir/model.lstmkit", byref(c_void_p())))
case("load-directory", IO, lambda: C.lstmkit_model_load(b"/tmp", byref(c_void_p())))
case("load-dev_null", IO, lambda: C.lstmkit_model_load(b"/dev/null", byref(c_void_p())))
case("load-bad_utf8_path", ARG, lambda: C.lstmkit_model_load(b"/tmp/\xff\xfe.lstmkit", byref(c_void_p())))
case("load-path_too_long", IO, lambda: C.lstmkit_model_load(b"/tmp/" + b"a" * 5000, byref(c_void_p())))
case("save-missing_directory", IO, lambda: C.lstmkit_model_save(fx().dense, b"/nonexistent/dir/m.lstmkit"))
case("save-onto_directory", IO, lambda: C.lstmkit_model_save(fx().dense, b"/tmp"))
case("save-bad_utf8_path", ARG, lambda: C.lstmkit_model_save(fx().dense, b"/tmp/\xff.lstmkit"))
case("save-path_too_long", IO, lambda: C.lstmkit_model_save(fx().dense, b"/tmp/" + b"a" * 5000))


def load_bytes(data, tmp="/tmp/lstmkit-bad-input-%d.lstmkit" % os.getpid()):
    with open(tmp, "wb") as f:
        f.write(data)
    out = c_void_p()
    try:
        status = C.lstmkit_model_load(tmp.encode(), byref(out))
        assert out.value is None or status == OK
        return status
    finally:
        if out.value:
            C.lstmkit_model_free(out)
        os.unlink(tmp)


FILES = {
    "empty": b"", "seven_bytes": b"\x01" * 7, "header_length_huge": b"\xff" * 8 + b"{}",
    "header_length_past_end": (100).to_bytes(8, "little") + b"{}",
    "header_not_json": (4).to_bytes(8, "little") + b"abcd", "header_array": (2).to_bytes(8, "little") + b"[]",
    "empty_header": (2).to_bytes(8, "little") + b"{}", "text_file": b"this is not a model\n" * 5,
    "png_magic": b"\x89PNG\r\n\x1a\n" + b"\0" * 32,
}
for fname, data in FILES.items():
    case("load-%s" % fname, FMT, (lambda d: lambda: load_bytes(d))(data))

# 12. Tokenizer options and text.
TOKENIZER_OPTIONS = {
    b"{": CFG, b"[]": CFG, b'{"num_words": 0}': CFG, b'{"num_words": -1}': CFG, b'{"num_words": "10"}': CFG,
    b'{"num_words": 2.5}': CFG, b'{"lower": "yes"}': CFG, b'{"oov_token": 5}': CFG, b'{"filters": 1}': CFG,
    b'{"no_such_option": 1}': CFG, b'{"char_level": null}': CFG, b'{"char_level": true}': OK, b'{"split": "\xff"}': CFG,
}
for text, expected in TOKENIZER_OPTIONS.items():
    def make_tok(t=text):
        out = c_void_p()
        status = C.lstmkit_tokenizer_create(t, byref(out))
        C.lstmkit_tokenizer_free(out)
        return status
    case("tokenizer_create-%r" % text[:40], expected, make_tok)

BAD_UTF8 = {"lone_continuation": b"abc \x80 def", "ff_byte": b"\xff", "truncated_3byte": b"caf\xe6\x97",
            "overlong_slash": b"\xc0\xaf", "surrogate": b"\xed\xa0\x80", "beyond_max": b"\xf4\x90\x80\x80",
            "truncated_at_end": b"ok \xc3"}


def tokenizer_json(t):
    n = c_size_t()
    C.check(C.lstmkit_tokenizer_to_json(t, None, 0, byref(n)))
    b = ctypes.create_string_buffer(n.value)
    C.check(C.lstmkit_tokenizer_to_json(t, b, n.value, byref(n)))
    return b.value


def fit_bad_text(text):
    before = tokenizer_json(fx().tok)
    status = C.lstmkit_tokenizer_fit(fx().tok, (c_char_p * 2)(b"good words", text), 2)
    assert tokenizer_json(fx().tok) == before, "a refused fit must not count the good text either"
    return status


for uname, text in BAD_UTF8.items():
    case("tokenizer_fit-bad_utf8_%s" % uname, ARG, (lambda t: lambda: fit_bad_text(t))(text))
    case("texts_to_sequences-bad_utf8_%s" % uname, ARG, (lambda t: lambda: C.lstmkit_tokenizer_texts_to_sequences(
        fx().tok, (c_char_p * 1)(t), 1, None, 0, sz(), None))(text))
def empty_texts_fill_offsets():
    offsets = (c_int64 * 3)(7, 7, 7)
    count = c_size_t(99)
    status = C.lstmkit_tokenizer_texts_to_sequences(fx().tok, (c_char_p * 2)(b"", b"!!"), 2, None, 0,
                                                    byref(count), offsets)
    assert (count.value, list(offsets)) == (0, [0, 0, 0])
    return status


case("texts_to_sequences-no_ids_still_fills_offsets", OK, empty_texts_fill_offsets)
case("evaluate-batch_0_even_when_querying", ARG,
     lambda: C.lstmkit_model_evaluate(fx().dense, dx().ref, dy().ref, 0, None, 0, sz()))
case("tokenizer_fit-valid_utf8_all_planes", OK,
     lambda: C.lstmkit_tokenizer_fit(fx().tok, (c_char_p * 1)("é 日本 😀 \u0301".encode()), 1))
case("tokenizer_fit-n_huge", ARG, lambda: C.lstmkit_tokenizer_fit(fx().tok, (c_char_p * 1)(b"a"), 2 ** 64 - 1))

TOKENIZER_JSON = {
    b"": CFG, b"{": CFG, b"[]": CFG, b"{}": CFG, b'{"class_name": "Tokenizer"}': CFG,
    b'{"class_name": "Tokenizer", "config": 5}': CFG, b'{"class_name": "Other", "config": {}}': CFG,
    b'{"class_name": "Tokenizer", "config": {"word_index": "x"}}': CFG,
    b'{"class_name": "Tokenizer", "config": {"word_counts": "[1]"}}': CFG,
}
for text, expected in TOKENIZER_JSON.items():
    def from_json(t=text):
        out = c_void_p()
        status = C.lstmkit_tokenizer_from_json(t, byref(out))
        C.lstmkit_tokenizer_free(out)
        assert status == OK or out.value is None
        return status
    case("tokenizer_from_json-%r" % text[:50], expected, from_json)


# ---- the test ------------------------------------------------------------------------------

def test_there_are_at_least_200_cases():
    assert len(CASES) >= 200, len(CASES)


@pytest.mark.parametrize("expected, call", CASES)
def test_bad_input(expected, call):
    status = call()
    message = C.last_error()
    assert status == expected, "status %s, expected %s: %s" % (status, expected, message)
    if expected != OK:
        assert message, "a failure must leave a message"
    assert_healthy()
