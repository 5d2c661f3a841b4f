"""Keras's text Tokenizer, run by the library (so C programs tokenize exactly the same way)."""

import ctypes
import json
from collections import OrderedDict

import numpy as np

from . import _capi
from ._arrays import int32_ptr, int64_ptr
from ._owned import OwnedHandle

__all__ = ["Tokenizer", "tokenizer_from_json"]

DEFAULT_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
_I32 = np.iinfo(np.int32)


class Tokenizer(OwnedHandle):
    """keras.preprocessing.text.Tokenizer: fit_on_texts, texts_to_sequences, word_index, ..."""

    def __init__(self, num_words=None, filters=DEFAULT_FILTERS, lower=True, split=" ",
                 char_level=False, oov_token=None, analyzer=None):
        if analyzer is not None:
            raise ValueError("a Python analyzer cannot run inside the library; "
                             "tokenize beforehand or use split/filters/char_level")
        options = {"num_words": num_words, "filters": filters, "lower": bool(lower),
                   "split": split, "char_level": bool(char_level), "oov_token": oov_token}
        self._handle = None
        self._handle = _capi.new_handle(_capi.lstmkit_tokenizer_create,
                                        json.dumps(options).encode("utf-8"))
        self._state = None

    @classmethod
    def _adopt(cls, handle):
        tok = cls.__new__(cls)
        tok._handle = handle
        tok._state = None
        return tok

    _what = "Tokenizer"

    def _free(self, handle):
        _capi.lstmkit_tokenizer_free(handle)

    # ---- Keras API ----

    def fit_on_texts(self, texts):
        array, n, _keep = _capi.encode_texts(texts)
        _capi.check(_capi.lstmkit_tokenizer_fit(self._live(), array, n))
        self._state = None

    def _ragged(self, texts):
        """(flat int32 ids, int64 offsets) for texts; one library call when the guess fits."""
        array, n, keep = _capi.encode_texts(texts)
        offsets = np.empty(n + 1, dtype=np.int64)
        count = ctypes.c_size_t(0)
        # Words are separated by at least one byte, so bytes/2 + n ids suffice for words;
        # char_level can need more, which the retry below covers.
        capacity = sum(len(b) for b in keep) // 2 + n + 1
        ids = np.empty(capacity, dtype=np.int32)
        status = _capi.lstmkit_tokenizer_texts_to_sequences(
            self._live(), array, n, int32_ptr(ids), capacity, ctypes.byref(count), int64_ptr(offsets))
        if status == _capi.E_BUFFER_TOO_SMALL:
            capacity = max(count.value, 1)
            ids = np.empty(capacity, dtype=np.int32)
            status = _capi.lstmkit_tokenizer_texts_to_sequences(
                self._live(), array, n, int32_ptr(ids), capacity, ctypes.byref(count),
                int64_ptr(offsets))
        _capi.check(status)
        return ids[:count.value], offsets

    def texts_to_sequences(self, texts):
        ids, offsets = self._ragged(texts)
        flat = ids.tolist()
        bounds = offsets.tolist()
        return [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

    def sequences_to_texts(self, sequences):
        """Keras's sequences_to_texts: each sequence of ids back to its words, joined by spaces
        (by nothing when char_level). Ids the tokenizer has no word for, or at least num_words,
        become the oov_token when there is one and are skipped otherwise, as in Keras; 0 is always
        skipped, being padding (Keras would write the oov_token for it)."""
        return [self._sequence_to_text(seq) for seq in sequences]

    def _sequence_to_text(self, seq):
        wide = np.asarray(seq, dtype=np.int64).reshape(-1)
        # An id beyond int32 is one the tokenizer has no word for, as -1 is.
        ids = np.where((wide < _I32.min) | (wide > _I32.max), -1, wide).astype(np.int32)
        ptr = int32_ptr(ids) if ids.size else None
        needed = ctypes.c_size_t(0)
        capacity = 16 * ids.size + 1
        buf = ctypes.create_string_buffer(capacity)
        status = _capi.lstmkit_tokenizer_sequence_to_text(self._live(), ptr, ids.size, buf, capacity,
                                                          ctypes.byref(needed))
        if status == _capi.E_BUFFER_TOO_SMALL:
            buf = ctypes.create_string_buffer(needed.value)
            status = _capi.lstmkit_tokenizer_sequence_to_text(self._live(), ptr, ids.size, buf,
                                                              needed.value, ctypes.byref(needed))
        _capi.check(status)
        return buf.raw[:needed.value - 1].decode("utf-8")

    def to_json(self, **kwargs):
        """The library's JSON for this tokenizer (its options, counts, index); kwargs go to
        json.dumps when given, as in Keras."""
        text = _capi.read_text(_capi.lstmkit_tokenizer_to_json, self._live(), guess=1 << 16)
        if kwargs:
            return json.dumps(json.loads(text), **kwargs)
        return text

    def get_config(self):
        return json.loads(self.to_json())

    # ---- state read back from the library ----

    def _get_state(self):
        if self._state is None:
            self._state = _parse_state(json.loads(self.to_json(), object_pairs_hook=OrderedDict))
        return self._state

    @property
    def word_index(self):
        return dict(self._get_state()["word_index"])

    @property
    def index_word(self):
        return {i: w for w, i in self._get_state()["word_index"].items()}

    @property
    def word_counts(self):
        return OrderedDict(self._get_state()["word_counts"])

    @property
    def word_docs(self):
        docs = self._get_state().get("word_docs")
        return None if docs is None else dict(docs)

    @property
    def document_count(self):
        return self._get_state()["document_count"]

    @property
    def num_words(self):
        return self._get_state()["num_words"]

    @property
    def filters(self):
        return self._get_state()["filters"]

    @property
    def lower(self):
        return self._get_state()["lower"]

    @property
    def split(self):
        return self._get_state()["split"]

    @property
    def char_level(self):
        return self._get_state()["char_level"]

    @property
    def oov_token(self):
        return self._get_state()["oov_token"]

    def __repr__(self):
        return "<Tokenizer num_words=%s words=%d>" % (self.num_words, len(self._get_state()["word_index"]))


def _maybe_json(value):
    # Keras's own to_json stores the dictionaries as JSON strings inside the config; the library
    # writes them as [[key, value], ...] lists so their order survives any JSON reader.
    if isinstance(value, str):
        value = json.loads(value, object_pairs_hook=OrderedDict)
    if isinstance(value, list):
        return OrderedDict((k, v) for k, v in value)
    return value


def _parse_state(doc):
    config = doc.get("config", doc) if isinstance(doc.get("config"), dict) else doc
    options = config.get("options") if isinstance(config.get("options"), dict) else config
    state = {
        "num_words": options.get("num_words"),
        "filters": options.get("filters", DEFAULT_FILTERS),
        "lower": options.get("lower", True),
        "split": options.get("split", " "),
        "char_level": options.get("char_level", False),
        "oov_token": options.get("oov_token"),
        "document_count": int(config.get("document_count", 0)),
        "word_counts": OrderedDict(
            (w, int(c)) for w, c in (_maybe_json(config.get("word_counts")) or {}).items()),
        "word_index": OrderedDict(
            (w, int(i)) for w, i in (_maybe_json(config.get("word_index")) or {}).items()),
    }
    if config.get("word_docs") is not None:
        state["word_docs"] = _maybe_json(config["word_docs"])
    return state


def tokenizer_from_json(json_string):
    """A Tokenizer from Tokenizer.to_json()'s output."""
    if not isinstance(json_string, (str, bytes)):
        json_string = json.dumps(json_string)
    if isinstance(json_string, str):
        json_string = json_string.encode("utf-8")
    return Tokenizer._adopt(_capi.new_handle(_capi.lstmkit_tokenizer_from_json, json_string))
