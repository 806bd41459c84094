"""The memory budget: what one worker process can hold at most, derived from its configuration.

Every byte a process holds for long is bounded by an option: the two LRUs by their sizes, the originals of
renders in flight by the render slots (taken before an original is read) times ``--max-source-mb``, the
decoded pixels by the render threads times ``--max-source-megapixels``, whole-object S3 reads by the I/O
threads times ``--stream-threshold-mb``. ``serve`` logs the sum at start; the README's ``MemoryMax=`` advice
and ``bench/soak.py`` use the same figures.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.config import Config

# RSS of a worker with Tornado, botocore (with the S3 model), Pillow and pillow-heif loaded: 51 MiB at start; 97
# in bench/soak.py once its hot set was made, 32 of them the originals cache (bench/RESULTS.md, "Memory").
BASE_MB = 80
# What the parent of --processes workers holds (it serves nothing): measured 49 MiB, rounded up.
PARENT_MB = 60
# Pixels a render can hold at once, per source megapixel: the decoded frame and one full-size copy (a colour
# conversion or the alpha flattening), 4 bytes a pixel each. JPEGs decode at 1/2-1/8 (draft) and hold less.
BYTES_PER_MEGAPIXEL = 2 * 4
# glibc's malloc with malloc-arenas = 2: RSS above the bytes in use, from the soak (fragmentation, free lists).
ALLOCATOR_SLACK = 0.10


@dataclass(frozen=True)
class Budget:
    """Megabytes (MiB) per worker process, by what holds them."""

    base: float
    caches: float
    originals_in_flight: float
    pixels: float
    s3_reads: float

    @property
    def worker(self) -> float:
        held = self.base + self.caches + self.originals_in_flight + self.pixels + self.s3_reads
        return held * (1 + ALLOCATOR_SLACK)

    def service(self, processes: int) -> float:
        """The whole service: ``processes`` workers, plus their parent when there are several."""
        return self.worker * processes + (PARENT_MB if processes > 1 else 0)

    def describe(self, processes: int) -> str:
        parts = (
            f"base {self.base:.0f} + caches {self.caches:.0f} + originals in flight {self.originals_in_flight:.0f} "
            f"+ pixels {self.pixels:.0f} + S3 reads {self.s3_reads:.0f}, +{ALLOCATOR_SLACK:.0%} allocator"
        )
        whole = f"; {processes} processes: {self.service(processes):,.0f} MiB" if processes > 1 else ""
        return f"memory budget {self.worker:,.0f} MiB per process ({parts}){whole}"


def budget(config: Config) -> Budget:
    threads = config.render_thread_count
    return Budget(
        base=BASE_MB,
        caches=config.cache_mb + config.originals_cache_mb,
        originals_in_flight=(threads + config.render_queue) * config.max_source_mb,
        pixels=threads * config.max_source_megapixels * BYTES_PER_MEGAPIXEL,
        s3_reads=config.io_threads * config.stream_threshold_mb,
    )
