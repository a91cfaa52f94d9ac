#!/usr/bin/env bash
# Installs the Debian 12 packages framepush needs to build, test and benchmark (the peers
# the benchmarks compare against: libyuv, zimg, GStreamer shm, ffmpeg x11grab, wf-recorder;
# serve's WebRTC stack: GStreamer webrtcbin, libnice, libsoup 3; the browser its tests drive:
# chromium over the DevTools protocol with python3-websocket; the player check's second
# decoding stack: GStreamer's openh264/aom plugins and libde265's dec265, driven from
# python3-gi; the terminals the README's examples start: xterm, foot; the portal source's
# libraries (sd-bus, libpipewire) and the headless portal desktop its tests and benchmark
# run: PipeWire, WirePlumber, xdg-desktop-portal(-wlr), nss_wrapper; bench/portal.py's
# GStreamer peer: pipewiresrc, x264enc).
# Idempotent: does nothing when every package is already installed.
set -eu
pkgs=(
  build-essential meson ninja-build pkg-config clang libclang-rt-14-dev
  libcmocka-dev valgrind procps python3 libseccomp-dev
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev ffmpeg
  libyuv-dev libzimg-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-plugins-base
  gstreamer1.0-plugins-bad gstreamer1.0-tools
  gstreamer1.0-plugins-good gstreamer1.0-nice libgstreamer-plugins-bad1.0-dev
  gstreamer1.0-plugins-ugly gstreamer1.0-pipewire
  libsoup-3.0-dev libjson-glib-dev libxkbcommon-dev libx11-dev
  chromium python3-websocket openssl
  xvfb x11-utils libxcb1-dev libxcb-shm0-dev libxcb-damage0-dev libxcb-xfixes0-dev
  libxcb-xtest0-dev libxcb-randr0-dev libxcb-xinput-dev
  libwayland-dev wayland-protocols sway grim wf-recorder
  python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 libde265-examples
  xterm foot
  libpipewire-0.3-dev libsystemd-dev pipewire pipewire-bin wireplumber dbus-daemon dbus-bin
  xdg-desktop-portal xdg-desktop-portal-wlr libnss-wrapper
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages: ${missing[*]}; run this script as root (or install them)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
