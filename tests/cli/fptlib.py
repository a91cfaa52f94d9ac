"""Shared helpers of the CLI tests: paths, one-line checks, subprocesses, ffprobe."""
import json, os, subprocess, sys, tempfile

BUILD = os.environ.get("FRAMEPUSH_BUILD_ROOT", "build")
FP = os.path.join(BUILD, "tools", "framepush")
_failures = 0


def tmpdir(prefix):
    return tempfile.mkdtemp(prefix=prefix)


def check(cond, what):
    """Prints one ok/FAIL line; failures are counted for finish()."""
    global _failures
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        _failures += 1


def run(args, timeout=120):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def probe(path, extra=()):
    """ffprobe's JSON for path (streams, frames with extra args), or None if unreadable."""
    r = run(["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", *extra, path])
    return json.loads(r.stdout) if r.returncode == 0 else None


def stream0(path):
    p = probe(path)
    return p["streams"][0] if p and p.get("streams") else None


def finish():
    print("%d checks failed" % _failures)
    sys.exit(1 if _failures else 0)
