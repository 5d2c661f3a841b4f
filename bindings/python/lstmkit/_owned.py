"""The lifetime every binding object over a library handle shares (models, tokenizers, states)."""


class OwnedHandle:
    """Owns one library handle, freed by close(), a with block or garbage collection. Subclasses
    set _handle and say how to free it (_free) and what their handle is called (_what)."""

    _handle = None
    _what = "object"

    def _free(self, handle):
        raise NotImplementedError

    def _live(self):
        if not self._handle:
            raise ValueError("this %s has been closed" % self._what)
        return self._handle

    def close(self):
        handle, self._handle = self._handle, None
        if handle:
            self._free(handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown may have torn down _capi already
            pass
