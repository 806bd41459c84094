"""proxy/daemon/allocator.py: the arena cap takes hold (counted by glibc's own malloc_info) and trim runs."""

import subprocess
import sys
import textwrap

import pytest

from proxy.daemon import allocator
from tests.harness import ROOT

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


def arenas(cap: int) -> tuple[str, int]:
    result = subprocess.run(
        [sys.executable, "-c", _ARENAS, str(cap)], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    state, count = result.stdout.split()
    return state, int(count)


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
