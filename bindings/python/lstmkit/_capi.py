"""ctypes declarations of include/lstmkit.h, and the helpers every other module calls it through.

Each declaration sits beside its C prototype; tests/test_abi.py checks that every function in
the header is declared here (DECLARED) and exported by the shared library.
"""

import ctypes
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_double, c_float, c_int,
                    c_int32, c_int64, c_size_t, c_uint64, c_void_p)
from pathlib import Path

from ._version import VERSION_MAJOR, VERSION_MINOR, VERSION_PATCH
from .errors import error_for_status

# The header version this binding was written against (LSTMKIT_VERSION), both from VERSION.
EXPECTED_VERSION_MAJOR = VERSION_MAJOR
EXPECTED_VERSION_MINOR = VERSION_MINOR
EXPECTED_VERSION_PATCH = VERSION_PATCH
EXPECTED_VERSION = EXPECTED_VERSION_MAJOR * 10000 + EXPECTED_VERSION_MINOR * 100 + EXPECTED_VERSION_PATCH

OK = 0
E_INVALID_ARGUMENT = -1
E_BAD_CONFIG = -2
E_WRONG_STATE = -3
E_IO = -4
E_FORMAT = -5
E_NO_MEMORY = -6
E_BUFFER_TOO_SMALL = -7
E_CANCELLED = -8
E_NUMERIC = -9
E_UNSUPPORTED = -10
E_INTERNAL = -99

FLOAT32 = 1
INT32 = 2

EVENT_BATCH_END = 1
EVENT_EPOCH_END = 2

PAD_PRE = 0
PAD_POST = 1

LIBRARY_NAME = "liblstmkit.so"
# bindings/python/lstmkit/_capi.py -> the repository root is three folders up.
_REPO_ROOT = Path(__file__).resolve().parents[3]


# typedef struct lstmkit_array { int32_t dtype; int32_t ndim; const int64_t *shape; const void *data; }
class lstmkit_array(Structure):
    _fields_ = [
        ("dtype", c_int32),
        ("ndim", c_int32),
        ("shape", POINTER(c_int64)),
        ("data", c_void_p),
    ]


# typedef struct lstmkit_progress { int32_t event, epoch, epochs; int64_t step, steps;
#     double elapsed_seconds; int32_t n_values; const char *const *names; const double *values; }
class lstmkit_progress(Structure):
    _fields_ = [
        ("event", c_int32),
        ("epoch", c_int32),
        ("epochs", c_int32),
        ("step", c_int64),
        ("steps", c_int64),
        ("elapsed_seconds", c_double),
        ("n_values", c_int32),
        ("names", POINTER(c_char_p)),
        ("values", POINTER(c_double)),
    ]


# typedef int (*lstmkit_progress_fn)(const lstmkit_progress *progress, void *user_data);
PROGRESS_FN = CFUNCTYPE(c_int, POINTER(lstmkit_progress), c_void_p)

# Opaque handles (lstmkit_model *, lstmkit_tokenizer *) travel as void pointers.
_handle = c_void_p
_handle_out = POINTER(c_void_p)
_char_buf = POINTER(c_char)


def _candidate_paths():
    env = os.environ.get("LSTMKIT_LIBRARY")
    if env:
        yield Path(env)
    yield Path(__file__).resolve().parent / LIBRARY_NAME
    yield _REPO_ROOT / ".build" / "release" / LIBRARY_NAME


def find_library():
    """Path of liblstmkit.so: $LSTMKIT_LIBRARY, then the package folder, then the build folder."""
    tried = []
    for path in _candidate_paths():
        tried.append(str(path))
        if path.is_file():
            return path
    raise ImportError("liblstmkit.so not found; looked at: " + ", ".join(tried)
                      + " (set LSTMKIT_LIBRARY or run `swift build -c release`)")


def _load():
    path = find_library()
    try:
        return ctypes.CDLL(str(path)), path
    except OSError as exc:
        raise ImportError("cannot load %s: %s" % (path, exc)) from exc


lib, library_path = _load()

# Names of the header functions declared below (checked against the header by the tests).
DECLARED = []


def _declare(name, restype, argtypes):
    try:
        fn = getattr(lib, name)
    except AttributeError as exc:
        raise ImportError("%s does not export %s; the library and the binding do not match"
                          % (library_path, name)) from exc
    fn.restype = restype
    fn.argtypes = argtypes
    DECLARED.append(name)
    return fn


# ---- library ----
# int lstmkit_version(void);
lstmkit_version = _declare("lstmkit_version", c_int, [])
# const char *lstmkit_version_string(void);
lstmkit_version_string = _declare("lstmkit_version_string", c_char_p, [])
# const char *lstmkit_last_error(void);
lstmkit_last_error = _declare("lstmkit_last_error", c_char_p, [])

# ---- models ----
# int lstmkit_model_create(const char *config_json, uint64_t seed, lstmkit_model **out);
lstmkit_model_create = _declare("lstmkit_model_create", c_int, [c_char_p, c_uint64, _handle_out])
# void lstmkit_model_free(lstmkit_model *model);
lstmkit_model_free = _declare("lstmkit_model_free", None, [_handle])
# int lstmkit_model_compile(lstmkit_model *model, const char *compile_json);
lstmkit_model_compile = _declare("lstmkit_model_compile", c_int, [_handle, c_char_p])
# int lstmkit_model_summary(const lstmkit_model *model, char *buf, size_t capacity, size_t *needed);
lstmkit_model_summary = _declare("lstmkit_model_summary", c_int,
                                 [_handle, _char_buf, c_size_t, POINTER(c_size_t)])
# int lstmkit_model_config(const lstmkit_model *model, char *buf, size_t capacity, size_t *needed);
lstmkit_model_config = _declare("lstmkit_model_config", c_int,
                                [_handle, _char_buf, c_size_t, POINTER(c_size_t)])
# int lstmkit_model_count_params(const lstmkit_model *model, int64_t *out);
lstmkit_model_count_params = _declare("lstmkit_model_count_params", c_int,
                                      [_handle, POINTER(c_int64)])
# int lstmkit_model_input_spec(const lstmkit_model *model, int64_t *shape, int32_t capacity,
#                              int32_t *ndim, int32_t *dtype);
lstmkit_model_input_spec = _declare("lstmkit_model_input_spec", c_int,
                                    [_handle, POINTER(c_int64), c_int32, POINTER(c_int32),
                                     POINTER(c_int32)])
# int lstmkit_model_fit(lstmkit_model *model, const lstmkit_array *x, const lstmkit_array *y,
#                       const char *options_json, lstmkit_progress_fn progress, void *user_data);
lstmkit_model_fit = _declare("lstmkit_model_fit", c_int,
                             [_handle, POINTER(lstmkit_array), POINTER(lstmkit_array), c_char_p,
                              PROGRESS_FN, c_void_p])
# int lstmkit_model_fit_validation(lstmkit_model *model, const lstmkit_array *x,
#                                  const lstmkit_array *y, const lstmkit_array *x_val,
#                                  const lstmkit_array *y_val, const char *options_json,
#                                  lstmkit_progress_fn progress, void *user_data);
lstmkit_model_fit_validation = _declare("lstmkit_model_fit_validation", c_int,
                                        [_handle, POINTER(lstmkit_array), POINTER(lstmkit_array),
                                         POINTER(lstmkit_array), POINTER(lstmkit_array), c_char_p,
                                         PROGRESS_FN, c_void_p])
# int lstmkit_model_build(lstmkit_model *model, const int64_t *shape, int32_t ndim);
lstmkit_model_build = _declare("lstmkit_model_build", c_int, [_handle, POINTER(c_int64), c_int32])
# int lstmkit_model_reset_states(lstmkit_model *model, const char *layer_name);
lstmkit_model_reset_states = _declare("lstmkit_model_reset_states", c_int, [_handle, c_char_p])
# int lstmkit_model_set_trainable(lstmkit_model *model, const char *layer_name, int trainable);
lstmkit_model_set_trainable = _declare("lstmkit_model_set_trainable", c_int, [_handle, c_char_p, c_int])
# int lstmkit_model_evaluate(lstmkit_model *model, const lstmkit_array *x, const lstmkit_array *y,
#                            int64_t batch_size, double *results, size_t capacity, size_t *count);
lstmkit_model_evaluate = _declare("lstmkit_model_evaluate", c_int,
                                  [_handle, POINTER(lstmkit_array), POINTER(lstmkit_array), c_int64,
                                   POINTER(c_double), c_size_t, POINTER(c_size_t)])
# int lstmkit_model_predict(lstmkit_model *model, const lstmkit_array *x, int64_t batch_size,
#                           float *out, size_t capacity, size_t *count,
#                           int64_t *out_shape, int32_t shape_capacity, int32_t *out_ndim);
lstmkit_model_predict = _declare("lstmkit_model_predict", c_int,
                                 [_handle, POINTER(lstmkit_array), c_int64, POINTER(c_float),
                                  c_size_t, POINTER(c_size_t), POINTER(c_int64), c_int32,
                                  POINTER(c_int32)])
# int lstmkit_model_weight_count(const lstmkit_model *model, int32_t *n);
lstmkit_model_weight_count = _declare("lstmkit_model_weight_count", c_int,
                                      [_handle, POINTER(c_int32)])
# int lstmkit_model_weight_info(const lstmkit_model *model, int32_t index, char *name,
#                               size_t name_capacity, size_t *name_needed,
#                               int64_t *shape, int32_t shape_capacity, int32_t *ndim);
lstmkit_model_weight_info = _declare("lstmkit_model_weight_info", c_int,
                                     [_handle, c_int32, _char_buf, c_size_t, POINTER(c_size_t),
                                      POINTER(c_int64), c_int32, POINTER(c_int32)])
# int lstmkit_model_get_weight(const lstmkit_model *model, int32_t index, float *out,
#                              size_t capacity, size_t *count);
lstmkit_model_get_weight = _declare("lstmkit_model_get_weight", c_int,
                                    [_handle, c_int32, POINTER(c_float), c_size_t,
                                     POINTER(c_size_t)])
# int lstmkit_model_set_weight(lstmkit_model *model, int32_t index, const float *values,
#                              size_t count);
lstmkit_model_set_weight = _declare("lstmkit_model_set_weight", c_int,
                                    [_handle, c_int32, POINTER(c_float), c_size_t])
# int lstmkit_model_save(const lstmkit_model *model, const char *path);
lstmkit_model_save = _declare("lstmkit_model_save", c_int, [_handle, c_char_p])
# int lstmkit_model_load(const char *path, lstmkit_model **out);
lstmkit_model_load = _declare("lstmkit_model_load", c_int, [c_char_p, _handle_out])
# int lstmkit_model_set_tokenizer(lstmkit_model *model, const lstmkit_tokenizer *tokenizer);
lstmkit_model_set_tokenizer = _declare("lstmkit_model_set_tokenizer", c_int, [_handle, _handle])
# int lstmkit_model_get_tokenizer(const lstmkit_model *model, lstmkit_tokenizer **out);
lstmkit_model_get_tokenizer = _declare("lstmkit_model_get_tokenizer", c_int,
                                       [_handle, _handle_out])
# int lstmkit_model_set_target_tokenizer(lstmkit_model *model, const lstmkit_tokenizer *tokenizer);
lstmkit_model_set_target_tokenizer = _declare("lstmkit_model_set_target_tokenizer", c_int,
                                              [_handle, _handle])
# int lstmkit_model_get_target_tokenizer(const lstmkit_model *model, lstmkit_tokenizer **out);
lstmkit_model_get_target_tokenizer = _declare("lstmkit_model_get_target_tokenizer", c_int,
                                              [_handle, _handle_out])

# ---- text in one call ----
# int lstmkit_model_set_text_padding(lstmkit_model *model, int64_t maxlen, int32_t padding,
#                                    int32_t truncating, int32_t value);
lstmkit_model_set_text_padding = _declare("lstmkit_model_set_text_padding", c_int,
                                          [_handle, c_int64, c_int32, c_int32, c_int32])
# int lstmkit_model_get_text_padding(const lstmkit_model *model, int64_t *maxlen, int32_t *padding,
#                                    int32_t *truncating, int32_t *value);
lstmkit_model_get_text_padding = _declare("lstmkit_model_get_text_padding", c_int,
                                          [_handle, POINTER(c_int64), POINTER(c_int32),
                                           POINTER(c_int32), POINTER(c_int32)])
# int lstmkit_model_predict_texts(lstmkit_model *model, const char *const *texts, size_t n,
#                                 int64_t batch_size, float *out, size_t capacity, size_t *count,
#                                 int64_t *out_shape, int32_t shape_capacity, int32_t *out_ndim,
#                                 int64_t *lengths);
lstmkit_model_predict_texts = _declare("lstmkit_model_predict_texts", c_int,
                                       [_handle, POINTER(c_char_p), c_size_t, c_int64,
                                        POINTER(c_float), c_size_t, POINTER(c_size_t),
                                        POINTER(c_int64), c_int32, POINTER(c_int32),
                                        POINTER(c_int64)])

# ---- streams ----
# int lstmkit_state_create(const lstmkit_model *model, lstmkit_state **out);
lstmkit_state_create = _declare("lstmkit_state_create", c_int, [_handle, _handle_out])
# void lstmkit_state_free(lstmkit_state *state);
lstmkit_state_free = _declare("lstmkit_state_free", None, [_handle])
# int lstmkit_state_reset(lstmkit_state *state);
lstmkit_state_reset = _declare("lstmkit_state_reset", c_int, [_handle])
# int lstmkit_state_copy(const lstmkit_state *state, lstmkit_state **out);
lstmkit_state_copy = _declare("lstmkit_state_copy", c_int, [_handle, _handle_out])
# int lstmkit_state_step(lstmkit_state *state, const lstmkit_array *x, float *out, size_t capacity,
#                        size_t *count, int64_t *out_shape, int32_t shape_capacity, int32_t *out_ndim);
lstmkit_state_step = _declare("lstmkit_state_step", c_int,
                              [_handle, POINTER(lstmkit_array), POINTER(c_float), c_size_t,
                               POINTER(c_size_t), POINTER(c_int64), c_int32, POINTER(c_int32)])

# ---- text preprocessing ----
# int lstmkit_tokenizer_create(const char *options_json, lstmkit_tokenizer **out);
lstmkit_tokenizer_create = _declare("lstmkit_tokenizer_create", c_int, [c_char_p, _handle_out])
# void lstmkit_tokenizer_free(lstmkit_tokenizer *tokenizer);
lstmkit_tokenizer_free = _declare("lstmkit_tokenizer_free", None, [_handle])
# int lstmkit_tokenizer_fit(lstmkit_tokenizer *tokenizer, const char *const *texts, size_t n);
lstmkit_tokenizer_fit = _declare("lstmkit_tokenizer_fit", c_int,
                                 [_handle, POINTER(c_char_p), c_size_t])
# int lstmkit_tokenizer_texts_to_sequences(const lstmkit_tokenizer *tokenizer,
#                                          const char *const *texts, size_t n,
#                                          int32_t *ids, size_t capacity, size_t *count,
#                                          int64_t *offsets);
lstmkit_tokenizer_texts_to_sequences = _declare(
    "lstmkit_tokenizer_texts_to_sequences", c_int,
    [_handle, POINTER(c_char_p), c_size_t, POINTER(c_int32), c_size_t, POINTER(c_size_t),
     POINTER(c_int64)])
# int lstmkit_tokenizer_to_json(const lstmkit_tokenizer *tokenizer, char *buf, size_t capacity,
#                               size_t *needed);
lstmkit_tokenizer_to_json = _declare("lstmkit_tokenizer_to_json", c_int,
                                     [_handle, _char_buf, c_size_t, POINTER(c_size_t)])
# int lstmkit_tokenizer_from_json(const char *json, lstmkit_tokenizer **out);
lstmkit_tokenizer_from_json = _declare("lstmkit_tokenizer_from_json", c_int,
                                       [c_char_p, _handle_out])
# int lstmkit_tokenizer_sequence_to_text(const lstmkit_tokenizer *tokenizer, const int32_t *ids,
#                                        size_t n, char *buf, size_t capacity, size_t *needed);
lstmkit_tokenizer_sequence_to_text = _declare("lstmkit_tokenizer_sequence_to_text", c_int,
                                              [_handle, POINTER(c_int32), c_size_t, _char_buf,
                                               c_size_t, POINTER(c_size_t)])
# int lstmkit_pad_sequences(const int32_t *ids, const int64_t *offsets, size_t n, int64_t maxlen,
#                           int32_t padding, int32_t truncating, int32_t value, int32_t *out,
#                           size_t capacity);
lstmkit_pad_sequences = _declare("lstmkit_pad_sequences", c_int,
                                 [POINTER(c_int32), POINTER(c_int64), c_size_t, c_int64, c_int32,
                                  c_int32, c_int32, POINTER(c_int32), c_size_t])


def last_error():
    msg = lstmkit_last_error()
    return msg.decode("utf-8", "replace") if msg else ""


def check(status):
    """Raises the LSTMKitError subclass for a non-zero status, with lstmkit_last_error()."""
    if status != OK:
        raise error_for_status(status, last_error())
    return status


def _check_version():
    version = lstmkit_version()
    major, minor = version // 10000, (version // 100) % 100
    # Same major, and at least the minor this binding uses (functions are only ever appended).
    if major != EXPECTED_VERSION_MAJOR or minor < EXPECTED_VERSION_MINOR:
        raise ImportError("%s is version %s, but this binding needs %d.%d.x"
                          % (library_path, library_version(), EXPECTED_VERSION_MAJOR,
                             EXPECTED_VERSION_MINOR))


def library_version():
    return lstmkit_version_string().decode("ascii", "replace")


_check_version()


def read_text(fn, handle, guess=4096):
    """Calls one of the text-returning functions (caller buffer, *needed) and decodes the text."""
    needed = c_size_t(0)
    buf = ctypes.create_string_buffer(guess)
    status = fn(handle, buf, guess, ctypes.byref(needed))
    if status == E_BUFFER_TOO_SMALL:
        buf = ctypes.create_string_buffer(needed.value)
        status = fn(handle, buf, needed.value, ctypes.byref(needed))
    check(status)
    return buf.value.decode("utf-8")


def new_handle(fn, *args):
    """Calls a constructor whose last argument is an out-handle and returns the handle value."""
    out = c_void_p()
    check(fn(*args, ctypes.byref(out)))
    if not out.value:
        raise error_for_status(E_INTERNAL, "%s returned no handle" % fn.__name__)
    return out.value


def encode_texts(texts):
    """UTF-8 encodes texts into a `const char *[]`; returns (array, n, keepalive)."""
    if isinstance(texts, (str, bytes)):
        raise TypeError("expected a sequence of texts, got a single string")
    encoded = []
    for i, text in enumerate(texts):
        if isinstance(text, bytes):
            data = text
        elif isinstance(text, str):
            data = text.encode("utf-8")
        else:
            raise TypeError("text %d is %s, not str" % (i, type(text).__name__))
        if b"\0" in data:
            raise ValueError("text %d contains a NUL character" % i)
        encoded.append(data)
    n = len(encoded)
    array = (c_char_p * max(n, 1))(*encoded)
    return array, n, encoded



def encode_path(filepath, what="filepath"):
    """The file system bytes of a path for a `const char *`. A NUL byte is refused as the C
    library refuses it: the C string would end there and name another file."""
    if not isinstance(filepath, (str, bytes, os.PathLike)):
        raise error_for_status(E_INVALID_ARGUMENT, "%s must be a path, got %r" % (what, filepath))
    data = os.fsencode(filepath)
    if b"\0" in data:
        raise error_for_status(E_INVALID_ARGUMENT, "%s contains a NUL byte" % what)
    return data
