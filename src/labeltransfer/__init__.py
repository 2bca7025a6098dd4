"""labeltransfer: transfer stellar labels between surveys and compare the methods that do it."""

__version__ = "0.1.0"
