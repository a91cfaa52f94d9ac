"""Shared helpers of the CLI tests: paths, one-line checks, subprocesses, ffprobe."""
import json, os, subprocess, sys, tempfile

BUILD = os.environ.get("FRAMEPUSH_BUILD_ROOT", "build")
FP = os.path.join(BUILD, "tools", "framepush")
CI = os.environ.get("CI") == "true"
_failures = 0
_skips = 0


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


def skip(why):
    """A part that cannot run here: in CI (where scripts/deps.sh installed everything) a
    failure; elsewhere a skip, and finish() then exits 77 (meson's skip), never a pass."""
    global _skips
    if CI:
        check(False, why + " (in CI every backend is installed: a failure, not a skip)")
    else:
        print("SKIP " + why, flush=True)
        _skips += 1


def gone(pid):
    """True once pid no longer exists (a pidfd cannot be opened for it)."""
    try:
        os.close(os.pidfd_open(pid))
        return False
    except ProcessLookupError:
        return True


def finish():
    print("%d checks failed, %d parts skipped" % (_failures, _skips))
    sys.exit(1 if _failures else 77 if _skips else 0)
