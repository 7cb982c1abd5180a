// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The constants of the shed-state file and of libspillway-client, as Python and Go source
 * (constants.h). Every offset and size comes from the compiler (offsetof, sizeof), so the
 * generated files cannot disagree with the headers the daemon is built from.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "constants.h"
#include "spillway_client.h"
#include "spillway_state.h"
#include "../user/client/spw_client_priv.h"

enum kind {
	K_INT,	 /* a number */
	K_STR,	 /* a string */
	K_FIELD, /* a struct field: its offset, element size, element count, signedness */
};

struct entry {
	const char *name; /* UPPER_SNAKE; Go gets it in lowerCamel */
	const char *what; /* one comment line */
	enum kind kind;
	long long num;	    /* K_INT; K_FIELD: the offset */
	const char *str;    /* K_STR */
	unsigned int elem;  /* K_FIELD: bytes per element (1 for char arrays) */
	unsigned int count; /* K_FIELD: elements (1 for a scalar) */
	int is_signed;	    /* K_FIELD: a signed integer */
	int is_text;	    /* K_FIELD: a NUL-padded char array */
};

#define INT(n, v, w)                                                                               \
	{                                                                                          \
		.name = n, .what = w, .kind = K_INT, .num = (long long)(v)                         \
	}
#define STR(n, v, w)                                                                               \
	{                                                                                          \
		.name = n, .what = w, .kind = K_STR, .str = v                                      \
	}
#define FSZ(type, f)  sizeof(((type *)0)->f)
#define ELEM(type, f) sizeof(*(((type *)0)->f))
/* Whether an integer expression has a signed type (not evaluated). */
#define IS_SIGNED(x)                                                                               \
	_Generic((x), signed char : 1, short : 1, int : 1, long : 1, long long : 1, default : 0)
#define SIGNED(type, f) IS_SIGNED(((type *)0)->f)
#define SCALAR(n, type, f, w)                                                                      \
	{                                                                                          \
		.name = n, .what = w, .kind = K_FIELD, .num = offsetof(type, f),                   \
		.elem = FSZ(type, f), .count = 1, .is_signed = SIGNED(type, f)                     \
	}
#define ARRAY(n, type, f, w)                                                                       \
	{                                                                                          \
		.name = n, .what = w, .kind = K_FIELD, .num = offsetof(type, f),                   \
		.elem = ELEM(type, f), .count = FSZ(type, f) / ELEM(type, f),                      \
		.is_signed = IS_SIGNED(*((type *)0)->f)                                            \
	}
#define TEXT(n, type, f, w)                                                                        \
	{                                                                                          \
		.name = n, .what = w, .kind = K_FIELD, .num = offsetof(type, f), .elem = 1,        \
		.count = FSZ(type, f), .is_text = 1                                                \
	}

#define F struct spw_state_file
#define S struct spw_state_service

static const struct entry entries[] = {
    INT("STATE_MAGIC", SPW_STATE_MAGIC, "first word of a state file (\"SPWS\")"),
    INT("STATE_VERSION", SPW_STATE_VERSION, "the layout below"),
    STR("STATE_FILE", SPW_STATE_FILE, "file name in the state folder"),
    INT("STATE_SERVICES", SPW_STATE_SERVICES, "service records in a file"),
    INT("STATE_NO_VALUE", SPW_STATE_NO_VALUE, "pressure_milli of a service with no fresh signal"),
    INT("MAX_TIERS", SPW_MAX_TIERS, "admitted_permille entries per service"),
    INT("FLAG_SHEDDING", SPW_STATE_SHEDDING, "service flag: some tier is not fully admitted"),
    INT("FLAG_OVERRIDDEN", SPW_STATE_OVERRIDDEN, "service flag: a manual override sets the level"),
    INT("FLAG_DRY_RUN", SPW_STATE_DRY_RUN, "service flag: decisions counted, nothing shed"),
    INT("FILE_SIZE", sizeof(F), "bytes of a whole state file: a shorter file is not mapped"),
    SCALAR("FILE_MAGIC", F, magic, "struct spw_state_file"),
    SCALAR("FILE_VERSION", F, version, ""),
    SCALAR("FILE_SEQ", F, seq, "the seqlock: odd while the daemon writes"),
    SCALAR("FILE_NSERVICES", F, nservices, ""),
    SCALAR("FILE_UPDATED_NS", F, updated_ns, "CLOCK_MONOTONIC of the last publish"),
    SCALAR("FILE_TICK_MS", F, tick_ms, ""),
    INT("FILE_SERVICES", offsetof(F, services), "offset of the first service record"),
    INT("SERVICE_SIZE", sizeof(S), "bytes per service record"),
    INT("SERVICE_HEAD", offsetof(S, signals), "bytes of a record a check copies (no signals)"),
    TEXT("SVC_NAME", S, name, "struct spw_state_service, NUL-padded"),
    SCALAR("SVC_LEVEL", S, level, ""),
    SCALAR("SVC_FLOOR", S, floor, ""),
    SCALAR("SVC_CEILING", S, ceiling, ""),
    SCALAR("SVC_TIER_COUNT", S, tier_count, ""),
    SCALAR("SVC_FLAGS", S, flags, ""),
    SCALAR("SVC_PRESSURE_MILLI", S, pressure_milli, ""),
    SCALAR("SVC_RETRY_LO_S", S, retry_after_lo_s, ""),
    SCALAR("SVC_RETRY_HI_S", S, retry_after_hi_s, ""),
    ARRAY("SVC_ADMITTED_PERMILLE", S, admitted_permille, "per tier"),
    SCALAR("SVC_LEASE_EXPIRES_NS", S, lease_expires_ns, "CLOCK_MONOTONIC"),
    STR("CLIENT_STATE_DIR", SPW_CLIENT_STATE_DIR, "default state folder"),
    STR("CLIENT_REPORT_SOCKET", SPW_CLIENT_REPORT_SOCKET, "default report socket"),
    INT("CLIENT_STALE_TICKS", SPW_CLIENT_STALE_TICKS, "ticks without a publish: stale"),
    INT("CLIENT_DEFAULT_TICK_MS", SPW_CLIENT_DEFAULT_TICK_MS, "when a file says 0 ms ticks"),
    INT("CLIENT_NAME_MAX", SPW_CLIENT_NAME_MAX, "report names are shorter than this"),
    INT("CLIENT_LINE_MAX", SPW_CLIENT_LINE_MAX, "report lines are shorter than this"),
    INT("CLIENT_LOOK_EVERY_NS", SPW_CLIENT_LOOK_EVERY_NS, "a stale reader looks for a new file"),
    INT("CLIENT_READ_SPINS", SPW_CLIENT_READ_SPINS, "seqlock retries before yielding"),
    INT("CLIENT_READ_BUDGET_NS", SPW_CLIENT_READ_BUDGET_NS, "seqlock retries give up: fail open"),
};

#undef F
#undef S

/* STATE_MAGIC -> stateMagic. */
static void camel(FILE *f, const char *name, const char *suffix)
{
	int up = 0;

	for (const char *p = name; *p; p++) {
		if (*p == '_') {
			up = 1;
			continue;
		}
		fputc(up ? *p : (*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p), f);
		up = 0;
	}
	fputs(suffix, f);
}

/* The struct module's code for an element. */
static char py_code(const struct entry *e)
{
	static const char unsigned_codes[] = {0, 'B', 'H', 0, 'I', 0, 0, 0, 'Q'};
	static const char signed_codes[] = {0, 'b', 'h', 0, 'i', 0, 0, 0, 'q'};

	if (e->is_text)
		return 's';
	return e->is_signed ? signed_codes[e->elem] : unsigned_codes[e->elem];
}

static const char header_note[] =
    "Code generated by build/gen-client-constants (clients/constants.c) from\n"
    "include/spillway_state.h, include/spillway_client.h and user/client/spw_client_priv.h.\n"
    "DO NOT EDIT: `make client-constants` writes it again.";

static void comment_block(FILE *f, const char *lead)
{
	const char *p = header_note, *nl;

	for (; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		fprintf(f, "%s %.*s\n", lead, (int)(nl - p), p);
		if (!*nl)
			break;
	}
}

static void emit_python(FILE *f)
{
	const struct entry *e;

	fputs("# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)\n", f);
	comment_block(f, "#");
	fputs("# Fields are (offset, struct format): native byte order and sizes, as the daemon\n"
	      "# writes them on this host.\n\n",
	      f);
	for (e = entries; e < entries + sizeof(entries) / sizeof(entries[0]); e++) {
		if (e->what[0])
			fprintf(f, "# %s\n", e->what);
		switch (e->kind) {
		case K_INT:
			fprintf(f, "%s = %lld\n", e->name, e->num);
			break;
		case K_STR:
			fprintf(f, "%s = \"%s\"\n", e->name, e->str);
			break;
		case K_FIELD:
			if (e->count > 1)
				fprintf(f, "%s = (%lld, \"=%u%c\")\n", e->name, e->num, e->count,
					py_code(e));
			else
				fprintf(f, "%s = (%lld, \"=%c\")\n", e->name, e->num, py_code(e));
			break;
		}
	}
}

/* One declaration per paragraph: nothing for gofmt to align or space, so it is gofmt's output. */
static void emit_go(FILE *f)
{
	const struct entry *e;

	fputs("// Code generated by clients/constants.c (`make client-constants`). DO NOT EDIT.\n\n"
	      "// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)\n\n",
	      f);
	fputs(
	    "// From include/spillway_state.h, include/spillway_client.h and\n"
	    "// user/client/spw_client_priv.h.\n"
	    "//\n"
	    "// Fields are an offset (Off), the bytes of one element (Size), the elements (Count)\n"
	    "// and whether the integer is signed (Signed), in the daemon's native byte order.\n"
	    "\npackage spillway\n\n",
	    f);
	for (e = entries; e < entries + sizeof(entries) / sizeof(entries[0]); e++) {
		if (e != entries)
			fputc('\n', f);
		if (e->what[0])
			fprintf(f, "// %s\n", e->what);
		fputs("const ", f);
		switch (e->kind) {
		case K_INT:
			camel(f, e->name, "");
			fprintf(f, " = %lld\n", e->num);
			break;
		case K_STR:
			camel(f, e->name, "");
			fprintf(f, " = \"%s\"\n", e->str);
			break;
		case K_FIELD:
			camel(f, e->name, "Off, ");
			camel(f, e->name, "Size, ");
			camel(f, e->name, "Count");
			if (!e->is_text) {
				fputs(", ", f);
				camel(f, e->name, "Signed");
				fprintf(f, " = %lld, %u, %u, %s\n", e->num, e->elem, e->count,
					e->is_signed ? "true" : "false");
			} else {
				fprintf(f, " = %lld, %u, %u\n", e->num, e->elem, e->count);
			}
			break;
		}
	}
}

int spw_const_emit(FILE *f, enum spw_const_lang lang)
{
	if (lang == SPW_CONST_PYTHON)
		emit_python(f);
	else
		emit_go(f);
	return fflush(f) || ferror(f) ? -EIO : 0;
}
