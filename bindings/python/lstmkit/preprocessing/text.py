from ..text import Tokenizer, tokenizer_from_json

__all__ = ["Tokenizer", "tokenizer_from_json"]
