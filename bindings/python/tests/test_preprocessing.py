"""Tokenizer and pad_sequences against Keras's documented behaviour (expected values written by
hand from keras.preprocessing.text / keras.utils.pad_sequences)."""

import ctypes
from collections import OrderedDict

import numpy as np
import pytest

import lstmkit
from lstmkit import _capi
from lstmkit.preprocessing.sequence import pad_sequences
from lstmkit.preprocessing.text import Tokenizer, tokenizer_from_json
from lstmkit.utils import to_categorical

CATS = ["The cat sat on the mat.", "The dog ate the cat's food!"]


def fitted(texts, **options):
    tok = Tokenizer(**options)
    tok.fit_on_texts(texts)
    return tok


# ---- Tokenizer ----

def test_counts_and_index_follow_keras():
    tok = fitted(CATS)
    # Lowercased, punctuation from `filters` removed (the apostrophe is not a filter).
    assert tok.word_counts == OrderedDict([("the", 4), ("cat", 1), ("sat", 1), ("on", 1),
                                           ("mat", 1), ("dog", 1), ("ate", 1), ("cat's", 1),
                                           ("food", 1)])
    assert tok.word_index == {"the": 1, "cat": 2, "sat": 3, "on": 4, "mat": 5, "dog": 6,
                              "ate": 7, "cat's": 8, "food": 9}
    assert tok.index_word[8] == "cat's"
    assert tok.document_count == 2
    assert tok.texts_to_sequences(["the cat ate the food", "unknown words here", "Mat!", ""]) == \
        [[1, 2, 7, 1, 9], [], [5], []]


def test_ties_keep_first_seen_order():
    # b:1, a:2, c:2 -> sorted by count, ties in order of first appearance: a, c, b.
    assert fitted(["b a", "c c a"]).word_index == {"a": 1, "c": 2, "b": 3}


def test_fit_accumulates_over_calls():
    tok = Tokenizer()
    tok.fit_on_texts(["a b"])
    tok.fit_on_texts(["b c"])
    assert tok.document_count == 2
    assert tok.word_index == {"b": 1, "a": 2, "c": 3}


def test_num_words_keeps_ids_below_it_but_the_whole_index():
    tok = fitted(CATS, num_words=4)
    assert tok.num_words == 4
    assert len(tok.word_index) == 9
    assert tok.texts_to_sequences(["the cat sat on the mat"]) == [[1, 2, 3, 1]]


def test_oov_token_takes_index_1():
    tok = fitted(CATS, oov_token="<OOV>")
    assert tok.word_index["<OOV>"] == 1 and tok.word_index["the"] == 2
    assert tok.word_index["food"] == 10
    assert tok.texts_to_sequences(["the zebra cat"]) == [[2, 1, 3]]
    limited = fitted(CATS, oov_token="<OOV>", num_words=4)
    # Ids >= num_words become the OOV id instead of disappearing.
    assert limited.texts_to_sequences(["the cat sat on"]) == [[2, 3, 1, 1]]


def test_char_level_counts_every_character_unfiltered():
    tok = fitted(["AaB!"], char_level=True)
    assert tok.word_index == {"a": 1, "b": 2, "!": 3}
    assert tok.texts_to_sequences(["ba! c"]) == [[2, 1, 3]]
    # More ids than the word-mode size estimate: exercises the buffer retry.
    spaced = fitted(["ab ab"], char_level=True)
    assert spaced.word_index == {"a": 1, "b": 2, " ": 3}
    assert spaced.texts_to_sequences(["ab ab", "abba" * 50]) == [[1, 2, 3, 1, 2], [1, 2, 2, 1] * 50]


def test_lower_false_keeps_case():
    assert fitted(["The the THE the"], lower=False).word_index == {"the": 1, "The": 2, "THE": 3}


def test_custom_split():
    # Filters are replaced by the split string; empty pieces are dropped; ' ' is not a filter.
    assert fitted(["a,b c,,a"], split=",").word_index == {"a": 1, "b c": 2}


def test_whitespace_filters_and_html_breaks():
    tok = fitted(["good<br /><br />bad\tfilm\nend  here"])
    assert list(tok.word_counts.items()) == [("good", 1), ("br", 2), ("bad", 1), ("film", 1),
                                             ("end", 1), ("here", 1)]


def test_unicode_lowercase_and_no_unicode_splitting():
    tok = fitted(["Café CAFÉ naïve", "a\u0085b c\u00a0d"])
    assert tok.word_counts["café"] == 2 and tok.word_counts["naïve"] == 1
    # Only the split string separates words: NEL and NBSP stay inside them.
    assert "a\u0085b" in tok.word_index and "c\u00a0d" in tok.word_index
    assert tok.texts_to_sequences(["CAFÉ"]) == [[tok.word_index["café"]]]


def test_filters_option():
    tok = fitted(["a-b c.d"], filters=".")
    assert tok.word_index == {"a-b": 1, "c": 2, "d": 3}


def test_pandas_series_input():
    pd = pytest.importorskip("pandas")
    tok = Tokenizer()
    tok.fit_on_texts(pd.Series(["x y", "y"], index=[10, 20]))
    assert tok.word_index == {"y": 1, "x": 2}
    assert tok.texts_to_sequences(pd.Series(["x y", "y z"])) == [[2, 1], [1]]


def test_json_round_trip():
    tok = fitted(CATS, num_words=5, oov_token="<OOV>")
    copy = tokenizer_from_json(tok.to_json())
    assert copy.word_index == tok.word_index
    assert copy.word_counts == tok.word_counts
    assert copy.document_count == 2 and copy.num_words == 5 and copy.oov_token == "<OOV>"
    texts = ["the dog ate a cat", "mat on the sat"]
    assert copy.texts_to_sequences(texts) == tok.texts_to_sequences(texts)


def test_bad_texts_are_refused():
    tok = Tokenizer()
    with pytest.raises(TypeError):
        tok.fit_on_texts("not a list")
    with pytest.raises(TypeError):
        tok.fit_on_texts(["ok", 3.5])
    with pytest.raises(lstmkit.BadConfigError):
        tokenizer_from_json("{not json")


def test_closed_tokenizer():
    tok = fitted(["a"])
    tok.close()
    tok.close()
    with pytest.raises(ValueError):
        tok.texts_to_sequences(["a"])


# ---- pad_sequences (the examples of Keras's docstring, then edge cases) ----

SEQ = [[1], [2, 3], [4, 5, 6]]


def test_keras_docstring_examples():
    out = pad_sequences(SEQ)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [[0, 0, 1], [0, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(pad_sequences(SEQ, value=-1), [[-1, -1, 1], [-1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(pad_sequences(SEQ, padding="post"), [[1, 0, 0], [2, 3, 0], [4, 5, 6]])
    np.testing.assert_array_equal(pad_sequences(SEQ, maxlen=2), [[0, 1], [2, 3], [5, 6]])


def test_truncating_post_and_longer_maxlen():
    np.testing.assert_array_equal(pad_sequences(SEQ, maxlen=2, truncating="post"),
                                  [[0, 1], [2, 3], [4, 5]])
    np.testing.assert_array_equal(pad_sequences(SEQ, maxlen=2, padding="post", truncating="post"),
                                  [[1, 0], [2, 3], [4, 5]])
    np.testing.assert_array_equal(pad_sequences(SEQ, maxlen=5),
                                  [[0, 0, 0, 0, 1], [0, 0, 0, 2, 3], [0, 0, 4, 5, 6]])


def test_empty_sequences_and_containers():
    np.testing.assert_array_equal(pad_sequences([[], [7], []], maxlen=2), [[0, 0], [0, 7], [0, 0]])
    assert pad_sequences([[], []]).shape == (2, 0)
    np.testing.assert_array_equal(pad_sequences([np.array([1, 2]), np.array([3])]), [[1, 2], [0, 3]])
    np.testing.assert_array_equal(pad_sequences(np.array([[1, 2, 3], [4, 5, 6]]), maxlen=2),
                                  [[2, 3], [5, 6]])
    pd = pytest.importorskip("pandas")
    np.testing.assert_array_equal(pad_sequences(pd.Series([[1], [2, 3]])), [[0, 1], [2, 3]])


def test_dtypes():
    out = pad_sequences(SEQ, dtype="int64")
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [[0, 0, 1], [0, 2, 3], [4, 5, 6]])
    floats = pad_sequences([[0.5, 1.5], [2.5]], dtype="float32", value=-1.0)
    assert floats.dtype == np.float32
    np.testing.assert_array_equal(floats, [[0.5, 1.5], [-1.0, 2.5]])
    # Sequences of vectors keep their sample shape.
    vectors = pad_sequences([[[1, 2]], [[3, 4], [5, 6]]])
    assert vectors.shape == (2, 2, 2)
    np.testing.assert_array_equal(vectors[0], [[0, 0], [1, 2]])


def test_bad_modes():
    with pytest.raises(ValueError, match="Padding type"):
        pad_sequences(SEQ, padding="middle")
    with pytest.raises(ValueError, match="Truncating type"):
        pad_sequences(SEQ, truncating="middle")


def test_library_pad_reports_small_buffers_and_bad_modes():
    ids = (ctypes.c_int32 * 3)(1, 2, 3)
    offsets = (ctypes.c_int64 * 3)(0, 1, 3)
    out = (ctypes.c_int32 * 6)()
    assert _capi.lstmkit_pad_sequences(ids, offsets, 2, 3, 0, 0, 0, out, 5) == _capi.E_BUFFER_TOO_SMALL
    assert _capi.lstmkit_pad_sequences(ids, offsets, 2, 3, 7, 0, 0, out, 6) == _capi.E_INVALID_ARGUMENT
    assert _capi.last_error()
    bad_offsets = (ctypes.c_int64 * 3)(0, 2, 1)  # decreasing: not a valid ragged layout
    assert _capi.lstmkit_pad_sequences(ids, bad_offsets, 2, 3, 0, 0, 0, out, 6) == _capi.E_INVALID_ARGUMENT
    assert _capi.lstmkit_pad_sequences(ids, offsets, 2, 3, 1, 1, 9, out, 6) == _capi.OK
    assert list(out) == [1, 9, 9, 2, 3, 9]


# ---- utils ----

def test_to_categorical():
    np.testing.assert_array_equal(to_categorical([0, 2, 1]), np.eye(3)[[0, 2, 1]])
    col = to_categorical(np.array([[1], [0]]), num_classes=4)
    assert col.shape == (2, 4) and col.dtype == np.float32
    np.testing.assert_array_equal(col, [[0, 1, 0, 0], [1, 0, 0, 0]])
