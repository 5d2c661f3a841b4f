"""Text in one call: lstmkit_model_predict_texts (tokenizer + saved text padding + predict), the
text padding and target tokenizer saved in the model file, and sequence_to_text.

The references are the separate steps (texts_to_sequences, pad_sequences, predict), which other
tests check against Keras, and a Keras-semantics sequences_to_texts written out here."""

import ctypes
import json
import struct
import warnings
import zlib

import numpy as np
import pytest

import lstmkit
from lstmkit import _capi
from lstmkit.errors import (BadConfigError, BufferTooSmallError, FormatError, InvalidArgumentError,
                            WrongStateError)
from lstmkit.layers import LSTM, Dense, Embedding
from lstmkit.models import load_model
from lstmkit.sequence import pad_sequences
from lstmkit.text import Tokenizer

CORPUS = ["the cat sat on the mat", "the dog ate my homework", "a cat and a dog",
          "my cat likes the sun on the mat", "the end of the story", "the dog sat"]
TEXTS = ["the cat", "a dog sat on my mat and the cat ate the sun the end",   # longer than 7
         "The CAT, the DOG!", "story of my homework", "cat cat cat cat cat cat cat cat cat",
         "sun", "the mat and the dog and the cat and the end of it all"]
MAXLEN = 7


def make_model(input_length=MAXLEN, vocab=30, seed=5):
    lstmkit.utils.set_random_seed(seed)
    model = lstmkit.Sequential([Embedding(vocab, 6), LSTM(5), Dense(2, activation="softmax")])
    model.build((None, input_length))
    return model


def fitted_tokenizer(**options):
    tok = Tokenizer(**options)
    tok.fit_on_texts(CORPUS)
    return tok


def reference(model, tok, texts, maxlen, padding, truncating, value=0, batch_size=32):
    x = pad_sequences(tok.texts_to_sequences(texts), maxlen=maxlen, padding=padding,
                      truncating=truncating, value=value)
    return model.predict(x, batch_size=batch_size, verbose=0)


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
@pytest.mark.parametrize("oov_token", [None, "<oov>"])
def test_predict_texts_equals_the_separate_steps_bitwise(padding, truncating, oov_token, tmp_path):
    model = make_model()
    tok = fitted_tokenizer(oov_token=oov_token)
    model.save(tmp_path / "m.lstmkit", tokenizer=tok,
               padding=dict(maxlen=MAXLEN, padding=padding, truncating=truncating))
    want = reference(model, tok, TEXTS, MAXLEN, padding, truncating, batch_size=3)
    got, lengths = model.predict_texts(TEXTS, batch_size=3, verbose=0, return_lengths=True)
    assert got.dtype == np.float32 and got.shape == (len(TEXTS), 2)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    assert lengths.tolist() == [len(s) for s in tok.texts_to_sequences(TEXTS)]
    assert max(lengths) > MAXLEN   # truncation was exercised

    loaded = load_model(tmp_path / "m.lstmkit")
    assert loaded.text_padding == {"maxlen": MAXLEN, "padding": padding, "truncating": truncating,
                                   "value": 0}
    again = loaded.predict_texts(TEXTS, batch_size=3, verbose=0)
    assert np.array_equal(again.view(np.uint32), want.view(np.uint32))


def test_the_four_settings_give_different_rows():
    # Otherwise the test above could pass with the settings ignored.
    model = make_model()
    model.tokenizer = fitted_tokenizer()
    outs = []
    for padding in ("pre", "post"):
        for truncating in ("pre", "post"):
            model.text_padding = dict(padding=padding, truncating=truncating)
            outs.append(model.predict_texts(TEXTS[:2], verbose=0))   # a short text, a long one
    assert len({o.tobytes() for o in outs}) == 4


def test_maxlen_and_value_are_used_and_saved(tmp_path):
    # A model whose configuration leaves the length open takes any maxlen.
    lstmkit.utils.set_random_seed(3)
    model = lstmkit.Sequential([Embedding(30, 6), LSTM(5), Dense(1, activation="sigmoid")])
    model.build((None, None))
    tok = fitted_tokenizer()
    model.save(tmp_path / "m.lstmkit", tokenizer=tok,
               padding=dict(maxlen=4, padding="post", truncating="pre", value=3))
    want = reference(model, tok, TEXTS, 4, "post", "pre", value=3)
    got = model.predict_texts(TEXTS, verbose=0)
    assert np.array_equal(got, want)
    loaded = load_model(tmp_path / "m.lstmkit")
    assert loaded.text_padding == {"maxlen": 4, "padding": "post", "truncating": "pre", "value": 3}
    assert np.array_equal(loaded.predict_texts(TEXTS, verbose=0), want)


def test_maxlen_left_out_is_the_models_input_length(tmp_path):
    model = make_model(input_length=9)
    tok = fitted_tokenizer()
    model.save(tmp_path / "m.lstmkit", tokenizer=tok, padding=dict(padding="post"))
    assert model.text_padding == {"maxlen": 9, "padding": "post", "truncating": "pre", "value": 0}
    want = reference(model, tok, TEXTS, 9, "post", "pre")
    assert np.array_equal(load_model(tmp_path / "m.lstmkit").predict_texts(TEXTS, verbose=0), want)


def test_a_length_learnt_from_training_data_is_used():
    # Embedding without input_length, trained on rows of 5: the saved trained length is the one.
    lstmkit.utils.set_random_seed(4)
    model = lstmkit.Sequential([Embedding(30, 6), LSTM(5), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    tok = fitted_tokenizer()
    x = pad_sequences(tok.texts_to_sequences(CORPUS), maxlen=5)
    model.fit(x, np.array([0, 1, 0, 1, 0, 1], np.float32), epochs=1, verbose=0)
    model.tokenizer = tok
    assert model.text_padding["maxlen"] == 5
    assert np.array_equal(model.predict_texts(TEXTS, verbose=0), reference(model, tok, TEXTS, 5, "pre", "pre"))


def strip_metadata(path, keys):
    """Rewrites a model file without some metadata entries, as a file written before they
    existed, with the checksum recomputed (the CRC-32 of the other metadata values in key order,
    then the data)."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    meta = header["__metadata__"]
    for key in keys:
        del meta[key]
    del meta["lstmkit.crc32"]
    crc = 0
    for key in sorted(meta):
        crc = zlib.crc32(meta[key].encode("utf-8"), crc)
    meta["lstmkit.crc32"] = "%08x" % zlib.crc32(data, crc)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


def test_a_file_without_text_padding_pads_as_keras_defaults(tmp_path):
    model = make_model()
    tok = fitted_tokenizer()
    path = tmp_path / "old.lstmkit"
    model.save(path, tokenizer=tok, padding=dict(padding="post", truncating="post"))
    strip_metadata(path, ["lstmkit.text_padding"])
    old = load_model(path)
    assert old.text_padding == {"maxlen": MAXLEN, "padding": "pre", "truncating": "pre", "value": 0}
    want = reference(model, tok, TEXTS, MAXLEN, "pre", "pre")
    assert np.array_equal(old.predict_texts(TEXTS, verbose=0), want)


def test_an_open_length_without_maxlen_fails_clearly():
    model = make_model(input_length=None)
    model.tokenizer = fitted_tokenizer()
    assert model.text_padding["maxlen"] is None
    with pytest.raises(WrongStateError, match="input length.*lstmkit_model_set_text_padding"):
        model.predict_texts(["the cat"], verbose=0)
    model.text_padding = dict(maxlen=3)
    assert model.predict_texts(["the cat"], verbose=0).shape == (1, 2)


def test_damaged_text_padding_in_a_file_is_a_format_error(tmp_path):
    model = make_model()
    path = tmp_path / "m.lstmkit"
    model.save(path, tokenizer=fitted_tokenizer(), padding=dict(padding="post"))
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header["__metadata__"]["lstmkit.text_padding"] = json.dumps(
        {"maxlen": 7, "padding": "middle", "truncating": "pre", "value": 0})
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n:])
    strip_metadata(path, [])   # a valid checksum, so the content is what is refused
    with pytest.raises(FormatError, match="padding must be"):
        load_model(path)


# ---- empty and unknown texts ----

def test_empty_and_unknown_texts_predict_on_padding_and_say_so():
    model = make_model()
    tok = fitted_tokenizer()
    model.tokenizer = tok
    texts = ["the cat", "", "zebra quokka", "!!! ...", "the"]
    with pytest.warns(UserWarning, match=r"3 of 5 texts gave no token id.*texts 1, 2, 3"):
        got, lengths = model.predict_texts(texts, verbose=0, return_lengths=True)
    assert lengths.tolist() == [2, 0, 0, 0, 1]
    padding_row = model.predict(np.zeros((1, MAXLEN), np.int32), verbose=0)[0]
    for i in (1, 2, 3):
        assert np.array_equal(got[i], padding_row)
    assert not np.array_equal(got[0], padding_row)


def test_unknown_words_with_an_oov_token_are_oov_ids_not_empty():
    model = make_model()
    tok = fitted_tokenizer(oov_token="<oov>")
    model.tokenizer = tok
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no warning: the row holds ids
        got, lengths = model.predict_texts(["zebra quokka", "the"], verbose=0, return_lengths=True)
    assert lengths.tolist() == [2, 1]
    oov_row = np.array([[0] * (MAXLEN - 2) + [1, 1]], np.int32)
    assert np.array_equal(got[0], model.predict(oov_row, verbose=0)[0])


def test_words_beyond_num_words_are_dropped_as_in_texts_to_sequences():
    model = make_model()
    tok = fitted_tokenizer(num_words=4)   # the, cat, dog
    model.tokenizer = tok
    got, lengths = model.predict_texts(["the homework story cat"], verbose=0, return_lengths=True)
    assert lengths.tolist() == [2]
    assert np.array_equal(got, reference(model, tok, ["the homework story cat"], MAXLEN, "pre", "pre"))


# ---- errors, from Python and straight through ctypes ----

def test_without_a_tokenizer_the_message_says_how_to_attach_one():
    model = make_model()
    with pytest.raises(WrongStateError, match="no tokenizer.*lstmkit_model_set_tokenizer.*tokenizer="):
        model.predict_texts(["the cat"], verbose=0)


def test_a_tokenizer_larger_than_the_embedding_is_named():
    model = make_model(vocab=5)
    model.tokenizer = fitted_tokenizer()   # ids up to 17
    with pytest.raises(InvalidArgumentError, match=r"texts\[0\] gives token id \d+.*0\.\.<5.*num_words=5"):
        model.predict_texts(["homework story sun"], verbose=0)


def test_a_model_without_an_embedding_takes_no_texts():
    lstmkit.utils.set_random_seed(1)
    model = lstmkit.Sequential([LSTM(3), Dense(1)])
    model.build((None, 4, 2))
    model.tokenizer = fitted_tokenizer()
    with pytest.raises(InvalidArgumentError, match="Embedding"):
        model.predict_texts(["the cat"], verbose=0)
    with pytest.raises(InvalidArgumentError, match="Embedding"):
        model.text_padding = dict(maxlen=4)


def test_bad_padding_settings_are_refused():
    model = make_model()
    with pytest.raises(InvalidArgumentError, match="maxlen is 5.*7"):
        model.text_padding = dict(maxlen=5)
    with pytest.raises(InvalidArgumentError, match="padding value 30 .*0\\.\\.<30"):
        model.text_padding = dict(value=30)
    with pytest.raises(ValueError, match='"pre" or "post"'):
        model.text_padding = dict(padding="middle")
    with pytest.raises(TypeError, match="dtype"):
        model.text_padding = dict(dtype="int32")
    handle = model._live()
    for args, message in [((0, 0, 0, 0), "maxlen must be -1"), ((-2, 0, 0, 0), "maxlen must be -1"),
                          ((7, 2, 0, 0), "padding must be LSTMKIT_PAD_PRE"),
                          ((7, 0, -1, 0), "truncating must be LSTMKIT_PAD_PRE"),
                          ((7, 0, 0, -1), "padding value -1")]:
        assert _capi.lstmkit_model_set_text_padding(handle, *args) == _capi.E_INVALID_ARGUMENT
        assert message in _capi.last_error()
    assert model.text_padding == {"maxlen": 7, "padding": "pre", "truncating": "pre", "value": 0}
    assert _capi.lstmkit_model_set_text_padding(None, 7, 0, 0, 0) == _capi.E_INVALID_ARGUMENT
    assert _capi.lstmkit_model_get_text_padding(None, None, None, None, None) == _capi.E_INVALID_ARGUMENT
    assert _capi.lstmkit_model_get_text_padding(handle, None, None, None, None) == _capi.OK


class CCall:
    """lstmkit_model_predict_texts with explicit arguments."""

    def __init__(self, handle, texts):
        self.handle = handle
        self.array = (ctypes.c_char_p * max(len(texts), 1))(*texts)
        self.count = ctypes.c_size_t(12345)
        self.shape = (ctypes.c_int64 * 8)()
        self.ndim = ctypes.c_int32(0)
        self.lengths = (ctypes.c_int64 * max(len(texts), 1))()

    def __call__(self, n, out=None, capacity=0, batch_size=8, texts=True, lengths=True):
        return _capi.lstmkit_model_predict_texts(
            self.handle, self.array if texts else None, n, batch_size, out, capacity,
            ctypes.byref(self.count), self.shape, 8, ctypes.byref(self.ndim),
            self.lengths if lengths else None)


def test_bad_arguments_through_the_c_api():
    model = make_model()
    model.tokenizer = fitted_tokenizer()
    texts = [b"the cat", b"a dog sat"]
    call = CCall(model._live(), texts)
    out = (ctypes.c_float * 4)()

    # size query, then the call itself
    assert call(2) == _capi.OK and call.count.value == 4
    assert list(call.shape[:call.ndim.value]) == [2, 2] and list(call.lengths[:2]) == [2, 3]
    assert call(2, out, 4) == _capi.OK
    want = model.predict(pad_sequences(model.tokenizer.texts_to_sequences(
        [t.decode() for t in texts]), maxlen=MAXLEN), batch_size=8, verbose=0)
    assert np.array_equal(np.ctypeslib.as_array(out).reshape(2, 2), want)
    assert call(2, out, 4, lengths=False) == _capi.OK

    assert call(2, out, 3) == _capi.E_BUFFER_TOO_SMALL and call.count.value == 4
    assert "4 are needed" in _capi.last_error()
    assert call(0, out, 4) == _capi.E_INVALID_ARGUMENT and "n is 0" in _capi.last_error()
    assert call(2, out, 4, texts=False) == _capi.E_INVALID_ARGUMENT
    assert "texts is NULL" in _capi.last_error()
    assert call(2, out, 4, batch_size=0) == _capi.E_INVALID_ARGUMENT
    assert "batch_size" in _capi.last_error()
    assert call(2, None, 4) == _capi.E_INVALID_ARGUMENT   # capacity without a buffer

    holes = CCall(model._live(), [b"the cat", None, b"dog"])
    assert holes(3, out, 4) == _capi.E_INVALID_ARGUMENT
    assert "texts[1] is NULL" in _capi.last_error()

    bad = CCall(model._live(), [b"the cat", b"ok", b"caf\xc3 bad"])
    assert bad(3, out, 6) == _capi.E_INVALID_ARGUMENT
    assert "texts[2]" in _capi.last_error() and "UTF-8" in _capi.last_error()

    nothing = CCall(None, texts)
    assert nothing(2, out, 4) == _capi.E_INVALID_ARGUMENT and "model is NULL" in _capi.last_error()
    tok = fitted_tokenizer()
    foreign = CCall(tok._live(), texts)
    assert foreign(2, out, 4) == _capi.E_INVALID_ARGUMENT and "not a live model" in _capi.last_error()

    bare = make_model()
    no_tok = CCall(bare._live(), texts)
    assert no_tok(2, out, 4) == _capi.E_WRONG_STATE
    assert "lstmkit_model_set_tokenizer" in _capi.last_error()


def test_invalid_utf8_from_python_bytes_is_named():
    model = make_model()
    model.tokenizer = fitted_tokenizer()
    with pytest.raises(InvalidArgumentError, match=r"texts\[1\].*UTF-8"):
        model.predict_texts([b"the cat", b"\xff\xfe"], verbose=0)
    with pytest.raises(TypeError, match="single string"):
        model.predict_texts("the cat", verbose=0)


# ---- the target tokenizer ----

def test_target_tokenizer_is_saved_and_loaded(tmp_path):
    model = make_model()
    src = fitted_tokenizer()
    tgt = Tokenizer(oov_token="?")
    tgt.fit_on_texts(["le chat est assis", "le chien a mangé mes devoirs"])
    assert model.target_tokenizer is None
    model.save(tmp_path / "m.lstmkit", tokenizer=src, target_tokenizer=tgt)
    loaded = load_model(tmp_path / "m.lstmkit")
    assert loaded.tokenizer.to_json() == src.to_json()
    assert loaded.target_tokenizer.to_json() == tgt.to_json()
    assert loaded.target_tokenizer.sequences_to_texts([[2, 3, 0, 4]]) == ["le chat est"]
    loaded.target_tokenizer = None
    loaded.save(tmp_path / "n.lstmkit")
    assert load_model(tmp_path / "n.lstmkit").target_tokenizer is None
    assert load_model(tmp_path / "n.lstmkit").tokenizer is not None
    with pytest.raises(TypeError):
        model.target_tokenizer = "not a tokenizer"


# ---- sequence_to_text ----

def keras_sequences_to_texts(config, sequences):
    """Keras 2's Tokenizer.sequences_to_texts_generator, from the tokenizer's word_index and
    options, except that 0 is skipped (padding; Keras would write the OOV token)."""
    word_index = dict(config["word_index"])
    index_word = {i: w for w, i in word_index.items()}
    num_words, oov = config["num_words"], config["oov_token"]
    oov_index = word_index.get(oov)
    texts = []
    for seq in sequences:
        words = []
        for num in seq:
            if num == 0:
                continue
            word = index_word.get(num)
            if word is not None:
                if num_words and num >= num_words:
                    if oov_index is not None:
                        words.append(index_word[oov_index])
                else:
                    words.append(word)
            elif oov is not None:
                words.append(index_word[oov_index])
        texts.append(("" if config["char_level"] else " ").join(words))
    return texts


@pytest.mark.parametrize("options", [{}, {"oov_token": "<unk>"}, {"num_words": 5},
                                     {"num_words": 5, "oov_token": "<unk>"},
                                     {"oov_token": "cat"},   # the OOV token is also a word
                                     {"char_level": True}, {"char_level": True, "oov_token": "#"}])
def test_sequence_to_text_follows_keras(options, rng):
    tok = fitted_tokenizer(**options)
    config = json.loads(tok.to_json())["config"]
    vocab = len(config["word_index"])
    sequences = [rng.integers(-3, vocab + 4, size=rng.integers(0, 12)).tolist() for _ in range(200)]
    sequences += [[], [0, 0], [1], [vocab], [vocab + 1], [2 ** 31 - 1, -2 ** 31]]
    assert tok.sequences_to_texts(sequences) == keras_sequences_to_texts(config, sequences)


def test_sequence_to_text_inverts_texts_to_sequences():
    tok = fitted_tokenizer()
    seqs = tok.texts_to_sequences(CORPUS)
    assert tok.sequences_to_texts(seqs) == [t.lower() for t in CORPUS]
    padded = pad_sequences(seqs, maxlen=12, padding="post")
    assert tok.sequences_to_texts(padded) == [t.lower() for t in CORPUS]
    utf = Tokenizer()
    utf.fit_on_texts(["été où ça garçon"])
    assert utf.sequences_to_texts(utf.texts_to_sequences(["Ça été"])) == ["ça été"]


def test_sequence_to_text_buffers_through_the_c_api():
    tok = fitted_tokenizer()
    handle = tok._live()
    ids = (ctypes.c_int32 * 3)(1, 2, 3)   # the cat on? whatever they are: three words
    needed = ctypes.c_size_t(0)
    assert _capi.lstmkit_tokenizer_sequence_to_text(handle, ids, 3, None, 0, ctypes.byref(needed)) == _capi.OK
    text = tok.sequences_to_texts([[1, 2, 3]])[0].encode()
    assert needed.value == len(text) + 1
    small = ctypes.create_string_buffer(needed.value - 1)
    assert _capi.lstmkit_tokenizer_sequence_to_text(handle, ids, 3, small, len(small),
                                                    ctypes.byref(needed)) == _capi.E_BUFFER_TOO_SMALL
    assert needed.value == len(text) + 1
    buf = ctypes.create_string_buffer(needed.value)
    assert _capi.lstmkit_tokenizer_sequence_to_text(handle, ids, 3, buf, len(buf), None) == _capi.OK
    assert buf.value == text
    # n = 0 takes a NULL ids and gives ""
    assert _capi.lstmkit_tokenizer_sequence_to_text(handle, None, 0, buf, len(buf), ctypes.byref(needed)) == _capi.OK
    assert needed.value == 1 and buf.value == b""
    assert _capi.lstmkit_tokenizer_sequence_to_text(handle, None, 2, buf, len(buf), None) == _capi.E_INVALID_ARGUMENT
    assert "ids is NULL" in _capi.last_error()
    assert _capi.lstmkit_tokenizer_sequence_to_text(None, ids, 3, buf, len(buf), None) == _capi.E_INVALID_ARGUMENT
    assert _capi.lstmkit_tokenizer_sequence_to_text(handle, ids, 3, None, 8, None) == _capi.E_INVALID_ARGUMENT


# ---- threads ----

def test_eight_threads_predict_texts_the_sequential_bits():
    """predict_texts shares the model with other reading calls, as predict does (ctypes releases
    the GIL, so the threads overlap in the library), and gives what one thread gives."""
    import threading
    lstmkit.utils.set_random_seed(11)
    model = lstmkit.Sequential([lstmkit.Input(shape=(12,), dtype="int32"), Embedding(30, 8),
                                LSTM(192), Dense(2)])   # wide enough for the batch-1 unit split
    model.compile(optimizer="adam", loss="mse")
    model.tokenizer = fitted_tokenizer(oov_token="?")
    model.text_padding = dict(padding="post")
    groups = [TEXTS[k:] + TEXTS[:k] for k in range(8)]
    want = {(k, bs): model.predict_texts(groups[k], batch_size=bs, verbose=0)
            for k in range(8) for bs in (1, 3)}
    bad, errors = [], []

    def work(k):
        try:
            for _ in range(8):
                for bs in (1, 3):
                    if not np.array_equal(model.predict_texts(groups[k], batch_size=bs, verbose=0),
                                          want[(k, bs)]):
                        bad.append((k, bs))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert not bad, bad[:5]


def test_setting_the_padding_waits_for_predict_texts():
    """A thread switching the text padding while others predict: every result is the output of
    one setting or the other, never of a mix."""
    import threading
    model = make_model()
    model.tokenizer = fitted_tokenizer()
    outputs = {}
    for padding in ("pre", "post"):
        model.text_padding = dict(padding=padding)
        outputs[padding] = model.predict_texts(TEXTS, batch_size=2, verbose=0).tobytes()
    assert outputs["pre"] != outputs["post"]
    seen, errors, stop = [], [], threading.Event()

    def predictor():
        try:
            while not stop.is_set():
                seen.append(model.predict_texts(TEXTS, batch_size=2, verbose=0).tobytes())
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    def switcher():
        try:
            for k in range(200):
                model.text_padding = dict(padding="pre" if k % 2 else "post")
        except BaseException as e:  # noqa: BLE001
            errors.append(e)
        finally:
            stop.set()
    threads = [threading.Thread(target=predictor) for _ in range(3)] + [threading.Thread(target=switcher)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert seen and set(seen) <= set(outputs.values())


def test_a_refused_padding_in_save_attaches_nothing_and_writes_nothing(tmp_path):
    """save(tokenizer=..., padding=<refused>) leaves the model as it was: no tokenizer attached,
    no file written."""
    model = make_model()
    path = tmp_path / "m.lstmkit"
    with pytest.raises(InvalidArgumentError, match="maxlen is 5"):
        model.save(path, tokenizer=fitted_tokenizer(), padding=dict(maxlen=5))
    assert model.tokenizer is None
    assert not path.exists()
