/* Avro binary coding driven by programs compiled from a schema (infra/serde/avro_native.py).
 *
 * A program is a tree of Python lists, one per schema node: [opcode, arguments...].
 * decode(program, data, start) walks it over the bytes and returns the datum the pure
 * Python readers of infra/serde/avro_reader.py return (same values, same ValueError
 * messages), about four times faster. A record field whose node is [OP_SKIP, node] is
 * walked over (bounds-checked, nothing built, text not checked as UTF-8) and left out of
 * the datum: a program that skips all but a few fields reads just those, the rest of the
 * record checked only for its shape. encode(program, record) walks it over a pydantic
 * record (its __dict__) or a dict and returns the bytes the closure writers of
 * infra/serde/avro_writer.py return, refusing what they refuse. Every read is
 * bounds-checked; nesting goes through Py_EnterRecursiveCall, so a deep value is a
 * RecursionError, never a crashed stack.
 *
 * newest(spec, payloads, start, held) reads, with a program that picks a few fields, each
 * framed payload from payloads[start] on and keeps it in held[key] as (sequence, payload)
 * if its sequence is above the one held there: a rebuild that keeps each resource's newest
 * record reads a fetched batch of up to 5,000 this way in one call, not 5,000 trips
 * through Python.
 * It stops at the first payload it cannot take (another frame, too large, bytes that do
 * not decode, a key part that is no text) and returns its index, for the caller to deal
 * with that one its own way (and say why).
 *
 * Built by infra/native_build.py with the C compiler Python was built with; the
 * SOURCE_SHA256 macro ties the built module to this exact file.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <stdint.h>
#include <string.h>

#ifndef SOURCE_SHA256
#define SOURCE_SHA256 "unknown"
#endif

enum {
    OP_NULL = 0, OP_BOOLEAN = 1, OP_LONG = 2, OP_FLOAT = 3, OP_DOUBLE = 4, OP_BYTES = 5,
    OP_STRING = 6, OP_INSTANT = 7, OP_DECIMAL = 8, OP_UNION = 9, OP_RECORD = 10,
    OP_ENUM = 11, OP_ARRAY = 12, OP_MAP = 13, OP_FIXED = 14, OP_VALUE = 15,
    OP_INT = 16,  /* written with the int range checked; read as OP_LONG */
    OP_UUID = 17, /* written from a UUID (or its text); read as OP_STRING */
    OP_SKIP = 18, /* [OP_SKIP, node]: a record field walked over, left out of the datum */
};

/* The Value node: [OP_VALUE, null, boolean, long, double, string, decimal, list, object, Decimal] */
enum { V_NULL = 1, V_BOOLEAN, V_LONG, V_DOUBLE, V_STRING, V_DECIMAL, V_LIST, V_OBJECT, V_TYPE };

typedef struct {
    const unsigned char *data;
    Py_ssize_t len;
    Py_ssize_t pos;
} Reader;

static PyObject *EPOCH; /* 1970-01-01T00:00:00+00:00 */

static PyObject *read_node(PyObject *node, Reader *r);

static void *truncated(void) {
    PyErr_SetString(PyExc_ValueError, "the data ends inside the record");
    return NULL;
}

static int read_long(Reader *r, int64_t *out) {
    uint64_t number = 0;
    int shift = 0;
    for (;;) {
        if (r->pos >= r->len) {
            truncated();
            return -1;
        }
        unsigned char byte = r->data[r->pos++];
        if (shift == 63 && byte > 1) {
            PyErr_SetString(PyExc_ValueError, "a varint longer than 64 bits");
            return -1;
        }
        number |= (uint64_t)(byte & 0x7F) << shift;
        if (byte < 0x80) {
            break;
        }
        shift += 7; /* never past 63: the byte there is 0 or 1, the last one */
    }
    *out = (int64_t)((number >> 1) ^ (~(number & 1) + 1));
    return 0;
}

/* A length-prefixed run of bytes: its start in the data and its size. */
static int read_span(Reader *r, const unsigned char **start, Py_ssize_t *size) {
    int64_t length;
    if (read_long(r, &length) < 0) {
        return -1;
    }
    if (length < 0 || length > (int64_t)(r->len - r->pos)) {
        PyErr_Format(PyExc_ValueError, "a length of %lld at byte %zd runs past the data",
                     (long long)length, r->pos);
        return -1;
    }
    *start = r->data + r->pos;
    *size = (Py_ssize_t)length;
    r->pos += (Py_ssize_t)length;
    return 0;
}

/* Text: UTF-8 without NUL (U+0000, which no PostgreSQL text or jsonb value can hold). */
static PyObject *read_string(Reader *r) {
    const unsigned char *start;
    Py_ssize_t size;
    if (read_span(r, &start, &size) < 0) {
        return NULL;
    }
    if (memchr(start, 0, (size_t)size) != NULL) { /* in UTF-8 a 0 byte is U+0000 only */
        PyErr_Format(PyExc_ValueError, "the text ending at byte %zd holds a NUL character",
                     r->pos);
        return NULL;
    }
    return PyUnicode_DecodeUTF8((const char *)start, size, "strict");
}

/* The item count of the next block (a negative count is followed by the block's size). */
static int read_count(Reader *r, int64_t *count) {
    if (read_long(r, count) < 0) {
        return -1;
    }
    if (*count < 0) {
        int64_t size;
        if (read_long(r, &size) < 0) {
            return -1;
        }
        if (*count == INT64_MIN) { /* 2**63 items: no int64 holds the count, no data holds them */
            PyErr_Format(PyExc_ValueError, "a block of 2**63 items at byte %zd runs past the data",
                         r->pos);
            return -1;
        }
        *count = -*count;
    }
    if (*count > (int64_t)(r->len - r->pos)) { /* every item takes a byte at least */
        PyErr_Format(PyExc_ValueError, "a block of %lld items at byte %zd runs past the data",
                     (long long)*count, r->pos);
        return -1;
    }
    return 0;
}

static PyObject *read_boolean(Reader *r) {
    if (r->pos >= r->len) {
        return truncated();
    }
    unsigned char byte = r->data[r->pos];
    if (byte > 1) {
        PyErr_Format(PyExc_ValueError, "boolean byte %d at %zd", byte, r->pos);
        return NULL;
    }
    r->pos++;
    return PyBool_FromLong(byte);
}

/* A little-endian IEEE 754 float (width 4) or double (width 8). */
static PyObject *read_float(Reader *r, int width) {
    if (r->len - r->pos < width) {
        return truncated();
    }
    const char *at = (const char *)r->data + r->pos;
    double number = width == 8 ? PyFloat_Unpack8(at, 1) : PyFloat_Unpack4(at, 1);
    r->pos += width;
    return number == -1.0 && PyErr_Occurred() ? NULL : PyFloat_FromDouble(number);
}

static long arg_long(PyObject *node, Py_ssize_t index) {
    return PyLong_AsLong(PyList_GET_ITEM(node, index));
}

static PyObject *read_instant(Reader *r) {
    int64_t millis;
    if (read_long(r, &millis) < 0) {
        return NULL;
    }
    int64_t days = millis / 86400000, rest = millis % 86400000;
    if (rest < 0) {
        rest += 86400000;
        days -= 1;
    }
    if (days > 999999999 || days < -999999999) {
        PyErr_SetString(PyExc_OverflowError, "date value out of range");
        return NULL;
    }
    PyObject *delta = PyDelta_FromDSU((int)days, (int)(rest / 1000), (int)(rest % 1000) * 1000);
    if (delta == NULL) {
        return NULL;
    }
    PyObject *moment = PyNumber_Add(EPOCH, delta);
    Py_DECREF(delta);
    return moment;
}

static PyObject *read_items(PyObject *item, Reader *r, int keyed) {
    PyObject *items = keyed ? PyDict_New() : PyList_New(0);
    int64_t count;
    if (items == NULL) {
        return NULL;
    }
    if (read_count(r, &count) < 0) {
        goto fail;
    }
    while (count) {
        for (int64_t i = 0; i < count; i++) {
            PyObject *key = NULL;
            if (keyed && (key = read_string(r)) == NULL) {
                goto fail;
            }
            PyObject *each = read_node(item, r);
            if (each == NULL) {
                Py_XDECREF(key);
                goto fail;
            }
            int failed = keyed ? PyDict_SetItem(items, key, each) : PyList_Append(items, each);
            Py_XDECREF(key);
            Py_DECREF(each);
            if (failed < 0) {
                goto fail;
            }
        }
        if (read_count(r, &count) < 0) {
            goto fail;
        }
    }
    return items;
fail:
    Py_DECREF(items);
    return NULL;
}

static PyObject *read_value(PyObject *node, Reader *r) {
    if (r->pos >= r->len) {
        return truncated();
    }
    long kind = r->data[r->pos++];
    if (kind == arg_long(node, V_STRING)) {
        return read_string(r);
    }
    if (kind == arg_long(node, V_LONG)) {
        int64_t number;
        return read_long(r, &number) < 0 ? NULL : PyLong_FromLongLong(number);
    }
    if (kind == arg_long(node, V_NULL)) {
        Py_RETURN_NONE;
    }
    if (kind == arg_long(node, V_BOOLEAN)) {
        return read_boolean(r);
    }
    if (kind == arg_long(node, V_DOUBLE)) {
        return read_float(r, 8);
    }
    if (kind == arg_long(node, V_DECIMAL)) {
        PyObject *digits = read_string(r);
        if (digits == NULL) {
            return NULL;
        }
        PyObject *amount = PyObject_CallOneArg(PyList_GET_ITEM(node, V_TYPE), digits);
        Py_DECREF(digits);
        return amount;
    }
    if (kind == arg_long(node, V_LIST) || kind == arg_long(node, V_OBJECT)) {
        if (Py_EnterRecursiveCall(" while decoding a nested Avro value")) {
            return NULL;
        }
        PyObject *nested = read_items(node, r, kind == arg_long(node, V_OBJECT));
        Py_LeaveRecursiveCall();
        return nested;
    }
    PyErr_Format(PyExc_ValueError, "Value branch tag %ld at byte %zd", kind, r->pos - 1);
    return NULL;
}

/* ---- skipping: the same walk, nothing built ----------------------------------------- */

static int skip_node(PyObject *node, Reader *r);

static int skip_bytes(Reader *r, Py_ssize_t size) {
    if (r->len - r->pos < size) {
        truncated();
        return -1;
    }
    r->pos += size;
    return 0;
}

static int skip_span(Reader *r) {
    const unsigned char *start;
    Py_ssize_t size;
    return read_span(r, &start, &size);
}

static int skip_long(Reader *r) {
    int64_t number;
    return read_long(r, &number);
}

static int skip_items(PyObject *item, Reader *r, int keyed, int (*skip)(PyObject *, Reader *)) {
    int64_t count;
    if (Py_EnterRecursiveCall(" while skipping a nested Avro container")) {
        return -1;
    }
    int failed = read_count(r, &count) < 0;
    while (!failed && count) {
        for (int64_t i = 0; i < count && !failed; i++) {
            failed = (keyed && skip_span(r) < 0) || skip(item, r) < 0;
        }
        failed = failed || read_count(r, &count) < 0;
    }
    Py_LeaveRecursiveCall();
    return failed ? -1 : 0;
}

static int skip_value(PyObject *node, Reader *r) {
    if (r->pos >= r->len) {
        truncated();
        return -1;
    }
    long kind = r->data[r->pos++];
    if (kind == arg_long(node, V_STRING) || kind == arg_long(node, V_DECIMAL)) {
        return skip_span(r);
    }
    if (kind == arg_long(node, V_LONG)) {
        return skip_long(r);
    }
    if (kind == arg_long(node, V_NULL)) {
        return 0;
    }
    if (kind == arg_long(node, V_BOOLEAN)) {
        PyObject *flag = read_boolean(r);
        Py_XDECREF(flag);
        return flag == NULL ? -1 : 0;
    }
    if (kind == arg_long(node, V_DOUBLE)) {
        return skip_bytes(r, 8);
    }
    if (kind == arg_long(node, V_LIST) || kind == arg_long(node, V_OBJECT)) {
        return skip_items(node, r, kind == arg_long(node, V_OBJECT), skip_value);
    }
    PyErr_Format(PyExc_ValueError, "Value branch tag %ld at byte %zd", kind, r->pos - 1);
    return -1;
}

static int skip_node(PyObject *node, Reader *r) {
    switch (arg_long(node, 0)) {
    case OP_STRING:
    case OP_UUID:
    case OP_BYTES:
    case OP_DECIMAL:
        return skip_span(r);
    case OP_LONG:
    case OP_INT:
    case OP_INSTANT:
    case OP_ENUM:
        return skip_long(r);
    case OP_UNION: {
        if (r->pos >= r->len) {
            truncated();
            return -1;
        }
        long tag = r->data[r->pos], null_tag = arg_long(node, 1) << 1;
        if (tag == null_tag) {
            r->pos++;
            return 0;
        }
        if (tag == ((1 - arg_long(node, 1)) << 1)) {
            r->pos++;
            return skip_node(PyList_GET_ITEM(node, 2), r);
        }
        PyErr_Format(PyExc_ValueError, "union branch tag %ld at byte %zd", tag, r->pos);
        return -1;
    }
    case OP_RECORD: {
        PyObject *fields = PyList_GET_ITEM(node, 1);
        if (Py_EnterRecursiveCall(" while skipping a nested Avro record")) {
            return -1;
        }
        int failed = 0;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(fields) && !failed; i++) {
            failed = skip_node(PyTuple_GET_ITEM(PyList_GET_ITEM(fields, i), 1), r) < 0;
        }
        Py_LeaveRecursiveCall();
        return failed ? -1 : 0;
    }
    case OP_VALUE:
        return skip_value(node, r);
    case OP_MAP:
    case OP_ARRAY:
        return skip_items(PyList_GET_ITEM(node, 1), r, arg_long(node, 0) == OP_MAP, skip_node);
    case OP_NULL:
        return 0;
    case OP_BOOLEAN: {
        PyObject *flag = read_boolean(r);
        Py_XDECREF(flag);
        return flag == NULL ? -1 : 0;
    }
    case OP_FLOAT:
        return skip_bytes(r, 4);
    case OP_DOUBLE:
        return skip_bytes(r, 8);
    case OP_FIXED:
        return skip_bytes(r, arg_long(node, 1));
    case OP_SKIP:
        return skip_node(PyList_GET_ITEM(node, 1), r);
    default:
        PyErr_Format(PyExc_SystemError, "unknown Avro program opcode %ld", arg_long(node, 0));
        return -1;
    }
}

static PyObject *read_record(PyObject *fields, Reader *r) {
    Py_ssize_t size = PyList_GET_SIZE(fields);
    PyObject *record = _PyDict_NewPresized(size);
    if (record == NULL) {
        return NULL;
    }
    if (Py_EnterRecursiveCall(" while decoding a nested Avro record")) {
        Py_DECREF(record);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < size; i++) {
        PyObject *field = PyList_GET_ITEM(fields, i); /* (name, node) */
        PyObject *node = PyTuple_GET_ITEM(field, 1);
        if (arg_long(node, 0) == OP_SKIP) {
            if (skip_node(PyList_GET_ITEM(node, 1), r) < 0) {
                Py_DECREF(record);
                Py_LeaveRecursiveCall();
                return NULL;
            }
            continue;
        }
        PyObject *value = read_node(node, r);
        if (value == NULL || PyDict_SetItem(record, PyTuple_GET_ITEM(field, 0), value) < 0) {
            Py_XDECREF(value);
            Py_DECREF(record);
            Py_LeaveRecursiveCall();
            return NULL;
        }
        Py_DECREF(value);
    }
    Py_LeaveRecursiveCall();
    return record;
}

static PyObject *read_node(PyObject *node, Reader *r) {
    switch (arg_long(node, 0)) {
    case OP_STRING:
    case OP_UUID:
        return read_string(r);
    case OP_LONG:
    case OP_INT: {
        int64_t number;
        return read_long(r, &number) < 0 ? NULL : PyLong_FromLongLong(number);
    }
    case OP_UNION: {
        if (r->pos >= r->len) {
            return truncated();
        }
        long tag = r->data[r->pos], null_tag = arg_long(node, 1) << 1;
        if (tag == null_tag) {
            r->pos++;
            Py_RETURN_NONE;
        }
        if (tag == ((1 - arg_long(node, 1)) << 1)) {
            r->pos++;
            return read_node(PyList_GET_ITEM(node, 2), r);
        }
        PyErr_Format(PyExc_ValueError, "union branch tag %ld at byte %zd", tag, r->pos);
        return NULL;
    }
    case OP_RECORD:
        return read_record(PyList_GET_ITEM(node, 1), r);
    case OP_VALUE:
        return read_value(node, r);
    case OP_INSTANT:
        return read_instant(r);
    case OP_MAP:
    case OP_ARRAY: {
        if (Py_EnterRecursiveCall(" while decoding a nested Avro container")) {
            return NULL;
        }
        PyObject *items = read_items(PyList_GET_ITEM(node, 1), r, arg_long(node, 0) == OP_MAP);
        Py_LeaveRecursiveCall();
        return items;
    }
    case OP_NULL:
        Py_RETURN_NONE;
    case OP_BOOLEAN:
        return read_boolean(r);
    case OP_FLOAT:
        return read_float(r, 4);
    case OP_DOUBLE:
        return read_float(r, 8);
    case OP_BYTES: {
        const unsigned char *start;
        Py_ssize_t size;
        if (read_span(r, &start, &size) < 0) {
            return NULL;
        }
        return PyBytes_FromStringAndSize((const char *)start, size);
    }
    case OP_DECIMAL: { /* [OP_DECIMAL, bytes -> Decimal, Decimal -> bytes, precision, scale, Decimal] */
        const unsigned char *start;
        Py_ssize_t size;
        if (read_span(r, &start, &size) < 0) {
            return NULL;
        }
        if (size >= 1 && size <= 8) { /* fits 64 bits: "<unscaled>E-<scale>" is the same Decimal */
            int64_t unscaled = (start[0] & 0x80) ? -1 : 0;
            for (Py_ssize_t i = 0; i < size; i++) {
                unscaled = (int64_t)(((uint64_t)unscaled << 8) | start[i]);
            }
            unsigned long long magnitude = unscaled < 0 ? (unsigned long long)(-(unscaled + 1)) + 1ULL
                                                        : (unsigned long long)unscaled;
            char text[48];
            int digits = snprintf(text, sizeof text, "%llu", magnitude);
            if (digits > 0 && digits <= arg_long(node, 3)) { /* else the context rounds: Python does it */
                snprintf(text, sizeof text, "%lldE-%ld", (long long)unscaled, arg_long(node, 4));
                PyObject *digits_text = PyUnicode_FromString(text);
                if (digits_text == NULL) {
                    return NULL;
                }
                PyObject *amount = PyObject_CallOneArg(PyList_GET_ITEM(node, 5), digits_text);
                Py_DECREF(digits_text);
                return amount;
            }
        }
        PyObject *raw = PyBytes_FromStringAndSize((const char *)start, size);
        if (raw == NULL) {
            return NULL;
        }
        PyObject *amount = PyObject_CallOneArg(PyList_GET_ITEM(node, 1), raw);
        Py_DECREF(raw);
        return amount;
    }
    case OP_ENUM: { /* [OP_ENUM, symbols] */
        int64_t index;
        PyObject *symbols = PyList_GET_ITEM(node, 1);
        if (read_long(r, &index) < 0) {
            return NULL;
        }
        if (index < 0 || index >= PyList_GET_SIZE(symbols)) {
            PyErr_Format(PyExc_ValueError, "enum index %lld is not one of %zd symbols",
                         (long long)index, PyList_GET_SIZE(symbols));
            return NULL;
        }
        PyObject *symbol = PyList_GET_ITEM(symbols, (Py_ssize_t)index);
        Py_INCREF(symbol);
        return symbol;
    }
    case OP_FIXED: { /* [OP_FIXED, size] */
        long size = arg_long(node, 1);
        if (r->len - r->pos < size) {
            PyErr_Format(PyExc_ValueError, "fixed(%ld) at byte %zd runs past the data", size,
                         r->pos);
            return NULL;
        }
        PyObject *fixed = PyBytes_FromStringAndSize((const char *)r->data + r->pos, size);
        r->pos += size;
        return fixed;
    }
    default:
        PyErr_Format(PyExc_SystemError, "unknown Avro program opcode %ld", arg_long(node, 0));
        return NULL;
    }
}

static PyObject *decode(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 3 || !PyList_Check(args[0]) || !PyBytes_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "decode(program: list, data: bytes, start: int)");
        return NULL;
    }
    Py_ssize_t start = PyLong_AsSsize_t(args[2]);
    if (start == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Reader r = {(const unsigned char *)PyBytes_AS_STRING(args[1]), PyBytes_GET_SIZE(args[1]), start};
    if (start < 0 || start > r.len) {
        PyErr_Format(PyExc_ValueError, "start %zd is outside the data", start);
        return NULL;
    }
    PyObject *datum = read_node(args[0], &r);
    if (datum != NULL && r.pos != r.len) {
        Py_DECREF(datum);
        PyErr_Format(PyExc_ValueError, "%zd byte(s) follow the record", r.len - r.pos);
        return NULL;
    }
    return datum;
}

/* ---- keeping each key's newest record -------------------------------------------- */

/* The text at `path` (a tuple of field names) in `datum`; NULL (no error set) if absent or
 * not text. Borrowed. */
static PyObject *text_at(PyObject *datum, PyObject *path) {
    PyObject *value = datum;
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(path); k++) {
        if (!PyDict_CheckExact(value)) {
            return NULL;
        }
        value = PyDict_GetItem(value, PyTuple_GET_ITEM(path, k)); /* str keys: never raises */
        if (value == NULL) {
            return NULL;
        }
    }
    return PyUnicode_CheckExact(value) ? value : NULL;
}

/* What newest() keeps by: the spec tuple's items, checked once per call. */
typedef struct {
    PyObject *program, *frame, *paths, *separator, *sequence;
    Py_ssize_t max_bytes;
} Keeping;

/* Keep `payload` in held[key] as (sequence, payload) if its sequence is above the one held:
 * 1 if it was taken (kept or not), 0 if it cannot be taken here, -1 on an error. */
static int take_newest(const Keeping *k, PyObject *payload, PyObject *parts, PyObject *held) {
    if (!PyBytes_CheckExact(payload)) {
        return 0;
    }
    Py_ssize_t frame_size = PyBytes_GET_SIZE(k->frame);
    Reader r = {(const unsigned char *)PyBytes_AS_STRING(payload), PyBytes_GET_SIZE(payload),
                frame_size};
    if (r.len < frame_size || r.len > k->max_bytes ||
        memcmp(r.data, PyBytes_AS_STRING(k->frame), (size_t)frame_size) != 0) {
        return 0;
    }
    PyObject *datum = read_node(k->program, &r);
    if (datum == NULL) { /* bad bytes: the caller's own reading says why */
        if (!PyErr_ExceptionMatches(PyExc_Exception)) {
            return -1;
        }
        PyErr_Clear();
        return 0;
    }
    int taken = 0;
    PyObject *sequence = PyDict_CheckExact(datum) ? PyDict_GetItem(datum, k->sequence) : NULL;
    if (r.pos != r.len || sequence == NULL || !PyLong_CheckExact(sequence)) {
        goto done;
    }
    for (Py_ssize_t n = 0; n < PyTuple_GET_SIZE(k->paths); n++) {
        PyObject *part = text_at(datum, PyTuple_GET_ITEM(k->paths, n));
        if (part == NULL) {
            goto done;
        }
        PyList_SetItem(parts, n, Py_NewRef(part)); /* releases the previous record's part */
    }
    PyObject *key = PyUnicode_Join(k->separator, parts);
    if (key == NULL) {
        taken = -1;
        goto done;
    }
    PyObject *seen = PyDict_GetItemWithError(held, key);
    int newer = 1;
    if (seen == NULL && PyErr_Occurred()) {
        newer = -1;
    } else if (seen != NULL) {
        if (!PyTuple_Check(seen) || PyTuple_GET_SIZE(seen) != 2) {
            PyErr_SetString(PyExc_TypeError, "held values must be (sequence, record) pairs");
            newer = -1;
        } else {
            newer = PyObject_RichCompareBool(PyTuple_GET_ITEM(seen, 0), sequence, Py_LT);
        }
    }
    if (newer > 0) {
        PyObject *pair = PyTuple_Pack(2, sequence, payload);
        newer = pair == NULL ? -1 : PyDict_SetItem(held, key, pair);
        Py_XDECREF(pair);
    }
    Py_DECREF(key);
    taken = newer < 0 ? -1 : 1;
done:
    Py_DECREF(datum);
    return taken;
}

static PyObject *newest(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 4 || !PyTuple_CheckExact(args[0]) || PyTuple_GET_SIZE(args[0]) != 6 ||
        !PyList_CheckExact(args[1]) || !PyDict_CheckExact(args[3])) {
        PyErr_SetString(PyExc_TypeError, "newest(spec: tuple, payloads: list, start: int, held: dict)");
        return NULL;
    }
    PyObject *spec = args[0], *payloads = args[1];
    PyObject *paths = PyTuple_GET_ITEM(spec, 3);
    if (!PyList_Check(PyTuple_GET_ITEM(spec, 0)) || !PyBytes_CheckExact(PyTuple_GET_ITEM(spec, 1)) ||
        !PyLong_CheckExact(PyTuple_GET_ITEM(spec, 2)) || !PyTuple_CheckExact(paths) ||
        !PyUnicode_CheckExact(PyTuple_GET_ITEM(spec, 4)) ||
        !PyUnicode_CheckExact(PyTuple_GET_ITEM(spec, 5))) {
        PyErr_SetString(PyExc_TypeError,
                        "spec: (program: list, frame: bytes, max_bytes: int, key paths: tuple, "
                        "separator: str, sequence field: str)");
        return NULL;
    }
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(paths); k++) {
        PyObject *path = PyTuple_GET_ITEM(paths, k);
        if (!PyTuple_CheckExact(path)) {
            PyErr_SetString(PyExc_TypeError, "each key path is a tuple of field names");
            return NULL;
        }
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(path); j++) {
            if (!PyUnicode_CheckExact(PyTuple_GET_ITEM(path, j))) {
                PyErr_SetString(PyExc_TypeError, "each key path is a tuple of field names");
                return NULL;
            }
        }
    }
    Py_ssize_t start = PyLong_AsSsize_t(args[2]);
    if (start == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (start < 0 || start > PyList_GET_SIZE(payloads)) {
        PyErr_Format(PyExc_ValueError, "start %zd is outside the payloads", start);
        return NULL;
    }
    PyObject *parts = PyList_New(PyTuple_GET_SIZE(paths));
    if (parts == NULL) {
        return NULL;
    }
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(paths); k++) {
        PyList_SET_ITEM(parts, k, Py_NewRef(Py_None));
    }
    Keeping k = {PyTuple_GET_ITEM(spec, 0), PyTuple_GET_ITEM(spec, 1), paths,
                 PyTuple_GET_ITEM(spec, 4), PyTuple_GET_ITEM(spec, 5),
                 PyLong_AsSsize_t(PyTuple_GET_ITEM(spec, 2))};
    if (k.max_bytes == -1 && PyErr_Occurred()) {
        Py_DECREF(parts);
        return NULL;
    }
    Py_ssize_t i = start;
    for (; i < PyList_GET_SIZE(payloads); i++) {
        PyObject *payload = Py_NewRef(PyList_GET_ITEM(payloads, i)); /* held: __lt__ may run */
        int taken = take_newest(&k, payload, parts, args[3]);
        Py_DECREF(payload);
        if (taken < 0) {
            Py_DECREF(parts);
            return NULL;
        }
        if (taken == 0) {
            break;
        }
    }
    Py_DECREF(parts);
    return PyLong_FromSsize_t(i);
}

/* ---- encoding ---------------------------------------------------------------------- */

typedef struct {
    char *data;
    Py_ssize_t len;
    Py_ssize_t cap;
    char inline_[512];
} Writer;

static PyObject *UUID_TYPE; /* uuid.UUID, set by configure() */
static PyObject *INT_NAME;  /* "int" */

static int write_node(PyObject *node, PyObject *datum, Writer *w);

static int reserve(Writer *w, Py_ssize_t more) {
    if (w->len + more <= w->cap) {
        return 0;
    }
    Py_ssize_t cap = w->cap * 2 > w->len + more ? w->cap * 2 : w->len + more;
    char *grown = w->data == w->inline_ ? PyMem_Malloc(cap) : PyMem_Realloc(w->data, cap);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (w->data == w->inline_) {
        memcpy(grown, w->inline_, w->len);
    }
    w->data = grown;
    w->cap = cap;
    return 0;
}

static int put_byte(Writer *w, unsigned char byte) {
    if (reserve(w, 1) < 0) {
        return -1;
    }
    w->data[w->len++] = (char)byte;
    return 0;
}

static int put_raw(Writer *w, const char *data, Py_ssize_t size) {
    if (reserve(w, size) < 0) {
        return -1;
    }
    memcpy(w->data + w->len, data, size);
    w->len += size;
    return 0;
}

static int put_long(Writer *w, int64_t number) {
    uint64_t zigzag = ((uint64_t)number << 1) ^ (uint64_t)(number >> 63);
    if (reserve(w, 10) < 0) {
        return -1;
    }
    while (zigzag > 0x7F) {
        w->data[w->len++] = (char)((zigzag & 0x7F) | 0x80);
        zigzag >>= 7;
    }
    w->data[w->len++] = (char)zigzag;
    return 0;
}

/* A Python int as a long (OverflowError past 64 bits, TypeError for what is no int). */
static int as_long(PyObject *datum, int64_t *out, int64_t low, int64_t high, const char *kind) {
    if (!PyLong_Check(datum)) { /* as the writer's `low <= number <= high`, then `number << 1` */
        PyObject *lowest = PyLong_FromLongLong(low), *highest = PyLong_FromLongLong(high);
        int inside = lowest == NULL || highest == NULL ? -1 : PyObject_RichCompareBool(lowest, datum, Py_LE);
        if (inside == 1) {
            inside = PyObject_RichCompareBool(datum, highest, Py_LE);
        }
        Py_XDECREF(lowest);
        Py_XDECREF(highest);
        if (inside == 1) {
            PyErr_Format(PyExc_TypeError, "unsupported operand type(s) for <<: '%.100s' and 'int'",
                         Py_TYPE(datum)->tp_name);
        } else if (inside == 0) {
            PyErr_Format(PyExc_OverflowError, "%S does not fit in %s", datum, kind);
        }
        return -1;
    }
    int overflow;
    long long number = PyLong_AsLongLongAndOverflow(datum, &overflow);
    if (number == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (overflow || number < low || number > high) {
        PyErr_Format(PyExc_OverflowError, "%S does not fit in %s", datum, kind);
        return -1;
    }
    *out = number;
    return 0;
}

static int put_string(Writer *w, PyObject *text) {
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "AttributeError: '%.100s' object has no attribute 'encode'",
                     Py_TYPE(text)->tp_name);
        return -1;
    }
    Py_ssize_t size;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &size);
    if (utf8 == NULL) {
        return -1;
    }
    return put_long(w, size) < 0 ? -1 : put_raw(w, utf8, size);
}

static int put_bytes(Writer *w, PyObject *datum) {
    Py_buffer view;
    if (PyObject_GetBuffer(datum, &view, PyBUF_SIMPLE) < 0) {
        return -1;
    }
    int failed = put_long(w, view.len) < 0 || put_raw(w, view.buf, view.len) < 0;
    PyBuffer_Release(&view);
    return failed ? -1 : 0;
}

static int put_double(Writer *w, PyObject *datum, int width) {
    double number = PyFloat_AsDouble(datum); /* what struct.pack takes, as the writer does */
    if (number == -1.0 && PyErr_Occurred()) {
        PyErr_SetString(PyExc_TypeError, "required argument is not a float");
        return -1;
    }
    if (reserve(w, width) < 0) {
        return -1;
    }
    int failed = width == 8 ? PyFloat_Pack8(number, w->data + w->len, 1)
                            : PyFloat_Pack4(number, w->data + w->len, 1);
    w->len += width;
    return failed;
}

static int put_uuid(Writer *w, PyObject *ident) {
    if (UUID_TYPE == NULL || Py_TYPE(ident) != (PyTypeObject *)UUID_TYPE) {
        if (PyUnicode_Check(ident)) {
            return put_string(w, ident);
        }
        PyObject *text = PyObject_Str(ident);
        if (text == NULL) {
            return -1;
        }
        int failed = put_string(w, text);
        Py_DECREF(text);
        return failed;
    }
    unsigned char raw[16];
    PyObject *number = PyObject_GetAttr(ident, INT_NAME);
    if (number == NULL) {
        return -1;
    }
    int failed = _PyLong_AsByteArray((PyLongObject *)number, raw, 16, 0, 0);
    Py_DECREF(number);
    if (failed < 0) {
        return -1;
    }
    static const char hex[] = "0123456789abcdef";
    char text[36];
    for (int i = 0, at = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            text[at++] = '-';
        }
        text[at++] = hex[raw[i] >> 4];
        text[at++] = hex[raw[i] & 0xF];
    }
    return put_long(w, 36) < 0 ? -1 : put_raw(w, text, 36);
}

static int put_instant(Writer *w, PyObject *moment) {
    if (PyLong_Check(moment)) {
        int64_t millis;
        return as_long(moment, &millis, INT64_MIN, INT64_MAX, "a long") < 0 ? -1
                                                                             : put_long(w, millis);
    }
    PyObject *delta = PyNumber_Subtract(moment, EPOCH);
    if (delta == NULL) {
        return -1;
    }
    if (!PyDelta_Check(delta)) {
        Py_DECREF(delta);
        PyErr_SetString(PyExc_TypeError, "an instant must be a datetime or epoch milliseconds");
        return -1;
    }
    int64_t days = PyDateTime_DELTA_GET_DAYS(delta);
    int64_t seconds = PyDateTime_DELTA_GET_SECONDS(delta);
    int64_t micros = PyDateTime_DELTA_GET_MICROSECONDS(delta);
    Py_DECREF(delta);
    return put_long(w, (days * 86400 + seconds) * 1000 + micros / 1000);
}

static int put_items(PyObject *item, PyObject *items, Writer *w) {
    PyObject *fast = PySequence_Fast(items, "an array must be a sequence");
    if (fast == NULL) {
        return -1;
    }
    Py_ssize_t size = PySequence_Fast_GET_SIZE(fast);
    int failed = 0;
    if (size > 0) {
        failed = put_long(w, size);
        for (Py_ssize_t i = 0; !failed && i < size; i++) {
            if (i >= PySequence_Fast_GET_SIZE(fast)) {
                PyErr_SetString(PyExc_RuntimeError, "the array changed size while it was written");
                failed = -1;
                break;
            }
            PyObject *each = PySequence_Fast_GET_ITEM(fast, i);
            Py_INCREF(each); /* writing it may run Python code that changes the list */
            failed = write_node(item, each, w);
            Py_DECREF(each);
        }
    }
    Py_DECREF(fast);
    return failed ? -1 : put_byte(w, 0);
}

static int put_entries(PyObject *value, PyObject *entries, Writer *w) {
    if (!PyDict_Check(entries)) {
        PyErr_Format(PyExc_TypeError, "AttributeError: '%.100s' object has no attribute 'items'",
                     Py_TYPE(entries)->tp_name);
        return -1;
    }
    Py_ssize_t size = PyDict_GET_SIZE(entries), at = 0, written = 0;
    PyObject *key, *each;
    if (size > 0) {
        if (put_long(w, size) < 0) {
            return -1;
        }
        while (written < size && PyDict_Next(entries, &at, &key, &each)) {
            written++;
            Py_INCREF(key); /* writing may run Python code that changes the dict */
            Py_INCREF(each);
            int failed = put_string(w, key) < 0 || write_node(value, each, w) < 0;
            Py_DECREF(key);
            Py_DECREF(each);
            if (failed) {
                return -1;
            }
        }
        if (written != size || PyDict_GET_SIZE(entries) != size) {
            PyErr_SetString(PyExc_RuntimeError, "the map changed size while it was written");
            return -1;
        }
    }
    return put_byte(w, 0);
}

static int put_value(PyObject *node, PyObject *value, Writer *w) {
    PyTypeObject *kind = Py_TYPE(value);
    if (kind == &PyUnicode_Type) {
        return put_byte(w, (unsigned char)arg_long(node, V_STRING)) < 0 ? -1 : put_string(w, value);
    }
    if (value == Py_None) {
        return put_byte(w, (unsigned char)arg_long(node, V_NULL));
    }
    if (kind == &PyBool_Type) {
        return put_byte(w, (unsigned char)arg_long(node, V_BOOLEAN)) < 0 ? -1
                                                                          : put_byte(w, value == Py_True);
    }
    if (kind == &PyLong_Type) {
        int64_t number;
        if (as_long(value, &number, INT64_MIN, INT64_MAX, "a long") < 0) {
            return -1;
        }
        return put_byte(w, (unsigned char)arg_long(node, V_LONG)) < 0 ? -1 : put_long(w, number);
    }
    if (kind == &PyFloat_Type) {
        return put_byte(w, (unsigned char)arg_long(node, V_DOUBLE)) < 0 ? -1
                                                                         : put_double(w, value, 8);
    }
    if ((PyObject *)kind == PyList_GET_ITEM(node, V_TYPE)) { /* Decimal: its text */
        PyObject *text = PyObject_Str(value);
        if (text == NULL) {
            return -1;
        }
        int failed = put_byte(w, (unsigned char)arg_long(node, V_DECIMAL)) < 0 || put_string(w, text) < 0;
        Py_DECREF(text);
        return failed ? -1 : 0;
    }
    if (kind == &PyList_Type || kind == &PyDict_Type) {
        int keyed = kind == &PyDict_Type;
        if (put_byte(w, (unsigned char)arg_long(node, keyed ? V_OBJECT : V_LIST)) < 0) {
            return -1;
        }
        if (Py_EnterRecursiveCall(" while encoding a nested Avro value")) {
            return -1;
        }
        int failed = keyed ? put_entries(node, value, w) : put_items(node, value, w);
        Py_LeaveRecursiveCall();
        return failed;
    }
    PyErr_Format(PyExc_TypeError, "%.100s is not a field value", kind->tp_name);
    return -1;
}

static int put_record(PyObject *fields, PyObject *record, Writer *w) {
    PyObject *data = record;
    if (PyDict_CheckExact(record)) {
        Py_INCREF(data);
    } else if ((data = PyObject_GenericGetDict(record, NULL)) == NULL) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "AttributeError: '%.100s' object has no attribute '__dict__'",
                     Py_TYPE(record)->tp_name);
        return -1;
    }
    if (Py_EnterRecursiveCall(" while encoding a nested Avro record")) {
        Py_DECREF(data);
        return -1;
    }
    int failed = 0;
    Py_ssize_t size = PyList_GET_SIZE(fields);
    for (Py_ssize_t i = 0; !failed && i < size; i++) {
        PyObject *field = PyList_GET_ITEM(fields, i); /* (name, node) */
        PyObject *value = PyDict_GetItemWithError(data, PyTuple_GET_ITEM(field, 0));
        if (value == NULL) {
            if (!PyErr_Occurred()) {
                PyErr_SetObject(PyExc_KeyError, PyTuple_GET_ITEM(field, 0));
            }
            failed = -1;
        } else {
            Py_INCREF(value); /* writing it may run Python code that changes the record */
            failed = write_node(PyTuple_GET_ITEM(field, 1), value, w);
            Py_DECREF(value);
        }
    }
    Py_LeaveRecursiveCall();
    Py_DECREF(data);
    return failed ? -1 : 0;
}

static int write_node(PyObject *node, PyObject *datum, Writer *w) {
    int64_t number;
    switch (arg_long(node, 0)) {
    case OP_STRING:
        return put_string(w, datum);
    case OP_UUID:
        return put_uuid(w, datum);
    case OP_LONG:
        return as_long(datum, &number, INT64_MIN, INT64_MAX, "a long") < 0 ? -1 : put_long(w, number);
    case OP_INT:
        return as_long(datum, &number, INT32_MIN, INT32_MAX, "an int") < 0 ? -1 : put_long(w, number);
    case OP_UNION: {
        long null_index = arg_long(node, 1);
        if (datum == Py_None) {
            return put_byte(w, (unsigned char)(null_index << 1));
        }
        if (put_byte(w, (unsigned char)((1 - null_index) << 1)) < 0) {
            return -1;
        }
        return write_node(PyList_GET_ITEM(node, 2), datum, w);
    }
    case OP_RECORD:
        return put_record(PyList_GET_ITEM(node, 1), datum, w);
    case OP_VALUE:
        return put_value(node, datum, w);
    case OP_INSTANT:
        return put_instant(w, datum);
    case OP_ARRAY:
        return put_items(PyList_GET_ITEM(node, 1), datum, w);
    case OP_MAP:
        return put_entries(PyList_GET_ITEM(node, 1), datum, w);
    case OP_NULL:
        return 0;
    case OP_BOOLEAN: {
        int flag = PyObject_IsTrue(datum);
        return flag < 0 ? -1 : put_byte(w, (unsigned char)flag);
    }
    case OP_FLOAT:
        return put_double(w, datum, 4);
    case OP_DOUBLE:
        return put_double(w, datum, 8);
    case OP_BYTES:
        return put_bytes(w, datum);
    case OP_DECIMAL: {
        PyObject *raw = PyObject_CallOneArg(PyList_GET_ITEM(node, 2), datum);
        if (raw == NULL) {
            return -1;
        }
        int failed = put_bytes(w, raw);
        Py_DECREF(raw);
        return failed;
    }
    case OP_ENUM: { /* [OP_ENUM, symbols, {symbol: index}] */
        PyObject *index = PyDict_GetItemWithError(PyList_GET_ITEM(node, 2), datum);
        if (index == NULL) {
            if (!PyErr_Occurred()) {
                PyErr_Format(PyExc_ValueError, "%R is not one of %R", datum, PyList_GET_ITEM(node, 1));
            }
            return -1;
        }
        return put_long(w, PyLong_AsLongLong(index));
    }
    case OP_FIXED: {
        Py_buffer view;
        if (PyObject_GetBuffer(datum, &view, PyBUF_SIMPLE) < 0) {
            return -1;
        }
        long size = arg_long(node, 1);
        int failed = 0;
        if (view.len != size) {
            PyErr_Format(PyExc_ValueError, "fixed(%ld) given %zd bytes", size, view.len);
            failed = -1;
        } else {
            failed = put_raw(w, view.buf, view.len);
        }
        PyBuffer_Release(&view);
        return failed;
    }
    default:
        PyErr_Format(PyExc_SystemError, "unknown Avro program opcode %ld", arg_long(node, 0));
        return -1;
    }
}

static PyObject *encode(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 2 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "encode(program: list, record)");
        return NULL;
    }
    Writer w;
    w.data = w.inline_;
    w.len = 0;
    w.cap = sizeof(w.inline_);
    PyObject *out = NULL;
    if (write_node(args[0], args[1], &w) == 0) {
        out = PyBytes_FromStringAndSize(w.data, w.len);
    }
    if (w.data != w.inline_) {
        PyMem_Free(w.data);
    }
    return out;
}

static PyObject *configure(PyObject *module, PyObject *uuid_type) {
    (void)module;
    Py_XSETREF(UUID_TYPE, Py_NewRef(uuid_type));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"decode", (PyCFunction)(void (*)(void))decode, METH_FASTCALL,
     "decode(program, data, start): the datum the program reads from data[start:], to its end."},
    {"encode", (PyCFunction)(void (*)(void))encode, METH_FASTCALL,
     "encode(program, record): the Avro bytes of record (a pydantic record or a dict)."},
    {"newest", (PyCFunction)(void (*)(void))newest, METH_FASTCALL,
     "newest(spec, payloads, start, held): keep each key's newest payload; where it stopped."},
    {"configure", configure, METH_O, "configure(uuid.UUID): the UUID class written from its int."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_avro_native", "Avro decoding driven by a compiled schema program.",
    -1, methods,
};

PyMODINIT_FUNC PyInit__avro_native(void) {
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) {
        return NULL;
    }
    EPOCH = PyDateTimeAPI->DateTime_FromDateAndTime(1970, 1, 1, 0, 0, 0, 0,
                                                     PyDateTime_TimeZone_UTC,
                                                     PyDateTimeAPI->DateTimeType);
    if (EPOCH == NULL) {
        return NULL;
    }
    INT_NAME = PyUnicode_InternFromString("int");
    if (INT_NAME == NULL) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL || PyModule_AddStringConstant(m, "SOURCE_SHA256", SOURCE_SHA256) < 0) {
        Py_XDECREF(m);
        return NULL;
    }
    return m;
}
