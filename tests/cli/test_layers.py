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
HOST_NOT = ("libxcb", "libwayland", "libseccomp")
SOURCE_NOT = ("libavcodec", "libavformat", "libavutil", "libswscale", "libx264", "libx265",
              "libSvtAv1", "libsrt")
# Symbols (prefixes) of the other side's modules: a program must not contain them.
HOST_SYMS_NOT = ("fp_backend_", "fp_sandbox_", "fp_source_connect", "fp_source_publish")
SOURCE_SYMS_NOT = ("fp_encoder_", "fp_capture_", "fp_session_", "fp_output_", "fp_convert",
                   "fp_broker_", "fp_display_create")


def needed(path):
    """The DT_NEEDED closure as the dynamic loader resolves it (ldd)."""
    r = run(["ldd", path])
    check(r.returncode == 0, f"ldd {os.path.basename(path)} runs")
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def symbols(path):
    r = run(["nm", "--defined-only", path])
    check(r.returncode == 0, f"nm {os.path.basename(path)} runs")
    return [line.split()[-1] for line in r.stdout.splitlines() if len(line.split()) >= 3]


def none_of(items, prefixes, what):
    bad = sorted({i for i in items if i.startswith(prefixes)})
    check(not bad, what + (": " + ", ".join(bad[:8]) if bad else ""))


for prog, libs_not, syms_not, role in (
        (FP, HOST_NOT, HOST_SYMS_NOT, "the host"),
        (SOURCE, SOURCE_NOT, SOURCE_SYMS_NOT, "the source")):
    name = os.path.basename(prog)
    libs = needed(prog)
    # The positive half: a check that could not fail would prove nothing.
    check(any(l.startswith("libc.so") for l in libs), f"{name}: ldd lists libc (the probe works)")
    none_of(libs, libs_not, f"{name} ({role}) links none of {', '.join(libs_not)}")
    syms = symbols(prog)
    check(any(s.startswith("fp_") for s in syms), f"{name}: nm sees fp_ symbols (the probe works)")
    none_of(syms, syms_not, f"{name} ({role}) carries no {', '.join(syms_not)} code")

# What each side must have, so the checks above are not passing on an empty binary.
check(any(l.startswith("libavcodec") for l in needed(FP)), "framepush links libavcodec")
check(any(s.startswith("fp_backend_") for s in symbols(SOURCE)), "framepush-source has its backends")
finish()
