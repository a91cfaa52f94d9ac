/* framepush --help and --version. */
#include <stdio.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>

#include "options.h"
#include "framepush/proto.h"
#include "version.h"


void cli_usage(FILE *f)
{
	/* Several strings: C17 promises string literals of 4095 bytes only. 79 columns: a
	 * terminal of 80 shows every line whole. */
	fputs(
"usage: framepush record [--source SPEC | --display D] [options] -o FILE\n"
"       framepush stream [--source SPEC | --display D] [options] --to URL\n"
"       framepush serve  [--source SPEC | --display D] [options]\n"
"       framepush list   [--display D]   what can be captured, with its modes\n"
"       framepush --version\n"
"\n"
"Capture a display through a sealed shared-memory ring, convert it to NV12\n"
"(SDR) or P010 (HDR), encode it and write a file or a live stream, or serve it\n"
"to browsers as an interactive session (WebRTC: their mouse and keyboard drive\n"
"the display).\n"
"\n"
"Source:\n"
"  --source SPEC     test[:key=value,...], x11, or wlr[:key=value,...]\n"
"                    (default: the backend of --display, else test)\n"
"                    portal: xdg-desktop-portal ScreenCast (virtual: sway kind)\n"
"                    wlr keys: output=NAME (which output), cursor=0|1 (draw the\n"
"                    pointer); test keys:\n"
"      pattern=moving|bars|solid|clock   stripes, 75% bars, one colour, or\n"
"                    stripes with the capture time stamped (framepush-bench\n"
"                    serve measures latency with it)\n"
"      rgb=R/G/B     solid colour: 0..1 SDR, scRGB floats HDR (2.5/2.5/2.5 is\n"
"                    200-nit white)\n"
"      hdr=0|1       RGBA16F scRGB source -> 10-bit BT.2020 PQ output\n"
"      flip-every=N  change size and SDR/HDR every N frames\n"
"      idle=1        publish only when kicked (an idle desktop)\n"
"      max-cll=N, max-fall=N, mastering-max=NITS, mastering-min=NITS\n"
"                    HDR: the display's own HDR10 metadata (P3-D65); without\n"
"                    them a generic HDR10 baseline is used\n", f);
	fprintf(f,
"  --size WxH        the test source's size (default %ux%u): W and H even,\n"
"                    %u..%u by %u..%u (what the encoders take)\n"
"  --display D       virtual:WxH@HZ  a virtual display made for the session\n"
"                                    (Xvfb; sway headless with --display-kind)\n"
"                    :N, HOST:N      an existing X display (x11 source)\n"
"                    wayland-N|PATH  an existing wlroots compositor (wlr\n"
"                                    source): a socket in $XDG_RUNTIME_DIR\n"
"  --display-kind K  xvfb (default) or sway, for virtual displays\n"
"  -- APP [ARGS]     start APP in the virtual display; it ends with the session\n"
"  --crop X,Y,W,H    capture only that rectangle (W, H even, at least %u); an\n"
"                    odd-sized display loses its last column or row\n"
"  --fps N           output rate, 1..240 (default %u, or a virtual display's HZ);\n"
"                    frames are taken on its ticks: an idle display repeats, a\n"
"                    faster one drops frames\n"
"\n"
"Output:\n"
"  -o, --output FILE record: .mkv, .mp4 (fragmented: a killed recording stays\n"
"                    playable), .ts, .y4m (raw, 8-bit SDR / 10-bit HDR), or -\n"
"                    for standard output (MPEG-TS; Matroska with --format mkv)\n"
"  -y, --overwrite   replace an existing file (else asked on a terminal, and\n"
"                    refused without one)\n"
"  --to URL          stream: srt://HOST:PORT (calls a listener; with\n"
"                    ?mode=listener it waits for a caller), udp://HOST:PORT,\n"
"                    rtp://HOST:PORT, rtsp://HOST:PORT/PATH (push to a server),\n"
"                    or - (MPEG-TS on standard output)\n"
"  --format ts|mkv   the container on standard output (default ts)\n"
"  --duration SEC    decimal seconds (at least one frame); record: default 3;\n"
"                    stream: until Ctrl-C, which always ends cleanly\n"
"  --codec C         h264 (default), hevc, av1; an HDR display is always 10-bit\n"
"                    with HDR10 metadata (h264 becomes HEVC Main10)\n"
"  --hw H            none (default), vaapi, nvenc; an absent device fails,\n"
"                    naming the software encoder to use\n"
"  --bitrate KBPS    1..1000000 kbit/s (default: constant quality)\n"
"  --crf N           constant quality: 1..51 (h264, hevc), 1..63 (av1)\n"
"  --keyint N        frames between keyframes, 1..100000 (default 2 s)\n"
"  --sdp FILE        rtp:// only: write the SDP a player needs here\n"
"  --preset NAME     the encoder's own: ultrafast..placebo (x264, x265), 13..0\n"
"                    (av1), p1..p7 (nvenc); default the codec's, faster when\n"
"                    the mode is heavy for this machine's CPUs\n"
"  --tune NAME       x264: film, animation, grain, stillimage, psnr, ssim,\n"
"                    fastdecode (with zerolatency); nvenc: hq, ll, ull, lossless\n"
"  --governor on|off on (default): step the preset faster when frames take too\n"
"                    long, back with headroom; live into MPEG-TS, past the\n"
"                    fastest preset, a reduced size (3/4, 1/2)\n"
"  --profile P       record (default of record): quality first, depth 2;\n"
"                    live (default of stream and serve): latency first, depth 1\n"
"\n",
	FP_MODE_DEFAULT_WIDTH, FP_MODE_DEFAULT_HEIGHT, CLI_SIZE_MIN, FP_WIDTH_MAX, CLI_SIZE_MIN,
	FP_HEIGHT_MAX, CLI_SIZE_MIN, FP_MODE_DEFAULT_HZ);
	fprintf(f,
"Serve (WebRTC, H.264 constrained baseline; prints the URL to open):\n"
"  --listen ADDR:PORT  where the page listens (default 127.0.0.1:%u); anything\n"
"                    but loopback shows the session to others on the network\n"
"  --tls-cert FILE, --tls-key FILE  PEM: HTTPS and WSS (without them the page\n"
"                    and the token travel in the clear)\n"
"  --max-viewers N   viewers at once, 1..%u (default 4); more are refused\n"
"  --view-only       viewers only watch (always so with --source test)\n"
"  --bitrate KBPS    the cap, 1 s VBV (default from the mode: ~8000 at 1080p60)\n"
"\n"
"Session:\n"
"  --stats-json FILE the session's counters as JSON (a failed write fails)\n"
"  --pipeline-depth N  frames in flight to the encoder, 1..3 (default 1 live,\n"
"                    2 record, or $FRAMEPUSH_PIPELINE_DEPTH)\n"
"  --threads N       converter threads (default: one per CPU)\n"
"  --restart-source N  restart a source that dies, up to N times, 0..100\n"
"                    (default 0 record, 3 stream: a stream outlives a crash)\n"
"  -q, --quiet       nothing on success: no status line, info lines or summary\n"
"                    (warnings and errors still; serve still prints its URL)\n"
"  -h, --help        this text            --version   version and libraries\n"
"\n"
"On a terminal a status line shows seconds, fps, bitrate, capture->encoded\n"
"latency p50/p99, repeats/drops/skipped ticks and the preset; a summary line\n"
"follows (on standard error when standard output carries the stream). Ctrl-C\n"
"or SIGTERM ends the session cleanly, also while a stream is connecting.\n"
"\n"
"Environment: FRAMEPUSH_LOG=debug|info|warn|error|quiet, FRAMEPUSH_SOURCE=path\n"
"of framepush-source, FRAMEPUSH_PIPELINE_DEPTH=1..3 (anything else: exit 2).\n"
"Exit status: 0 done (also after Ctrl-C once frames were written); 1 capture,\n"
"encode or output failed, or the stats file could not be written (the message\n"
"says why); 2 bad usage, found before anything starts (a bad value, a --source\n"
"spec the source refuses, an unsupported target, an existing file without -y).\n"
"\n"
"Examples:\n"
"  framepush record --source test --duration 5 -o out.mkv\n"
"  framepush record --source test:hdr=1 --size 1280x720 --fps 30 \\\n"
"      --codec hevc -o hdr.mp4\n"
"  framepush record --source test -o - | ffprobe -\n"
"  framepush stream --source test --to 'srt://0.0.0.0:9000?mode=listener'\n"
"      (then, where it is watched: ffplay srt://HOST:9000)\n"
"  framepush record --display virtual:1280x720@60 -o desk.mkv -- xterm\n"
"  framepush serve --display virtual:1920x1080@60 -- xterm\n",
	FP_SERVE_DEFAULT_PORT, FP_SERVE_VIEWERS_MAX);
}

void cli_version(FILE *f)
{
	unsigned c = avcodec_version(), fmt = avformat_version(), u = avutil_version();

	fprintf(f, "framepush %s (project %s)\nlibavcodec %u.%u.%u, libavformat %u.%u.%u, libavutil %u.%u.%u\n",
		FP_VERSION, FP_PROJECT_VERSION, c >> 16, (c >> 8) & 0xff, c & 0xff, fmt >> 16, (fmt >> 8) & 0xff,
		fmt & 0xff, u >> 16, (u >> 8) & 0xff, u & 0xff);
}
