"""The optimized swap model: a Numba implementation of `reference.api.SwapImpl` built the way
the kernel builds it (packed slot words, free bitmaps, intrusive cluster lists, a per-CPU
hint) and fast in batch (`OptimizedSwap.apply` runs a whole op array in one JIT call)."""

from optimized.swap import OptimizedSwap

__all__ = ["OptimizedSwap"]
