"""The progress report: a redrawn bar on a terminal, plain lines otherwise, and always a final state."""

from __future__ import annotations

import io

from proxy.cli import main
from proxy.tools.progress import Progress
from tests.images import solid
from tests.logfixtures import proxy_line


def test_plain_lines_when_not_a_terminal():
    out = io.StringIO()
    progress = Progress("warm", 4, stream=out, every=3600)
    for _ in range(4):
        progress.advance()
    progress.close()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("warm: 1/4  25%")  # the first advance draws; then the interval holds
    assert lines[-1].startswith("warm: 4/4 100%") and len(lines) == 2
    assert "\r" not in out.getvalue()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_redrawn_bar_on_a_terminal():
    tty = Terminal()
    progress = Progress("warm", 2, stream=tty, every=0)
    progress.advance()
    progress.advance()
    progress.close()
    drawn = tty.getvalue()
    assert drawn.startswith("\rwarm: [###############...............] 1/2  50%")
    assert "\rwarm: [##############################] 2/2 100%" in drawn
    assert drawn.endswith("\x1b[K\n") and drawn.count("\n") == 1  # one line, redrawn in place


def test_unknown_total_counts():
    out = io.StringIO()
    progress = Progress("lines read", stream=out, every=3600)
    progress.advance(10_000)
    progress.close()
    assert out.getvalue().splitlines()[-1].startswith("lines read: 10000 ")


def test_the_final_state_is_drawn_once_when_the_last_advance_drew_it():
    out = io.StringIO()
    progress = Progress("checking", 2, stream=out, every=0)
    progress.advance()
    progress.advance()
    progress.advance(0)  # nothing new: no line
    progress.close()
    assert [line.split(" ", 2)[1] for line in out.getvalue().splitlines()] == ["1/2", "2/2"]


def test_nothing_to_do_is_one_line_at_100_percent():
    out = io.StringIO()
    progress = Progress("deleting", 0, stream=out, every=3600)
    progress.close()
    assert len(out.getvalue().splitlines()) == 1 and out.getvalue().startswith("deleting: 0/0 100%")


def test_purge_prints_its_final_progress_line_once(proxy, s3, bucket, http, moto_url, capsys):
    s3.put_object(Bucket=bucket, Key="earth.jpg", Body=solid(120, 90), ContentType="image/jpeg")
    assert http.get(f"{proxy.url}/earth_50x50.jpg").status_code == 200
    proxy.flush()
    capsys.readouterr()
    assert main(["purge", "earth.jpg", f"--bucket={bucket}", f"--s3-endpoint={moto_url}"]) == 0
    err = capsys.readouterr().err.splitlines()
    checking = [line for line in err if line.startswith("checking thumbnails of earth.jpg: ")]
    deleting = [line for line in err if line.startswith("deleting: ")]
    assert len(checking) == 1 and checking[0].startswith("checking thumbnails of earth.jpg: 1/1 100%")
    assert len(deleting) == 1 and deleting[0].startswith("deleting: 1/1 100%")


def test_analyze_logs_prints_its_final_progress_line_once(tmp_path, capsys):
    log = tmp_path / "proxy.log"
    log.write_text("".join(proxy_line(f"earth_{n}x{n}.jpg") + "\n" for n in range(1, 4)))
    assert main(["analyze-logs", str(log)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [line.split(" ")[:3] for line in err if line.startswith("lines read:")] == [["lines", "read:", "3"]]
