"""proxy/daemon/allocator.py: the arena cap takes hold (counted by glibc's own malloc_info) and trim runs."""

import os
import subprocess
import sys
import textwrap

import pytest

from proxy.daemon import allocator
from tests.harness import ROOT

# glibc reads MALLOC_ARENA_MAX and friends at start: the children start from glibc's own defaults.
GLIBC_DEFAULTS = {name: value for name, value in os.environ.items() if not name.startswith("MALLOC_")}

# In a fresh interpreter: cap (or not), then 16 threads whose first malloc each wants an arena of its own
# (glibc gives a new thread a new arena while there are fewer than the cap), then count glibc's heaps.
_ARENAS = textwrap.dedent(
    """
    import ctypes, sys, tempfile, threading
    from proxy.daemon import allocator
    cap = int(sys.argv[1])
    print("capped" if allocator.limit_arenas(cap) else "uncapped")
    go = threading.Barrier(16)
    def work():
        go.wait()
        blocks = [bytearray(4096) for _ in range(200)]
        go.wait()
    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    libc = ctypes.CDLL("libc.so.6")
    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    with tempfile.NamedTemporaryFile() as out:
        stream = libc.fopen(out.name.encode(), b"w")
        libc.malloc_info(0, stream)
        libc.fclose(stream)
        print(open(out.name).read().count("<heap nr="))
    """
)


def fresh(script: str, value: int) -> tuple[str, int]:
    """Run ``script`` in a fresh interpreter with ``value``; the state and the count it prints."""
    result = subprocess.run(
        [sys.executable, "-c", script, str(value)],
        cwd=ROOT,
        env=GLIBC_DEFAULTS,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    state, count = result.stdout.split()
    return state, int(count)


def arenas(cap: int) -> tuple[str, int]:
    return fresh(_ARENAS, cap)


@pytest.mark.skipif(allocator._libc() is None, reason="glibc only")
def test_the_cap_holds_for_threads_started_after_it():
    assert arenas(2) == ("capped", 2)
    state, uncapped = arenas(0)  # 0: glibc's default, several arenas for 16 threads
    assert state == "uncapped" and uncapped > 2


@pytest.mark.skipif(allocator._libc() is None, reason="glibc only")
def test_trim_returns_whether_memory_went_back():
    assert allocator.trim() in (True, False)
    blocks = [bytearray(64 * 1024) for _ in range(200)]  # below the mmap threshold: from the heap
    del blocks
    assert allocator.trim() is True  # 12 MB freed at the heap's end: given back


def test_no_cap_asked_is_no_call():
    assert allocator.limit_arenas(0) is False


# In a fresh interpreter: fix the threshold (or not), free a mapped 2 MiB block (glibc then raises a threshold it
# was not told), and see whether the next 2 MiB block is mapped on its own (mallinfo2's hblks counts them).
_MAPPED = textwrap.dedent(
    """
    import ctypes, sys
    from proxy.daemon import allocator
    print("fixed" if allocator.fix_mmap_threshold(int(sys.argv[1])) else "dynamic")
    class Info(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in "arena ordblks smblks hblks hblkhd usmblks fsmblks "
                    "uordblks fordblks keepcost".split()]
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = Info
    first = bytearray(2 << 20)
    del first
    before = libc.mallinfo2().hblks
    second = bytearray(2 << 20)
    print(libc.mallinfo2().hblks - before)
    """
)


def mapped_on_its_own(kib: int) -> tuple[str, int]:
    return fresh(_MAPPED, kib)


@pytest.mark.skipif(allocator._libc() is None, reason="glibc only")
def test_a_fixed_mmap_threshold_keeps_large_blocks_out_of_the_heap():
    assert mapped_on_its_own(1024) == ("fixed", 1)  # mapped, so given back the moment it is freed
    assert mapped_on_its_own(0) == ("dynamic", 0)  # glibc's own: from the heap, where it leaves a hole


def test_no_threshold_asked_is_no_call():
    assert allocator.fix_mmap_threshold(0) is False
