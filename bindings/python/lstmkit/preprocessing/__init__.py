"""keras.preprocessing's layout, so tutorial imports work unchanged:
from lstmkit.preprocessing.text import Tokenizer; from lstmkit.preprocessing.sequence import
pad_sequences."""

from . import sequence, text
