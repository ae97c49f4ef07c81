/* xml.c — the XML writer for S3 responses (parsing lives in xml_parse.c). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cairn/err.h"
#include "cairn/xml.h"

#define XML_WRITER_STACK (sizeof(((struct xml_writer *)0)->stack) / sizeof(const char *))

/* The replacement for byte c, or NULL when c is copied as is. */
static const char *
xml_entity(unsigned char c, char tmp[8])
{
	switch (c) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\'':
		return "&apos;";
	default:
		break;
	}
	if (c >= 0x20 && c != 0x7f)
		return NULL;
	snprintf(tmp, 8, "&#x%X;", c);
	return tmp;
}

int
xml_escape(struct buf *out, const char *p, size_t len)
{
	size_t i = 0, start = 0;
	int rc = 0;

	if (memchr(p, 0, len))
		return CAIRN_E_INVAL;
	for (i = 0; i < len && rc == 0; i++) {
		char tmp[8];
		const char *ent = xml_entity((unsigned char)p[i], tmp);

		if (!ent)
			continue;
		rc = buf_append(out, p + start, i - start);
		if (rc == 0)
			rc = buf_append_str(out, ent);
		start = i + 1;
	}
	if (rc == 0)
		rc = buf_append(out, p + start, len - start);
	return rc;
}

static void
xml_fail(struct xml_writer *w, int rc)
{
	if (rc < 0 && w->err == 0)
		w->err = rc;
}

void
xml_writer_init(struct xml_writer *w, struct buf *out)
{
	w->out = out;
	w->err = 0;
	w->depth = 0;
	xml_fail(w, buf_append_str(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
}

static void
xml_open_attr(struct xml_writer *w, const char *name, const char *attr)
{
	if (w->err)
		return;
	if (w->depth >= XML_WRITER_STACK) {
		xml_fail(w, CAIRN_E_INVAL);
		return;
	}
	w->stack[w->depth++] = name;
	xml_fail(w, buf_printf(w->out, "<%s%s>", name, attr));
}

void
xml_open(struct xml_writer *w, const char *name)
{
	xml_open_attr(w, name, "");
}

void
xml_open_ns(struct xml_writer *w, const char *name)
{
	xml_open_attr(w, name, " xmlns=\"" XML_S3_NAMESPACE "\"");
}

void
xml_close(struct xml_writer *w)
{
	if (w->err)
		return;
	if (w->depth == 0) {
		xml_fail(w, CAIRN_E_INVAL);
		return;
	}
	w->depth--;
	xml_fail(w, buf_printf(w->out, "</%s>", w->stack[w->depth]));
}

void
xml_elem_n(struct xml_writer *w, const char *name, const char *p, size_t len)
{
	if (w->err)
		return;
	xml_fail(w, buf_printf(w->out, "<%s>", name));
	if (w->err == 0)
		xml_fail(w, xml_escape(w->out, p, len));
	if (w->err == 0)
		xml_fail(w, buf_printf(w->out, "</%s>", name));
}

void
xml_elem(struct xml_writer *w, const char *name, const char *text)
{
	if (text)
		xml_elem_n(w, name, text, strlen(text));
}

void
xml_elem_u64(struct xml_writer *w, const char *name, uint64_t v)
{
	if (w->err)
		return;
	xml_fail(w, buf_printf(w->out, "<%s>%" PRIu64 "</%s>", name, v, name));
}

void
xml_elem_bool(struct xml_writer *w, const char *name, bool v)
{
	xml_elem(w, name, v ? "true" : "false");
}

int
xml_writer_finish(struct xml_writer *w)
{
	if (w->err)
		return w->err;
	if (w->depth != 0)
		return CAIRN_E_INVAL;
	return 0;
}
