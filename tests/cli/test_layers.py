#!/usr/bin/env python3
"""The module boundaries of doc/ARCHITECTURE.md, checked on the built programs: the host
(framepush) never talks to a display server, the source (framepush-source) never encodes,
and neither carries the other's code. ldd and nm see what the linker put in; a layering
mistake that slipped past the per-module include paths fails here."""
import os, subprocess, sys

sys.path.insert(0, os.path.dirname(__file__))
from fptlib import BUILD, FP, check, finish, run

SOURCE = os.path.join(BUILD, "tools", "framepush-source")

# Shared libraries a program must not load, by soname prefix.
HOST_NOT = ("libxcb", "libwayland", "libseccomp", "libpipewire", "libsystemd")
SOURCE_NOT = ("libavcodec", "libavformat", "libavutil", "libswscale", "libx264", "libx265",
              "libSvtAv1", "libsrt")
# Symbols (prefixes) of the other side's modules: a program must not contain them.
HOST_SYMS_NOT = ("fp_backend_", "fp_sandbox_", "fp_source_connect", "fp_source_publish",
                 "fp_portal_", "fp_pw_")
SOURCE_SYMS_NOT = ("fp_encoder_", "fp_capture_", "fp_session_", "fp_output_", "fp_convert",
                   "fp_broker_", "fp_display_create")


def needed(path):
    """What the program itself links (its DT_NEEDED entries): the libraries our build chose."""
    r = run(["readelf", "-d", path])
    check(r.returncode == 0, f"readelf -d {os.path.basename(path)} runs")
    return [l.split("[", 1)[1].rstrip("]") for l in r.stdout.splitlines()
            if "(NEEDED)" in l and "[" in l]


def closure(path):
    """Every library the loader maps for path (ldd), name -> resolved path ("" for the vdso
    and the loader's own line): what it links and what those link."""
    r = run(["ldd", path])
    check(r.returncode == 0, f"ldd {os.path.basename(path)} runs")
    out = {}
    for l in r.stdout.splitlines():
        f = l.split()
        if f:
            out[f[0]] = f[2] if len(f) > 2 and f[1] == "=>" else ""
    return out


def symbols(path):
    r = run(["nm", "--defined-only", path])
    check(r.returncode == 0, f"nm {os.path.basename(path)} runs")
    return [line.split()[-1] for line in r.stdout.splitlines() if len(line.split()) >= 3]


def none_of(items, prefixes, what):
    bad = sorted({i for i in items if i.startswith(prefixes)})
    check(not bad, what + (": " + ", ".join(bad[:8]) if bad else ""))


seen = {}
for prog, libs_not, syms_not, role in (
        (FP, HOST_NOT, HOST_SYMS_NOT, "the host"),
        (SOURCE, SOURCE_NOT, SOURCE_SYMS_NOT, "the source")):
    name = os.path.basename(prog)
    libs = needed(prog)
    # The positive half: a check that could not fail would prove nothing.
    check(any(l.startswith("libc.so") for l in libs), f"{name}: readelf lists libc (the probe works)")
    none_of(libs, libs_not, f"{name} ({role}) links none of {', '.join(libs_not)}")
    syms = symbols(prog)
    check(any(s.startswith("fp_") for s in syms), f"{name}: nm sees fp_ symbols (the probe works)")
    none_of(syms, syms_not, f"{name} ({role}) carries no {', '.join(syms_not)} code")
    seen[prog] = (libs, syms)

# ldd's closure: the host's may hold libxcb only because Debian's libavutil/libavcodec link
# libva-x11 and libvdpau (FFmpeg's hardware paths), never through framepush's own code:
# whatever display library the host maps, its libav* map too.
host_all = closure(FP)
via_ffmpeg = set()
for lib in ("libavcodec", "libavutil", "libavformat"):
    path = next((p for n, p in host_all.items() if n.startswith(lib) and p), None)
    check(path is not None, f"ldd finds {lib} for framepush")
    if path:
        via_ffmpeg |= set(closure(path))
own_display = sorted(l for l in host_all if l.startswith(("libxcb", "libwayland")) and l not in via_ffmpeg)
check(not own_display, "every libxcb/libwayland in framepush's ldd comes through libav*"
      + (": " + ", ".join(own_display) if own_display else ""))
none_of(sorted(closure(SOURCE)), SOURCE_NOT, "framepush-source's whole ldd closure has no libav*/encoder")

# What each side must have, so the checks above are not passing on an empty binary.
check(any(l.startswith("libavcodec") for l in seen[FP][0]), "framepush links libavcodec")
check(any(s.startswith("fp_backend_") for s in seen[SOURCE][1]), "framepush-source has its backends")
finish()
