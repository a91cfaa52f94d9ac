/* fpt-portal-desktop [WxH@HZ]: a sway display with its portal desktop, through the C API,
 * for test_portal_desktop.py and bench/portal.py (default mode 640x480@30). Prints "BUS UID DIR" once the display is ready, destroys it when
 * a line (or EOF) arrives on stdin, then prints "DESTROYED". Exit 1 when creation fails or
 * the mode is malformed. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "framepush/display.h"

int main(int argc, char **argv)
{
	struct fp_display_opts o = { .kind = "sway", .width = 640, .height = 480,
				     .refresh_hz = 30, .portal = 1 };
	struct fp_display *d;
	const char *bus, *name;
	uid_t uid = getuid();
	gid_t gid;
	char line[64];

	if (argc > 2 || (argc == 2 && (fp_parse_mode(argv[1], 16, 16, 7680, 4320, 1, 240, &o.width,
						     &o.height, &o.refresh_hz) < 0 ||
					 (o.width | o.height) & 1))) {
		fprintf(stderr, "usage: %s [WxH@HZ] (W, H even, 16x16..7680x4320, HZ 1..240)\n",
			argv[0]);
		return 1;
	}
	if (fp_log_init("fpt-portal-desktop") < 0 || fp_display_create(&d, &o) < 0)
		return 1;
	bus = fp_display_bus(d);
	name = fp_display_name(d);
	fp_display_identity(d, &uid, &gid);
	/* The Wayland socket's directory is the runtime directory. */
	printf("%s %u %.*s\n", bus ? bus : "(none)", (unsigned)uid,
	       (int)(strrchr(name, '/') - name), name);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		line[0] = '\0';
	fp_display_destroy(d);
	printf("DESTROYED\n");
	return bus ? 0 : 1;
}
