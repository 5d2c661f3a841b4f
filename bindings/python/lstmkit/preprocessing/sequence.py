from ..sequence import pad_sequences

__all__ = ["pad_sequences"]
